"""The course's interactive widgets (ipywidgets). Each lives in its own module, imported on first
use, so ``import labkit.ui.widgets`` stays light (no torch, no matplotlib).

>>> from labkit.ui.widgets import RankExplorer
>>> RankExplorer(model="llama-2-7b", rank=8)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib

# name -> module that defines it. Add a widget by adding a line here.
_LAZY = {
    "RankExplorer": "labkit.ui.widgets.rank_explorer",
    "MethodPicker": "labkit.ui.widgets.method_picker",
    "QuizWidget": "labkit.ui.widgets.quiz_widget",
    "ChatBox": "labkit.ui.widgets.chat",
    "Labeler": "labkit.ui.widgets.labeler",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'labkit.ui.widgets' has no attribute {name!r}; widgets: {', '.join(_LAZY)}")
