"""Store the outputs that the notebook test compares, from a papermill run of the notebook.

Usage: ``python tools/store_checked_outputs.py notebooks/00_start_here.ipynb build/course/00_start_here.ipynb``

Cells marked ``# NBVAL_CHECK_OUTPUT`` keep their outputs in git; tests/test_notebooks.py checks that a
fresh run prints the same. After changing such a cell, run the notebook (``make course`` or
``python -m labkit.course 00 --small``) and copy its outputs back with this script.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat


def store(source: Path, executed: Path) -> int:
    """Copy the checked cells' outputs from ``executed`` into ``source``; returns how many cells."""
    notebook = nbformat.read(source, as_version=4)
    ran = [c for c in nbformat.read(executed, as_version=4).cells
           if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]
    stored = 0
    for cell, run in zip((c for c in notebook.cells if c.cell_type == "code"), ran, strict=True):
        if cell.source != run.source:
            raise SystemExit(f"{executed} ran another version of {source}: run it again")
        if "NBVAL_CHECK_OUTPUT" in cell.source:
            cell.outputs, cell.execution_count = run.outputs, 1
            stored += 1
    nbformat.write(notebook, source)
    return stored


if __name__ == "__main__":
    print(f"stored the outputs of {store(Path(sys.argv[1]), Path(sys.argv[2]))} checked cell(s)")
