"""Library warnings that ask nothing of a learner, each with the reason it is harmless.

``labkit.setup()``, the first call of every notebook, silences exactly these, by the start of their
message; any other warning stays visible. tests/test_notebooks.py fails when a lesson's output shows
a warning, so a new one is fixed where it comes from, or, if harmless, listed here with its reason.

>>> silence_known_warnings()
>>> import warnings
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.warn("`is_gradient_checkpointing` is deprecated and will be removed in v6.", FutureWarning)
>>> caught
[]
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass


@dataclass(frozen=True)
class KnownWarning:
    """A warning matched by the start of its message, raised as ``category`` or logged by ``logger``."""

    message: str
    why: str
    category: type[Warning] | None = None
    logger: str | None = None


KNOWN_WARNINGS = (
    KnownWarning(
        "Failed to load CPU gemm_4bit_forward from kernels-community", logger="bitsandbytes.backends.cpu.ops",
        why="bitsandbytes tries the optional `kernels` package, which downloads a faster CPU 4-bit matmul from "
            "the Hugging Face Hub; without it bitsandbytes uses its own CPU kernels and QLoRA trains the same. "
            "Installing `kernels` would not help offline."),
    KnownWarning(
        "`is_gradient_checkpointing` is deprecated", category=FutureWarning,
        why="peft 0.21 (on every LoRA model) and TRL 1.16 still read transformers' old name for "
            "`is_activation_checkpointing`, which answers the same; nothing in the course calls it."),
    KnownWarning(
        "`gradient_checkpointing_enable` is deprecated", category=FutureWarning,
        why="peft 0.21's prepare_model_for_kbit_training (lesson 05) calls transformers' old name for "
            "`activation_checkpointing_enable`, which does the same."),
    KnownWarning(
        "`pretrained` model kwarg is not of type `str`", logger="lm_eval.models.huggingface",
        why="lesson 01b hands lm-eval a model already in memory, with only batch_size and add_bos_token, "
            "which it honours (its replies equal labkit's, token for token); it warns about the loading "
            "options a model in memory has no use for."),
    KnownWarning(
        "Passed an already-initialized model through `pretrained`", logger="lm_eval.models.huggingface",
        why="lesson 01b runs lm-eval in one process on one device, which is what it assumes."),
)


class _DropLogRecord(logging.Filter):
    """Drops the log records whose message starts with ``start``."""

    def __init__(self, start: str):
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.start)


def silence_known_warnings() -> None:
    """Silence each of :data:`KNOWN_WARNINGS` from now on; calling it again adds nothing."""
    for known in KNOWN_WARNINGS:
        if known.logger:
            logger = logging.getLogger(known.logger)
            if not any(isinstance(f, _DropLogRecord) and f.start == known.message for f in logger.filters):
                logger.addFilter(_DropLogRecord(known.message))
        else:
            # warnings matches ``message`` as a regular expression at the start of the text
            warnings.filterwarnings("ignore", message=re.escape(known.message), category=known.category)
