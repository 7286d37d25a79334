"""Runs logged to trackio (local, offline) can be read back from its store: what the dashboard shows."""

from __future__ import annotations

import uuid

import pytest

from labkit.methods.tracking import (
    dashboard_command,
    logged_metrics,
    tracking_arguments,
)

pytest.importorskip("trackio")


def test_a_training_run_logs_its_loss_to_the_local_store():
    from datasets import Dataset

    from labkit.core.models import load_model, load_tokenizer
    from labkit.methods.sft import SFTSettings, train_sft

    project, run = f"labkit-test-{uuid.uuid4().hex[:8]}", "tiny r=0"
    tokenizer = load_tokenizer("tiny")
    examples = Dataset.from_list([{"messages": [{"role": "user", "content": f"Say {n}."},
                                                {"role": "assistant", "content": f"{n}."}]} for n in range(16)])
    settings = SFTSettings.for_profile("tiny", max_steps=4, batch_size=4, logging_steps=1, live_plot=False,
                                       extra=tracking_arguments(project, run))
    try:
        train_sft(load_model("tiny", tokenizer=tokenizer), tokenizer, examples, None, settings)
        logged = [row for row in logged_metrics(project, run) if "train/loss" in row]
        assert len(logged) == 4  # logging_steps=1: one row per optimizer step
        assert all(row["train/loss"] > 0 for row in logged)
    finally:
        import trackio

        trackio.delete_project(project, force=True)


def test_the_dashboard_listens_on_this_machine_only():
    assert dashboard_command("labkit-02-lora").endswith("--project labkit-02-lora --host 127.0.0.1")
