"""Write the Colab set-up lines (labkit.lessons.registry.COLAB_SETUP) into every lesson's setup cell.

Usage: ``python tools/sync_setup_cells.py`` after changing the repository's address in labkit/paths.py.
The lines before ``import labkit`` in each cell tagged ``setup`` are replaced; the rest is the lesson's own.
"""

from __future__ import annotations

import nbformat

from labkit.lessons.registry import COLAB_SETUP, LESSONS


def sync(notebook_path) -> bool:
    """Put COLAB_SETUP at the top of the notebook's setup cell; True if it changed."""
    notebook = nbformat.read(notebook_path, as_version=4)
    cell = next(c for c in notebook.cells if "setup" in c.metadata.get("tags", []))
    own = cell.source[cell.source.index("import labkit"):]
    source = COLAB_SETUP + "\n" + own
    if source == cell.source:
        return False
    cell.source = source
    nbformat.write(notebook, notebook_path)
    return True


if __name__ == "__main__":
    for lesson in LESSONS:
        if sync(lesson.notebook):
            print(f"updated {lesson.notebook}")
