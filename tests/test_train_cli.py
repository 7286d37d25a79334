"""`labkit train CONFIG.yaml`: configs are checked, a run writes a model, two processes match one, a kill resumes.

The training runs are subprocesses, as a learner would start them, each on one CPU thread so that
the 1-process, 2-process and resumed runs do the same arithmetic per process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labkit.paths import REPO_ROOT
from labkit.ui.train_cli import (
    ConfigError,
    last_complete_checkpoint,
    load_config,
    train_from_config,
)

# A short SFT run: 30 steps of a global batch of 8, a checkpoint every 10 steps.
RUN = {
    "trainer": "sft", "model": "tiny", "dataset": "instructions", "validation": "instructions",
    "limit": 480, "validation_limit": 64, "max_steps": 30, "batch_size": 8, "learning_rate": 1e-3,
    "warmup_steps": 3, "logging_steps": 5, "save_steps": 10, "eval_every": 1000, "seed": 0,
    "precision": "no",  # fp32: the tolerances below are for float32 rounding (bf16 autocast differs by ~2e-3)
}
# Two processes see the same 8 examples per step (4 each), and DDP averages their gradients: the same
# computation as one process, in a different float32 summation order (4-row matmuls, gloo's sum of two
# half-batch gradients). Measured: losses and validation loss differ by under 1e-6 after 30 steps. A broken setup
# (gradients not averaged, a different data split, two independent models) is off by 1e-2 or more from
# the second step on, so 1e-3 separates the two cleanly.
DDP_LOSS_TOLERANCE = 1e-3
RESUME_LOSS_TOLERANCE = 1e-3  # the bound; with fixed seeds the resumed run is near-identical
TIMEOUT = 900


def write_config(folder: Path, **changes) -> Path:
    import yaml

    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump({**RUN, "output_dir": str(folder / "out"), **changes}))
    return path


def run_env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
            "PYTHONPATH": str(REPO_ROOT)}


def train_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "labkit.ui.train_cli", str(config)]


def summary_of(config: Path) -> dict:
    return json.loads((config.parent / "out" / "train_summary.json").read_text())


def run_to_end(command: list[str]) -> None:
    done = subprocess.run(command, env=run_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT,
                          check=False)
    assert done.returncode == 0, f"training failed:\n{done.stderr[-3000:]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """One uninterrupted 1-process run: the loss the other runs must reach."""
    config = write_config(tmp_path_factory.mktemp("reference"))
    run_to_end(train_command(config))
    return summary_of(config)


# ---------------------------------------------------------------------------------------------
# Configs


def test_shipped_configs_load():
    from accelerate.commands.config.config_args import load_config_from_file

    train_configs = sorted((REPO_ROOT / "configs" / "train").glob("*.yaml"))
    assert {p.stem for p in train_configs} >= {"sft_tiny", "reward_tiny", "dpo_tiny"}
    for path in train_configs:
        run, settings = load_config(path)
        assert settings.output_dir == run.output_dir and settings.live_plot is False
    launch_configs = {p.stem: load_config_from_file(str(p))
                      for p in (REPO_ROOT / "configs" / "accelerate").glob("*.yaml")}
    assert launch_configs["ddp_cpu_2proc"].distributed_type.value == "MULTI_GPU"  # torchrun, see the file
    assert launch_configs["ddp_cpu_2proc"].use_cpu and launch_configs["ddp_cpu_2proc"].num_processes == 2
    assert {c.distributed_type.value for c in launch_configs.values()} == {"MULTI_GPU", "FSDP", "DEEPSPEED"}


def test_config_errors_name_the_file_line_and_field(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("trainer: sft\nmodel: tiny\nmax_step: 10\n")
    with pytest.raises(ConfigError, match=r"typo\.yaml:3: max_step: unknown field 'max_step'.*did you mean 'max_steps'"):
        load_config(path)
    path.write_text("trainer: sft\nbatch_size: many\n")
    with pytest.raises(ConfigError, match=r"typo\.yaml:2: batch_size: expected a number"):
        load_config(path)
    path.write_text("trainer: ppo\n")
    with pytest.raises(ConfigError, match=r"typo\.yaml:1: trainer: 'ppo' is not one of sft, reward, dpo"):
        load_config(path)


def test_yaml_values_become_the_field_types(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("trainer: dpo\nlearning_rate: 1e-3\nlora_r: 8\ntarget_modules: [q_proj, v_proj]\n")
    run, settings = load_config(path, ["max_steps=7", "beta=0.3"])
    # PyYAML reads 1e-3 as a string; DPO's own lora_r goes to DPOSettings, not the run's SFT-only field.
    assert settings.learning_rate == 0.001 and settings.max_steps == 7 and settings.beta == 0.3
    assert settings.lora_r == 8 and run.lora_r is None
    assert settings.target_modules == ("q_proj", "v_proj")


def test_last_complete_checkpoint_skips_one_cut_short(tmp_path):
    for step, state in ((10, '{"global_step": 10}'), (20, '{"global_st'), (30, None)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if state is not None:
            (folder / "trainer_state.json").write_text(state)
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-10"
    assert last_complete_checkpoint(tmp_path / "missing") is None


# ---------------------------------------------------------------------------------------------
# Training runs


@pytest.mark.slow
def test_train_from_yaml_writes_a_trained_model(reference):
    import torch
    from safetensors.torch import load_file

    out = Path(reference["output_dir"])
    assert reference["world_size"] == 1 and reference["global_step"] == RUN["max_steps"]
    trained = load_file(out / "model.safetensors")
    base = load_file(REPO_ROOT / "data" / "tiny" / "model.safetensors")
    assert trained.keys() == base.keys()
    assert any(not torch.equal(trained[k], base[k]) for k in base), "the saved weights are the base model's"
    history = json.loads((out / "checkpoint-30" / "trainer_state.json").read_text())["log_history"]
    losses = [h["loss"] for h in history if "loss" in h]
    assert losses[-1] < 0.7 * losses[0], f"training loss did not fall: {losses}"
    assert reference["val_loss"] < 2.5, reference["val_loss"]


@pytest.mark.slow
def test_two_processes_reach_the_same_loss_as_one(reference, tmp_path):
    config = write_config(tmp_path, batch_size=RUN["batch_size"] // 2)  # same global batch of 8
    command = [sys.executable, "-m", "accelerate.commands.launch",
               "--config_file", str(REPO_ROOT / "configs" / "accelerate" / "ddp_cpu_2proc.yaml"),
               "--main_process_port", str(free_port()), "-m", "labkit.ui.train_cli", str(config)]
    run_to_end(command)
    two = summary_of(config)
    assert two["world_size"] == 2, "the launch did not start two cooperating processes"
    assert two["global_step"] == RUN["max_steps"]
    for (step, loss), (ref_step, ref_loss) in zip(two["train_losses"], reference["train_losses"], strict=True):
        assert step == ref_step and abs(loss - ref_loss) < DDP_LOSS_TOLERANCE, (step, loss, ref_loss)
    assert abs(two["val_loss"] - reference["val_loss"]) < DDP_LOSS_TOLERANCE, (two["val_loss"], reference["val_loss"])

@pytest.mark.slow
def test_killed_run_resumes_to_the_same_loss(reference, tmp_path):
    config = write_config(tmp_path)
    out = tmp_path / "out"
    process = subprocess.Popen(train_command(config), env=run_env(), cwd=REPO_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + TIMEOUT
        while last_complete_checkpoint(out) is None:
            assert process.poll() is None, "the run ended before writing a checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within the time limit"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert not (out / "train_summary.json").exists(), "the run finished before it was killed"
    killed_at = last_complete_checkpoint(out)

    run_to_end(train_command(config))
    resumed = summary_of(config)
    assert resumed["resumed_from"] == str(killed_at)
    assert resumed["global_step"] == RUN["max_steps"]
    assert abs(resumed["val_loss"] - reference["val_loss"]) < RESUME_LOSS_TOLERANCE
    for (step, loss), (ref_step, ref_loss) in zip(resumed["train_losses"], reference["train_losses"], strict=True):
        assert step == ref_step and abs(loss - ref_loss) < RESUME_LOSS_TOLERANCE, (step, loss, ref_loss)


@pytest.fixture
def one_thread():
    """One torch thread, like the subprocess runs: two threads on a busy 2-core machine wait on each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
@pytest.mark.parametrize("trainer, weights", [("reward", "model.safetensors"), ("dpo", "adapter_model.safetensors")])
def test_reward_and_dpo_configs_train_from_the_sft_model(reference, trainer, weights, tmp_path, one_thread):
    """The shipped reward and DPO configs, shortened, starting from the SFT run's model."""
    run, settings = load_config(REPO_ROOT / "configs" / "train" / f"{trainer}_tiny.yaml",
                                [f"model={reference['output_dir']}", "max_steps=6", "batch_size=8", "limit=96",
                                 "validation_limit=64", f"output_dir={tmp_path}"])
    summary = train_from_config(run, settings)
    assert (tmp_path / weights).exists() and summary["global_step"] == 6
    # Before training, the reward head is random (about half the pairs right) and DPO's implicit
    # rewards are all zero (the LoRA adapter starts as a no-op, so no pair is ranked right).
    accuracy = summary["pairwise_accuracy" if trainer == "reward" else "preference_accuracy"]
    assert accuracy >= 0.75, summary
