"""Every place labkit reads from or writes to, named once.

``data/`` holds what ships with the course (read-only at run time); ``build/`` holds what runs
make and ``make clean`` deletes; ``labels/`` and the learner data folder hold a learner's own work,
which nothing deletes. Lessons name their files under these roots in their own module
(``labkit.lessons.lNN_*``); nothing else builds a path from ``REPO_ROOT`` by hand.

>>> (DATA_DIR / "tiny").name, CACHE_DIR.relative_to(REPO_ROOT).as_posix()
('tiny', 'build/cache')
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Where the course lives online: the notebooks' Colab setup cells and the README's "Open in Colab"
# links are made from this one address (tools/sync_setup_cells.py, labkit.ui.readme).
REPOSITORY = "labkit-course/labkit"
REPOSITORY_URL = f"https://github.com/{REPOSITORY}"

# What ships with the course.
DATA_DIR = REPO_ROOT / "data"
TINY_DIR = DATA_DIR / "tiny"
TINY_READER_DIR = DATA_DIR / "tiny-reader"  # tiny, given the novella's words and made to read it (lesson 06)
CORPUS_PATH = DATA_DIR / "corpus" / "pretraining.jsonl"
INSTRUCTIONS_PATH = DATA_DIR / "sft" / "instructions.jsonl"
PREFERENCES_DIR = DATA_DIR / "preferences"
PERSONA_DATA_DIR = DATA_DIR / "persona"
NOVELLA_PATH = PERSONA_DATA_DIR / "novella.md"  # lesson 06's novel, which tiny-reader has read
ARCHITECTURE_CONFIGS_DIR = DATA_DIR / "configs"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
QUIZZES_DIR = REPO_ROOT / "quizzes"
README_PATH = REPO_ROOT / "README.md"
COLAB_CONSTRAINTS = REPO_ROOT / "constraints-colab.txt"  # constraints.txt without torch: Colab keeps its CUDA build

# What runs make: safe to delete (`make clean`).
BUILD_DIR = REPO_ROOT / "build"
CACHE_DIR = BUILD_DIR / "cache"  # models later lessons start from, keyed by profile and settings
RUNS_DIR = BUILD_DIR / "runs"  # trainer output folders
COURSE_DIR = BUILD_DIR / "course"  # `make course`: executed notebooks and report.json
DEPLOY_DIR = BUILD_DIR / "deploy"  # `make deploy-check`: GGUF files, the Ollama Modelfile, report.json
TRACKIO_DIR = BUILD_DIR / "trackio"  # trackio's local store: one SQLite file per project (lesson 02's rank sweep)
LLAMA_CPP_PYTHON_DIR = BUILD_DIR / "llama-cpp-python"  # its source (llama.cpp's converter) and the wheel built from it


def labels_dir() -> Path:
    """Where preference labels live: ``$LABKIT_LABELS_DIR``, else ``labels/`` (outside build/: a learner's work)."""
    return Path(os.environ.get("LABKIT_LABELS_DIR", REPO_ROOT / "labels"))


def metrics_dir() -> Path:
    """Where lessons record metrics: ``$LABKIT_METRICS_DIR`` (set by the course runner), else build/course/metrics."""
    return Path(os.environ.get("LABKIT_METRICS_DIR", COURSE_DIR / "metrics"))
