"""Profiles and model loading: offline, fast, safe."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from labkit.core.models import ProfileUnavailableError, UnsafeCheckpointError, load_model, load_tokenizer
from labkit.core.profiles import PROFILES, get_profile


def test_profile_registry():
    assert list(PROFILES) == ["tiny", "smol", "qwen-0.5b", "mistral-7b"]
    assert get_profile("mistral-7b").default_quantization == "4bit"
    with pytest.raises(KeyError, match="choose one of: tiny"):
        get_profile("gpt-5")


def test_tiny_model_is_a_small_llama_with_a_chat_template():
    model, tokenizer = load_model("tiny"), load_tokenizer("tiny")
    assert model.config.model_type == "llama"
    assert sum(p.numel() for p in model.parameters()) <= 10_000_000
    names = {name.split(".")[-1] for name, _ in model.named_modules()}
    assert {"q_proj", "k_proj", "v_proj", "o_proj"} <= names
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False,
                                           add_generation_prompt=True)
    assert prompt == "<|user|>\nHi<|end|>\n<|assistant|>\n"


def test_tiny_model_loads_offline_quickly():
    """Measured in a fresh interpreter with the Hub switched off, after the libraries are imported."""
    code = ("import time, labkit.core.models as m; from transformers import AutoModelForCausalLM, AutoTokenizer; "
            "t = time.perf_counter(); m.load_model('tiny'); m.load_tokenizer('tiny'); "
            "print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert float(out.stdout.strip().splitlines()[-1]) < 2.0


def test_hub_profile_offline_fails_fast_naming_tiny(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(ProfileUnavailableError, match="profile='tiny'"):
        load_model("smol")
    assert time.perf_counter() - start < 10


def test_hub_profile_without_network_fails_fast(monkeypatch):
    """No HF_HUB_OFFLINE: the network probe itself must give up within seconds."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("labkit.core.models.HUB_HOST", "hub.invalid")
    start = time.perf_counter()
    with pytest.raises(ProfileUnavailableError, match="tiny"):
        load_tokenizer("qwen-0.5b")
    assert time.perf_counter() - start < 10


def test_pickle_checkpoints_are_refused_unless_opted_in(tmp_path):
    model = load_model("tiny")
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(UnsafeCheckpointError, match="allow_pickle_checkpoint=True"):
        load_model(tmp_path)
    loaded = load_model(tmp_path, allow_pickle_checkpoint=True)
    assert torch.equal(loaded.model.embed_tokens.weight, model.model.embed_tokens.weight)


def test_unknown_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a profile"):
        load_model(tmp_path / "missing")
