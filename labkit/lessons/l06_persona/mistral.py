"""Mistral's side of the lesson: the rules its fine-tuning files follow, and a fine-tuning job.

The job talks to Mistral's REST API through the course's one HTTP client
(:class:`labkit.core.http_client.HttpClient`, with retries): the ``mistralai`` package of version 2
and later no longer ships a fine-tuning-jobs API, and the REST calls are the documented interface.
The same base URL serves chat completions, which is how ``MistralTeacher`` and a fine-tuned model
are called.

>>> MISTRAL_RULES
{'formats': ('messages',), 'blank_lines_ok': False}
"""

from __future__ import annotations

import time
from pathlib import Path

from labkit.core.http_client import ApiError, HttpClient
from labkit.lessons.l06_persona.hyperparameters import PersonaHyperparameters

MISTRAL_API_URL = "https://api.mistral.ai/v1"
MISTRAL_KEY_ENV = "MISTRAL_API_KEY"
# Keyword arguments for labkit.core.data.validate: Mistral takes only the messages format, and
# its API rejects a file with a blank line in it.
MISTRAL_RULES = {"formats": ("messages",), "blank_lines_ok": False}
JOB_DONE = {"SUCCESS", "FAILED", "FAILED_VALIDATION", "CANCELLED"}


def run_mistral_job(train_path: str | Path, validation_path: str | Path, hp: PersonaHyperparameters,
                    model: str = "open-mistral-7b", suffix: str = "persona",
                    api_key_env: str = MISTRAL_KEY_ENV, base_url: str = MISTRAL_API_URL,
                    poll_seconds: float = 30.0, timeout_seconds: float = 3 * 3600,
                    backoff: float = 1.0) -> str | None:
    """Upload the files, create a fine-tuning job, poll it, and return the fine-tuned model id.

    Without the key in ``api_key_env`` it does nothing and says so: the course runs offline.
    The job costs money on your Mistral account.
    """
    api = HttpClient(base_url, api_key_env, backoff=backoff)
    try:
        api.require_key()
    except ApiError:
        print(f"{api_key_env} is not set: skipping the Mistral fine-tuning job. "
              f"Set it in your shell (never in the notebook) to run it.")
        return None
    file_ids = []
    for path in map(Path, (train_path, validation_path)):
        uploaded = api.request("POST", "files", files={"file": (path.name, path.read_bytes())},
                               data={"purpose": "fine-tune"})
        file_ids.append(uploaded["id"])
        print(f"uploaded {path.name}: file id {uploaded['id']}")
    job = api.request("POST", "fine_tuning/jobs", json={
        "model": model, "suffix": suffix, "auto_start": True,
        "training_files": [{"file_id": file_ids[0], "weight": 1}],
        "validation_files": [file_ids[1]],
        "hyperparameters": {"training_steps": hp.max_steps, "learning_rate": hp.learning_rate},
    })
    print(f"created job {job['id']}: {job.get('status')}")
    deadline = time.monotonic() + timeout_seconds
    while job.get("status") not in JOB_DONE:
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job['id']} still {job.get('status')} after {timeout_seconds:.0f} s; "
                               f"it keeps running at Mistral: look it up in the console, or poll again later")
        time.sleep(poll_seconds)
        job = api.request("GET", f"fine_tuning/jobs/{job['id']}")
        print(f"job {job['id']}: {job.get('status')}")
    if job["status"] != "SUCCESS":
        raise ApiError(f"job {job['id']} ended {job['status']}; the Mistral console shows why "
                       f"(FAILED_VALIDATION: a file broke the format rules)")
    return job["fine_tuned_model"]
