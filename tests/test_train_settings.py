"""Defaults that depend on the model and the machine: gradient checkpointing and bf16 autocast."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM

import pytest

from labkit.core.env import mixed_precision
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


def test_precision_follows_the_hardware_for_every_trainer_and_an_explicit_choice_wins():
    from labkit.methods.dpo import DPOSettings
    from labkit.methods.reward import RewardSettings

    for settings in (SFTSettings(max_steps=1, output_dir="unused"), RewardSettings(output_dir="unused"),
                     DPOSettings(output_dir="unused")):
        assert settings.trl_arguments(False)["bf16"] == (mixed_precision() == "bf16")
    assert SFTSettings(max_steps=1, output_dir="unused", precision="no").to_sft_config(False).bf16 is False
    forced = SFTSettings(max_steps=1, output_dir="unused", precision="bf16").to_sft_config(False)  # refused on CPU before
    assert forced.bf16 is True and forced.use_cpu == (not torch.cuda.is_available())
    with pytest.raises(ValueError, match="precision must be one of"):
        SFTSettings(precision="fp8")


def test_a_t4_gets_fp16_with_loss_scaling_and_bf16_gpus_get_bf16(monkeypatch):
    from labkit.core import env

    monkeypatch.setattr(env, "supports_bf16", lambda device: False)
    assert env.mixed_precision("cuda") == "fp16"
    assert env.weights_dtype("cuda", 135_000_000) == torch.float32  # full fine-tuning keeps fp32 masters
    assert env.weights_dtype("cuda", 7_000_000_000) == torch.float16
    monkeypatch.setattr(env, "supports_bf16", lambda device: True)
    assert env.mixed_precision("cuda") == "bf16" and env.weights_dtype("cuda", 10**9) == torch.bfloat16


def test_the_profile_owns_the_numbers_and_none_keeps_them():
    from labkit.methods.dpo import DPOSettings
    from labkit.methods.lora import LoraSettings
    from labkit.methods.rloo import RLSettings

    assert SFTSettings.for_profile("tiny").learning_rate == 3.75e-4
    assert SFTSettings.for_profile("smol").learning_rate == 1e-4  # a real model needs a gentler rate
    assert SFTSettings.for_profile("tiny", learning_rate=None, max_steps=7).max_steps == 7
    assert DPOSettings.for_profile("tiny").learning_rate == 5e-3 > DPOSettings.for_profile("qwen-0.5b").learning_rate
    assert RLSettings.for_profile("mistral-7b").learning_rate < 1e-5
    assert SFTSettings.for_profile("smol", recipe="school").completion_only_loss is False
    assert LoraSettings.for_profile("tiny", r=4).r == 4
    with pytest.raises(TypeError, match="has no field 'beta'"):
        SFTSettings.for_profile("tiny", beta=0.1)
