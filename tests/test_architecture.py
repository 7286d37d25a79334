"""The package keeps its shape: layers point down, modules stay small, notebooks import their own lesson."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from labkit.lessons.registry import LESSONS
from labkit.paths import REPO_ROOT

MAX_MODULE_LINES = 300
# What a notebook may import from labkit besides its own lesson module.
NOTEBOOK_IMPORTS = ("labkit", "labkit.core", "labkit.ui", "labkit.paths", "labkit.lessons.registry")


def test_import_contracts_hold():
    """import-linter's contracts in pyproject.toml: ui → lessons → methods → core → paths, no cycles.

    grimp, under import-linter, reads every import statement, including those inside functions.
    """
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is not installed: `make install`"
    result = subprocess.run([lint, "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", sorted(REPO_ROOT.glob("labkit/**/*.py")), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_modules_stay_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.name} has {lines} lines: split it by job (limit {MAX_MODULE_LINES})"


def labkit_imports(source: str) -> set[str]:
    """Every labkit module a piece of code imports (IPython magics and shell lines skipped)."""
    code = "\n".join(line if not line.lstrip().startswith(("!", "%")) else line[:len(line) - len(line.lstrip())]
                     + "pass" for line in source.splitlines())
    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("labkit"):
            found |= {node.module} if node.module != "labkit.lessons" else {f"labkit.lessons.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("labkit")}
    return found


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.key)
def test_a_notebook_imports_its_own_lesson_and_core(lesson):
    cells = nbformat.read(lesson.notebook, as_version=4).cells
    imports = set().union(*(labkit_imports(c.source) for c in cells if c.cell_type == "code"))
    own = f"labkit.lessons.l{lesson.number}_{lesson.slug}"
    strangers = {m for m in imports if not (m.startswith(own) or m == "labkit"
                                            or any(m.startswith(allowed + ".") or m == allowed
                                                   for allowed in NOTEBOOK_IMPORTS[1:]))}
    assert not strangers, f"{lesson.key} imports {sorted(strangers)}: reach them through {own}"
