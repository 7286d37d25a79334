"""Shared fixtures: the tiny model loaded once per session, and the data splits."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def learner_data_in_tmp(tmp_path_factory, monkeypatch):
    """Quiz progress and labels written by tests never touch a learner's real data."""
    monkeypatch.setenv("LABKIT_DATA_DIR", str(tmp_path_factory.getbasetemp() / "learner-data"))
    monkeypatch.setenv("LABKIT_LABELS_DIR", str(tmp_path_factory.getbasetemp() / "labels"))


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from labkit.core.models import load_tokenizer

    return load_tokenizer("tiny")


@pytest.fixture(scope="session")
def splits():
    from labkit.lessons.l01_sft import instruction_splits

    return instruction_splits("tiny")


@pytest.fixture
def tiny_model():
    """A fresh copy of the tiny base model (tests may train it)."""
    from labkit.core.models import load_model

    return load_model("tiny")
