"""Models that later lessons start from, built on demand and cached, so any lesson runs alone."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from labkit.lessons import REPO_ROOT
from labkit.train import SFTSettings

CACHE_DIR = REPO_ROOT / "build" / "cache"
# The data split every lesson shares, so "held-out" means the same examples everywhere.
VALIDATION_SHARE = 0.15
SPLIT_SEED = 0


def instruction_splits(profile: str = "tiny"):
    """The instruction set split into train and validation, the same way in every lesson."""
    from labkit.data import load_instruction_set, train_validation_split

    return train_validation_split(load_instruction_set(profile), VALIDATION_SHARE, SPLIT_SEED)


def instruction_data_digest(profile: str) -> str:
    """A fingerprint of the instruction data a profile trains on (the shipped file, or the hub dataset's name)."""
    from labkit.data.instructions import INSTRUCTIONS_PATH
    from labkit.profiles import get_profile

    if not get_profile(profile).on_hub:
        return hashlib.sha1(INSTRUCTIONS_PATH.read_bytes()).hexdigest()
    return "tatsu-lab/alpaca"  # what load_instruction_set loads on hub profiles


def sft_cache_dir(profile: str, settings: SFTSettings) -> Path:
    """Where the SFT model for these settings is cached: one folder per profile and settings."""
    relevant = {k: v for k, v in asdict(settings).items() if k not in ("output_dir", "live_plot", "eval_every",
                                                                       "logging_steps", "save_steps")}
    # The data is part of the key too: a regenerated instruction set must never reuse an old model.
    relevant["data_sha1"] = instruction_data_digest(profile)
    digest = hashlib.sha1(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:10]
    return CACHE_DIR / f"sft-{profile}-{digest}"


def sft_model(profile: str = "tiny", settings: SFTSettings | None = None, log=print):
    """The lesson-01 SFT model: loaded from the cache, or trained now (about 90 s on `tiny`).

    Returns (model, tokenizer, folder).
    """
    from labkit.models import load_model, load_tokenizer, save_model
    from labkit.train import train_sft

    settings = settings or SFTSettings()
    folder = sft_cache_dir(profile, settings)
    if (folder / "config.json").exists():
        log(f"loading the SFT model from the cache: {folder}")
        return load_model(folder), load_tokenizer(folder), folder
    log(f"no cached SFT model for profile {profile!r}: training it now (lesson 01's recipe)")
    model, tokenizer = load_model(profile), load_tokenizer(profile)
    splits = instruction_splits(profile)
    result = train_sft(model, tokenizer, splits["train"], None, settings)
    save_model(result.model, tokenizer, folder)
    (folder / "labkit_train.json").write_text(json.dumps(
        {"seconds": result.seconds, "tokens_per_second": result.tokens_per_second,
         "settings": asdict(settings)}, indent=1))
    return result.model, tokenizer, folder
