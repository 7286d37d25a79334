"""Defaults that depend on the model and the machine: gradient checkpointing and bf16 autocast."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM

from labkit.core.env import bf16_autocast_is_native
from labkit.methods.lora_math import load_architecture_config
from labkit.methods.sft import SFTSettings, use_gradient_checkpointing


def test_gradient_checkpointing_only_for_large_models_unless_asked(tiny_model):
    with torch.device("meta"):  # 7B parameters, no memory
        large = AutoModelForCausalLM.from_config(load_architecture_config("mistral-7b"))
    assert not use_gradient_checkpointing(tiny_model, None)
    assert use_gradient_checkpointing(large, None)
    assert use_gradient_checkpointing(tiny_model, True) and not use_gradient_checkpointing(large, False)
    config = SFTSettings(max_steps=1, output_dir="unused").to_sft_config(False, gradient_checkpointing=False)
    assert config.activation_checkpointing is False and config.gradient_checkpointing is False  # TRL's default is True


def test_bf16_autocast_follows_the_hardware_and_an_explicit_choice_wins():
    auto = SFTSettings(max_steps=1, output_dir="unused").to_sft_config(False)
    assert auto.bf16 == bf16_autocast_is_native()
    assert SFTSettings(max_steps=1, output_dir="unused", bf16=False).to_sft_config(False).bf16 is False
    forced = SFTSettings(max_steps=1, output_dir="unused", bf16=True).to_sft_config(False)  # refused on CPU before
    assert forced.bf16 is True and forced.use_cpu == (not torch.cuda.is_available())
