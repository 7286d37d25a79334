"""Exports of the persona dataset: Mistral JSONL files, a Hugging Face dataset, an Axolotl config,
and a Mistral fine-tuning job.

One ``PersonaHyperparameters`` feeds all of them, so the managed run, the Axolotl run and the
notebook's LoRA run use the same data and the same numbers.

The job code talks to Mistral's REST API with httpx: the ``mistralai`` client of version 2 and
later no longer ships a fine-tuning-jobs API, and the REST calls are the documented interface.

>>> cfg = axolotl_config("train.jsonl", "validation.jsonl", "data/tiny", PersonaHyperparameters())
>>> cfg["datasets"][0]["path"], cfg["learning_rate"], cfg["max_steps"]
('train.jsonl', 0.005, 120)
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labkit.core.data.validate import raise_for_problems
from labkit.lessons.l06_persona.dataset import Example, validate_jsonl, write_jsonl

MISTRAL_API = "https://api.mistral.ai"
MISTRAL_DONE = {"SUCCESS", "FAILED", "FAILED_VALIDATION", "CANCELLED"}


@dataclass
class PersonaHyperparameters:
    """The fine-tuning knobs every export shares. Defaults suit the tiny model with LoRA."""

    learning_rate: float = 5e-3  # a 3M-parameter model; Mistral's API default for 7B models is 1e-4
    max_steps: int = 120  # optimizer steps (Mistral's API calls them training_steps)
    micro_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    # Trained in full next to the adapters. The novella's words are mostly tokens the tiny model
    # almost never saw in pre-training, and LoRA alone cannot move their embeddings.
    modules_to_save: list[str] = field(default_factory=lambda: ["embed_tokens"])
    sequence_len: int = 256  # the tiny model's context
    warmup_ratio: float = 0.05
    seed: int = 0

    def lora_config(self):
        """The same settings as a peft ``LoraConfig`` for the notebook's run."""
        from labkit.methods.lora import LoraSettings

        return LoraSettings(r=self.lora_r, lora_alpha=self.lora_alpha, target_modules=tuple(self.target_modules),
                            lora_dropout=self.lora_dropout, train_embeddings="embed_tokens" in self.modules_to_save
                            ).config()


def export_mistral_jsonl(train: list[Example], validation: list[Example], directory: str | Path,
                         tokenizer=None, max_tokens: int | None = None) -> tuple[Path, Path]:
    """Write ``train.jsonl`` and ``validation.jsonl`` and validate both; raise listing every bad line."""
    directory = Path(directory)
    paths = write_jsonl(train, directory / "train.jsonl"), write_jsonl(validation, directory / "validation.jsonl")
    raise_for_problems([e for p in paths for e in validate_jsonl(p, tokenizer, max_tokens)])
    return paths


def to_hf_dataset(train: list[Example], validation: list[Example]):
    """A ``datasets.DatasetDict`` with ``train`` and ``validation``: ``messages`` plus ``strategy``.

    >>> to_hf_dataset([Example.pair("q", "a", "dialogue")], [])["train"].column_names
    ['messages', 'strategy', 'source']
    """
    from datasets import Dataset, DatasetDict

    def table(examples: list[Example]) -> Dataset:
        return Dataset.from_dict({"messages": [e.messages for e in examples],
                                  "strategy": [e.strategy for e in examples],
                                  "source": [e.source for e in examples]})

    return DatasetDict({"train": table(train), "validation": table(validation)})


