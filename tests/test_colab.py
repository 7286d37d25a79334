"""Colab: one setup block in every notebook, made from the one repository address; the tested versions
install there without replacing Colab's own CUDA torch."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from labkit.lessons.registry import COLAB_SETUP, LESSONS
from labkit.paths import COLAB_CONSTRAINTS, REPO_ROOT, REPOSITORY_URL


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.key)
def test_every_setup_cell_installs_the_course_from_the_one_address(lesson):
    cells = nbformat.read(lesson.notebook, as_version=4).cells
    setup = next(c for c in cells if "setup" in c.metadata.get("tags", []))
    assert setup.source.startswith(COLAB_SETUP), "run python tools/sync_setup_cells.py"
    assert REPOSITORY_URL in setup.source and "constraints-colab.txt" in setup.source


def test_colab_constraints_keep_colabs_torch_and_pin_the_tested_libraries():
    check = subprocess.run([sys.executable, "tools/colab_constraints.py", "--check"], cwd=REPO_ROOT)
    assert check.returncode == 0, "constraints-colab.txt is stale: run python tools/colab_constraints.py"
    pins = {line.split("==")[0].lower() for line in COLAB_CONSTRAINTS.read_text().splitlines() if "==" in line}
    assert not pins & {"torch", "torchvision", "triton"}
    assert {"transformers", "trl", "peft", "bitsandbytes", "datasets", "accelerate"} <= pins
