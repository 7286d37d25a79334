"""Lesson 05 — QLoRA end to end: a 4-bit NF4 base with LoRA on top; train, save, reload, merge, chat.

Its files live in one run folder per profile and settings (``run_dir``): ``adapter/``, ``merged/`` and
the trainer's output. It measures on the same held-out questions as lessons 01–04
(``instruction_splits``).
"""

from __future__ import annotations

from pathlib import Path

from labkit.core.data.instructions import instruction_splits
from labkit.methods.adapters import (AdaptersInFloat32, adapter_megabytes, load_adapter, merge_adapter, save_adapter,
                                     save_merged)
from labkit.methods.lora import ATTENTION_PROJECTIONS, LoraSettings
from labkit.methods.lora_math import load_architecture_config
from labkit.methods.memory import estimate_training_memory, format_bytes
from labkit.methods.quantization import (linear4bit_bytes, quantized_layer_names, summarize_quantization,
                                         weight_bytes_by_precision)
from labkit.methods.sft import SFTSettings, train_sft
from labkit.paths import RUNS_DIR

__all__ = ["AdaptersInFloat32", "adapter_megabytes", "load_adapter", "merge_adapter", "save_adapter", "save_merged",
           "LoraSettings", "ATTENTION_PROJECTIONS", "load_architecture_config", "estimate_training_memory", "format_bytes", "linear4bit_bytes",
           "quantized_layer_names", "summarize_quantization", "weight_bytes_by_precision", "SFTSettings", "train_sft",
           "instruction_splits", "run_dir", "lora_settings"]


def run_dir(profile: str, max_steps: int, lora_r: int, seed: int) -> Path:
    """Where this lesson keeps a run (adapter/, merged/, trainer/): one folder per profile and
    settings, so a short test run never replaces the adapter a learner trained.

    >>> run_dir("tiny", 150, 16, 0).name
    '05_qlora-tiny-r16-150steps-seed0'
    """
    return RUNS_DIR / f"05_qlora-{profile}-r{lora_r}-{max_steps}steps-seed{seed}"


def lora_settings(r: int = 16, lora_alpha: int = 32) -> LoraSettings:
    """The lesson's adapters: on the attention projections, with a little dropout (QLoRA paper's recipe)."""
    return LoraSettings(r=r, lora_alpha=lora_alpha, target_modules=ATTENTION_PROJECTIONS, lora_dropout=0.05)