def axolotl_config(train_path: str | Path, validation_path: str | Path, base_model: str,
                   hp: PersonaHyperparameters, output_dir: str = "outputs/persona-lora") -> dict:
    """An Axolotl LoRA config for the same data and hyperparameters (``axolotl train config.yaml``)."""
    def dataset(path) -> dict:
        return {"path": str(path), "ds_type": "json", "split": "train", "type": "chat_template",
                "field_messages": "messages",
                "message_property_mappings": {"role": "role", "content": "content"},
                "roles_to_train": ["assistant"]}

    return {
        "base_model": base_model,
        "chat_template": "tokenizer_default",  # the model's own template, as in the notebook
        "datasets": [dataset(train_path)],
        "test_datasets": [dataset(validation_path)],
        "val_set_size": 0,  # the validation file is given, not carved out
        "output_dir": output_dir,
        "sequence_len": hp.sequence_len,
        "sample_packing": False,
        "adapter": "lora",
        "lora_r": hp.lora_r,
        "lora_alpha": hp.lora_alpha,
        "lora_dropout": hp.lora_dropout,
        "lora_target_modules": list(hp.target_modules),
        "lora_modules_to_save": list(hp.modules_to_save),
        "micro_batch_size": hp.micro_batch_size,
        "gradient_accumulation_steps": hp.gradient_accumulation_steps,
        "max_steps": hp.max_steps,
        "learning_rate": hp.learning_rate,
        "lr_scheduler": "cosine",
        "warmup_ratio": hp.warmup_ratio,
        "optimizer": "adamw_torch",
        "seed": hp.seed,
    }


def write_axolotl_config(path: str | Path, train_path: str | Path, validation_path: str | Path,
                         base_model: str, hp: PersonaHyperparameters, **kwargs) -> Path:
    """Write ``axolotl_config`` as YAML, with a header saying how to run it."""
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Axolotl LoRA config written by labkit.lessons.l06_persona.export; run: axolotl train " + path.name + "\n"
    path.write_text(header + yaml.safe_dump(axolotl_config(train_path, validation_path, base_model, hp, **kwargs),
                                            sort_keys=False))
    return path


def _mistral_request(method: str, url: str, api_key_env: str, **kwargs):
    import httpx

    headers = {"Authorization": f"Bearer {os.environ[api_key_env]}", "Accept": "application/json"}
    response = httpx.request(method, url, headers=headers, timeout=120, **kwargs)
    if response.status_code >= 400:
        raise RuntimeError(f"Mistral API {method} {url}: HTTP {response.status_code}: {response.text[:300]}")
    return response.json()


def run_mistral_job(train_path: str | Path, validation_path: str | Path, hp: PersonaHyperparameters,
                    model: str = "open-mistral-7b", suffix: str = "persona",
                    api_key_env: str = "MISTRAL_API_KEY", base_url: str = MISTRAL_API,
                    poll_seconds: float = 30.0, timeout_seconds: float = 3 * 3600) -> str | None:
    """Upload the files, create a fine-tuning job, poll it, and return the fine-tuned model id.

    Without the key in ``api_key_env`` it does nothing and says so: the course runs offline.
    The job costs money on your Mistral account.
    """
    if not os.environ.get(api_key_env):
        print(f"{api_key_env} is not set: skipping the Mistral fine-tuning job. "
              f"Set it in your shell (never in the notebook) to run it.")
        return None
    base = base_url.rstrip("/")
    file_ids = []
    for path in (train_path, validation_path):
        with open(path, "rb") as handle:
            uploaded = _mistral_request("POST", f"{base}/v1/files", api_key_env,
                                        files={"file": (Path(path).name, handle)}, data={"purpose": "fine-tune"})
        file_ids.append(uploaded["id"])
        print(f"uploaded {Path(path).name}: file id {uploaded['id']}")
    job = _mistral_request("POST", f"{base}/v1/fine_tuning/jobs", api_key_env, json={
        "model": model, "suffix": suffix, "auto_start": True,
        "training_files": [{"file_id": file_ids[0], "weight": 1}],
        "validation_files": [file_ids[1]],
        "hyperparameters": {"training_steps": hp.max_steps, "learning_rate": hp.learning_rate},
    })
    print(f"created job {job['id']}: {job.get('status')}")
    deadline = time.monotonic() + timeout_seconds
    while job.get("status") not in MISTRAL_DONE:
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job['id']} still {job.get('status')} after {timeout_seconds:.0f} s")
        time.sleep(poll_seconds)
        job = _mistral_request("GET", f"{base}/v1/fine_tuning/jobs/{job['id']}", api_key_env)
        print(f"job {job['id']}: {job.get('status')}")
    if job["status"] != "SUCCESS":
        raise RuntimeError(f"job {job['id']} ended {job['status']}")
    return job["fine_tuned_model"]


def hyperparameters_dict(hp: PersonaHyperparameters) -> dict:
    """The hyperparameters as a plain dict (for reports and comparisons)."""
    return asdict(hp)
