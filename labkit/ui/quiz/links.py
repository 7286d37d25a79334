"""A question's ``link``: checked against the repository, and made into a URL that JupyterLab opens.

A bank links to the lesson section that teaches a question, as a repo-relative path with an
optional anchor, ``notebooks/02_lora.ipynb#What-LoRA-trains``. The anchor is a heading's text with
spaces as ``-``, which is how JupyterLab names headings.

>>> check_link("notebooks/07_final_check.ipynb#Check-your-understanding", REPO_ROOT) is None
True
>>> lab_url("notebooks/02_lora.ipynb#What-LoRA-trains", {"base_url": "/course/", "root_dir": str(REPO_ROOT)})
'/course/lab/tree/notebooks/02_lora.ipynb#What-LoRA-trains'
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from jupyter_core.paths import jupyter_runtime_dir

from labkit.paths import NOTEBOOKS_DIR, REPO_ROOT


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

    >>> "Check-your-understanding" in notebook_anchors(REPO_ROOT / "notebooks" / "07_final_check.ipynb")
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


def running_server() -> dict | None:
    """The Jupyter server that started this kernel (its ``base_url`` and ``root_dir``), or None.

    A server writes ``jpserver-<pid>.json`` in the runtime folder and passes its pid to the kernels
    it starts as ``$JPY_PARENT_PID``. Under papermill, VS Code or Colab no such file matches.
    """
    pid = os.environ.get("JPY_PARENT_PID", "")
    if not pid.isdigit():
        return None
    try:
        return json.loads((Path(jupyter_runtime_dir()) / f"jpserver-{pid}.json").read_text())
    except (OSError, ValueError):
        return None


def lab_url(link: str, server: Mapping | None = None) -> str:
    """The URL that opens ``link`` at its heading in JupyterLab, whatever page it is clicked from.

    The URL is absolute (the server's base URL + ``lab/tree/`` + the file's path under the server's
    root), so it does not depend on the address the learner's JupyterLab page shows.
    ``server`` defaults to :func:`running_server`. Without one, or when the repository is outside
    its root, the link is relative to the lesson notebooks' folder, which is the best guess left.
    """
    server = running_server() if server is None else server
    target, _, anchor = link.partition("#")
    fragment = f"#{anchor}" if anchor else ""
    file = (REPO_ROOT / target).resolve()
    root = Path(server["root_dir"]).resolve() if server else None
    if root is None or not file.is_relative_to(root):
        return Path(os.path.relpath(file, NOTEBOOKS_DIR.resolve())).as_posix() + fragment
    prefix = server.get("base_url", "/").rstrip("/")  # "" for a server at the site's root
    return f"{prefix}/lab/tree/{quote(file.relative_to(root).as_posix())}{fragment}"
