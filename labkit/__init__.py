"""labkit: the helpers every lesson notebook imports.

The package is in layers that only point down (import-linter checks them in the tests):

- ``labkit.ui``: widgets, quizzes, the command line, the course runner;
- ``labkit.lessons``: one module per lesson (its recipe, caches and file names) and the lesson registry;
- ``labkit.methods``: the training methods (SFT, reward model, RLOO, DPO, LoRA, QLoRA), on TRL and peft;
- ``labkit.core``: profiles, models, evaluation, data, the chat template;
- ``labkit.paths``: every location labkit reads or writes.

Heavy libraries (torch, transformers) are imported only when a helper that needs them is used,
so ``labkit quiz`` starts fast in a plain terminal.
"""

from __future__ import annotations

import importlib

from labkit.core.known_warnings import silence_known_warnings

__version__ = "0.1.0"

# Now, not in labkit.setup(): bitsandbytes logs one of the known warnings when it is first imported,
# and a lesson module may import it before the notebook calls setup(). (Cheap: no heavy imports.)
silence_known_warnings()

# name -> module that defines it; resolved on first use.
_LAZY = {
    "LESSONS": "labkit.lessons.registry",
    "get_lesson": "labkit.lessons.registry",
    "record_metrics": "labkit.lessons.report",
    "setup": "labkit.core.env",
    "pick_device": "labkit.core.env",
    "PROFILES": "labkit.core.profiles",
    "get_profile": "labkit.core.profiles",
    "load_model": "labkit.core.models",
    "load_tokenizer": "labkit.core.models",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")
