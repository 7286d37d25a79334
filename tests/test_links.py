"""Every notebook, quiz and file that the README or a notebook links to exists."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from labkit.lessons.registry import LESSONS
from labkit.paths import REPO_ROOT

LINK = re.compile(r"\]\(([^)\s]+)\)")


def local_links(text: str) -> list[str]:
    return [link for link in LINK.findall(text) if not re.match(r"^[a-z]+://|^mailto:|^#", link)]


def sources() -> list[tuple[Path, str]]:
    found = [(REPO_ROOT / "README.md", (REPO_ROOT / "README.md").read_text())]
    for path in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        found.append((path, "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")))
    for path in sorted(REPO_ROOT.glob("data/**/README.md")) + sorted(REPO_ROOT.glob("bench/README.md")):
        found.append((path, path.read_text()))
    return found


@pytest.mark.parametrize("path,text", sources(), ids=lambda v: v.name if isinstance(v, Path) else "")
def test_local_links_resolve(path, text):
    missing = [link for link in local_links(text)
               if not (path.parent / link.split("#")[0]).exists()]
    assert not missing, f"{path.relative_to(REPO_ROOT)} links to missing files: {missing}"


def test_every_lesson_has_its_notebook_and_the_readme_links_it():
    readme = (REPO_ROOT / "README.md").read_text()
    for lesson in LESSONS:
        assert lesson.notebook.exists(), lesson.key
        assert f"notebooks/{lesson.notebook.name}" in readme, f"README does not link {lesson.key}"


def test_readme_tables_are_generated_from_the_registries():
    from labkit.paths import README_PATH as README
    from labkit.ui.readme import render

    text = README.read_text()
    assert render(text) == text, "README tables are stale: run `python -m labkit.ui.readme`"
