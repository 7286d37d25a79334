"""A question's ``link``: checked against the repository, and made relative to the notebook showing it.

A bank links to the lesson section that teaches a question, as a repo-relative path with an
optional anchor, ``notebooks/02_lora.ipynb#What-LoRA-trains``. The anchor is a heading's text with
spaces as ``-``, which is how JupyterLab names headings.

>>> check_link("notebooks/08_final_check.ipynb#Check-your-understanding", REPO_ROOT) is None
True
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from labkit.paths import REPO_ROOT


def check_link(link: str, root: Path) -> str | None:
    """What is wrong with a repo-relative link, or None. Anchors are checked in notebooks."""
    target, _, anchor = link.partition("#")
    if not target or Path(target).is_absolute() or ".." in Path(target).parts:
        return (f"link '{link}' must be a path inside the repository, e.g. "
                "'notebooks/01_sft.ipynb#Section'")
    path = root / target
    if not path.is_file():
        return f"link '{link}' points to a missing file ({path}); link to an existing lesson section"
    if anchor and path.suffix == ".ipynb":
        anchors = notebook_anchors(path)
        if anchor not in anchors:
            known = ", ".join(f"#{a}" for a in sorted(anchors)) or "none"
            return f"link anchor '#{anchor}' matches no heading in {target} (its anchors: {known})"
    return None


def notebook_anchors(path: Path) -> set[str]:
    """The anchors JupyterLab gives a notebook's markdown headings: text with spaces as '-'.

    >>> "Check-your-understanding" in notebook_anchors(REPO_ROOT / "notebooks" / "08_final_check.ipynb")
    True
    """
    anchors = set()
    for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = "".join(cell.get("source", []))
        for match in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", source, re.MULTILINE):
            # JupyterLab uses the rendered text, so inline markup like `code` or **bold** drops out.
            heading = re.sub(r"[`*]|<[^>]+>", "", match.group(1)).strip()
            anchors.add(heading.replace(" ", "-"))
        anchors.update(re.findall(r"""<a\s+(?:id|name)=["']([^"']+)["']""", source))
    return anchors


def link_from(link: str, folder: str | os.PathLike | None = None) -> str:
    """``link`` as a relative path from ``folder``: by default the working folder, which is the
    running notebook's folder (JupyterLab starts a notebook's kernel there).

    JupyterLab resolves a relative link in a rendered output against that notebook's own path,
    whatever its address bar shows, then opens the file in the same JupyterLab and scrolls to the
    ``#anchor`` (its "handle local link" command, as for a link in a markdown cell).

    >>> link_from("notebooks/02_lora.ipynb#What-LoRA-trains", REPO_ROOT / "notebooks")
    '02_lora.ipynb#What-LoRA-trains'
    >>> link_from("notebooks/02_lora.ipynb", REPO_ROOT / "build" / "course")
    '../../notebooks/02_lora.ipynb'
    """
    target, _, anchor = link.partition("#")
    path = os.path.relpath(REPO_ROOT / target, Path.cwd() if folder is None else folder)
    return Path(path).as_posix() + (f"#{anchor}" if anchor else "")
