"""Strip notebook outputs, except cells marked ``# NBVAL_CHECK_OUTPUT`` whose outputs nbval compares.

Usage: ``python tools/clean_notebooks.py [NOTEBOOK ...]`` (default: notebooks/*.ipynb).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def clean(path: Path) -> bool:
    """Strip one notebook in place; True if it changed."""
    notebook = nbformat.read(path, as_version=4)
    before = nbformat.writes(notebook)
    for cell in notebook.cells:
        for key in ("execution", "papermill", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
        if not cell.metadata.get("tags", True):
            cell.metadata.pop("tags")
        if cell.cell_type != "code":
            continue
        if "NBVAL_CHECK_OUTPUT" not in cell.source:
            cell.outputs = []
            cell.execution_count = None
        else:  # nbval skips a cell with outputs but no execution count as "unrun"
            cell.execution_count = cell.execution_count or 1
    notebook.metadata.pop("papermill", None)
    notebook.metadata.pop("widgets", None)
    after = nbformat.writes(notebook)
    if after != before:
        path.write_text(after)
    return after != before


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        if clean(path):
            print(f"cleaned {path}")
