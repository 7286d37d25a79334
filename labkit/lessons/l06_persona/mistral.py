"""Mistral's side of the lesson: where its API is, the rules its fine-tuning files follow, and which
model to fine-tune. The job's calls themselves (upload, create, poll, use) are in the notebook, and
the rules its files follow are the course validator's ``FILE_RULES["mistral"]``.

The notebook talks to Mistral's REST API through the course's one HTTP client
(:class:`labkit.core.http_client.HttpClient`, with retries): the ``mistralai`` package of version 2
and later no longer ships a fine-tuning-jobs API, and the REST calls are the documented interface.
The same base URL serves chat completions, which is how ``MistralTeacher`` and a fine-tuned model
are called.

>>> MISTRAL_BASE_MODEL, MISTRAL_LEARNING_RATE
('ministral-8b-latest', 0.0001)
"""

from __future__ import annotations

MISTRAL_API_URL = "https://api.mistral.ai/v1"
MISTRAL_KEY_ENV = "MISTRAL_API_KEY"
# A job's status once it has stopped for good; anything else (QUEUED, VALIDATING, RUNNING…) means wait.
JOB_DONE = {"SUCCESS", "FAILED", "FAILED_VALIDATION", "CANCELLED"}

# Checked on 2026-11-26 in Mistral's documentation (its source, github.com/mistralai/platform-docs-public,
# as synced on 2026-08-21, v1.7.7): the fine-tuning page, now under Resources → Deprecated ("no longer
# actively supported"), lists open-mistral-7b, mistral-small-latest, codestral-latest, open-mistral-nemo,
# mistral-large-latest, ministral-8b-latest and ministral-3b-latest. open-mistral-7b was retired on
# 2025-03-30; the table of retired models names ministral-8b-latest as its alternative.
MISTRAL_BASE_MODEL = "ministral-8b-latest"
MISTRAL_LEARNING_RATE = 1e-4  # the rate Mistral's own fine-tuning examples use, for models of billions of weights
