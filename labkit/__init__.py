"""labkit: the helpers every lesson notebook imports.

Heavy libraries (torch, transformers) are imported only when a helper that needs them is used,
so ``labkit quiz`` starts fast in a plain terminal.
"""

from __future__ import annotations

import importlib

from labkit.lessons import LESSONS, get_lesson
from labkit.report import record_metrics

__version__ = "0.1.0"

# name -> module that defines it; resolved on first use.
_LAZY = {
    "setup": "labkit.env",
    "pick_device": "labkit.env",
    "PROFILES": "labkit.profiles",
    "get_profile": "labkit.profiles",
    "load_model": "labkit.models",
    "load_tokenizer": "labkit.models",
    "count_lora_parameters": "labkit.lora",
    "lora_report": "labkit.lora",
    "load_quiz": "labkit.quiz",
}

__all__ = ["LESSONS", "get_lesson", "record_metrics", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")
