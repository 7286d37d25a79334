"""Profiles and model loading: offline, fast, safe."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from labkit.core import hub
from labkit.core.models import ProfileUnavailableError, UnsafeCheckpointError, load_model, load_tokenizer


def test_tiny_model_is_a_small_llama_with_a_chat_template():
    model, tokenizer = load_model("tiny"), load_tokenizer("tiny")
    assert model.config.model_type == "llama"
    assert sum(p.numel() for p in model.parameters()) <= 10_000_000
    names = {name.split(".")[-1] for name, _ in model.named_modules()}
    assert {"q_proj", "k_proj", "v_proj", "o_proj"} <= names
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False,
                                           add_generation_prompt=True)
    assert prompt == "<|user|>\nHi<|end|>\n<|assistant|>\n"


def test_tiny_model_loads_offline():
    """In a fresh interpreter with the Hub switched off. How fast: bench/bench_startup.py."""
    code = "import labkit.core.models as m; print(m.load_model('tiny').config.model_type, len(m.load_tokenizer('tiny')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert out.stdout.split()[-2:] == ["llama", "990"]


def test_hub_profile_offline_fails_naming_tiny(monkeypatch):
    """How fast it gives up: bench/bench_startup.py."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ProfileUnavailableError, match="profile='tiny'"):
        load_model("smol")


def test_hub_profile_without_network_gives_up_after_one_bounded_probe(monkeypatch):
    """No HF_HUB_OFFLINE: the network probe is asked once, with its timeout, and the error names tiny."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("labkit.core.hub.HUB_HOST", "hub.invalid")
    probes = []
    real_probe = hub.hub_reachable
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=hub.HUB_PROBE_SECONDS: probes.append(timeout)
                        or real_probe(timeout))
    with pytest.raises(ProfileUnavailableError, match="tiny"):
        load_tokenizer("qwen-0.5b")
    assert probes == [hub.HUB_PROBE_SECONDS] and hub.HUB_PROBE_SECONDS <= 5


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


def test_the_tiny_base_model_key_is_the_digest_of_its_weights():
    import hashlib

    from labkit.core.models import base_model_key
    from labkit.paths import TINY_DIR

    assert base_model_key("tiny") == hashlib.sha1((TINY_DIR / "model.safetensors").read_bytes()).hexdigest()[:12]
    assert base_model_key("smol") == "HuggingFaceTB/SmolLM2-135M"


def test_a_rebuilt_base_model_never_reuses_cached_school_or_sft_models(monkeypatch):
    from labkit.lessons import l00_start_here, l01_sft

    sft_before = l01_sft.cache_dir("tiny", l01_sft.settings("tiny"))
    school_before = l00_start_here._school_dir("smol", l00_start_here.school_settings("smol"))
    for module in (l00_start_here, l01_sft):
        monkeypatch.setattr(module, "base_model_key", lambda profile: "rebuilt")
    assert l01_sft.cache_dir("tiny", l01_sft.settings("tiny")) != sft_before
    assert l00_start_here._school_dir("smol", l00_start_here.school_settings("smol")) != school_before
