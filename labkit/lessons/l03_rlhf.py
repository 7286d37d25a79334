"""Lesson 03 — RLHF: your preference labels → a reward model → a policy optimised with RLOO.

What this lesson hands on (lesson 04 reads these through the calls below, never by file name):

- ``labels_path(profile)``: the learner's preference labels (``labels/03_rlhf-<profile>.jsonl``);
- ``load_run(profile)``: the run's summary and policy (``build/cache/rlhf-<profile>/``), or
  ``run_headless(profile)`` to recompute them where lesson 03 has not run.
"""

from __future__ import annotations

from pathlib import Path

from labkit.core.data.instructions import instruction_splits
from labkit.core.data.label_records import make_pair
from labkit.core.data.labels import load_pairs, save_pairs
from labkit.core.data.preferences import load_preference_set
from labkit.core.files import atomic_write_json
from labkit.core.profiles import get_profile
from labkit.lessons import l01_sft
from labkit.methods.adapters import merged
from labkit.methods.lora import LoraSettings
from labkit.methods.reward import RewardSettings, pairwise_accuracy, score, train_reward_model
from labkit.methods.rloo import RLSettings, sampled_rewards, train_policy
from labkit.methods.trainer import TrainResult
from labkit.paths import CACHE_DIR, labels_dir

__all__ = ["merged", "RewardSettings", "train_reward_model", "pairwise_accuracy", "score", "RLSettings", "train_policy",
           "sampled_rewards", "labels_table", "sft_model", "reward_settings", "rl_settings", "train_judge", "policy_and_adapters",
           "labels_path", "labeling_pairs_path", "labeling_pairs", "save_run", "load_run", "run_headless",
           "summary_of", "policy_folder", "questions"]


def sft_model(profile: str = "tiny", log=print):
    """Lesson 01's SFT model, the starting point: (model, tokenizer, folder)."""
    return l01_sft.model(profile, log=log)


def labels_table(export, n: int = 5):
    """The first ``n`` exported pairs as text a learner reads: question, chosen and rejected answers, who chose."""
    import pandas as pd

    rows = export.dataset.select(range(min(n, len(export.dataset))))
    return pd.DataFrame({"question": [p[0]["content"] for p in rows["prompt"]],
                         "chosen": [c[0]["content"] for c in rows["chosen"]],
                         "rejected": [r[0]["content"] for r in rows["rejected"]],
                         "annotator": rows["annotator"]})


def questions(profile: str = "tiny", n_heldout: int | None = None) -> tuple[list[str], list[str]]:
    """The training questions and the held-out test ones (the shared split's), as plain text."""
    splits = instruction_splits(profile)
    heldout = [e["messages"][0]["content"] for e in splits["test"]]
    return [e["messages"][0]["content"] for e in splits["train"]], heldout[:n_heldout]


def reward_settings(profile: str, **overrides) -> RewardSettings:
    """The profile's reward-model recipe, with the notebook's parameters (None keeps the profile's)."""
    return RewardSettings.for_profile(profile, **overrides)


def rl_settings(profile: str, **overrides) -> RLSettings:
    """The profile's RLOO recipe, with the notebook's parameters (None keeps the profile's)."""
    return RLSettings.for_profile(profile, **overrides)


def train_judge(profile: str, sft_folder, tokenizer, pairs, settings: RewardSettings):
    """The reward model from lesson 01's model: every weight on a full-precision profile; QLoRA on a 4-bit one."""
    quantization = get_profile(profile).quantization
    lora = LoraSettings.for_profile(profile) if quantization else None
    return train_reward_model(sft_folder, tokenizer, pairs, settings, quantization=quantization, lora=lora)


def policy_and_adapters(profile: str, sft_folder):
    """A fresh copy of lesson 01's model to optimise, and LoRA where the profile's base is 4-bit (else None)."""
    from labkit.core.models import load_model, load_tokenizer

    tokenizer = load_tokenizer(sft_folder)
    policy = load_model(sft_folder, tokenizer=tokenizer, for_profile=profile)
    lora = LoraSettings.for_model(profile, policy, tokenizer).config() if get_profile(profile).quantization else None
    return policy, lora


def labels_path(profile: str = "tiny") -> Path:
    """The learner's preference labels for this profile: kept in labels/, which `make clean` leaves alone."""
    return labels_dir() / f"03_rlhf-{profile}.jsonl"


def sample_pairs(model, tokenizer, prompts: list[str], seed: int = 0, samples: int = 4,
                 temperature: float = 1.0) -> list[dict]:
    """Pairs to label: two different sampled replies of ``model`` per prompt (as RLHF data is made).

    Draws ``samples`` replies per prompt and keeps the first two that differ; a prompt whose
    replies are all the same gives no pair.
    """
    import torch

    from labkit.core.evaluate import generate_replies

    torch.manual_seed(seed)
    conversations = [[{"role": "user", "content": q}] for q in prompts]
    draws = [generate_replies(model, tokenizer, conversations, do_sample=True, temperature=temperature)
             for _ in range(samples)]
    pairs = []
    for i, prompt in enumerate(prompts):
        distinct = list(dict.fromkeys(draw[i] for draw in draws if draw[i]))
        if len(distinct) >= 2:
            pairs.append(make_pair(prompt, distinct[0], distinct[1]))
    return pairs


def labeling_pairs_path(profile: str = "tiny", n_pairs: int = 64) -> Path:
    """Where the pairs to label are kept, next to the labels."""
    return labels_dir() / f"03_rlhf-{profile}-{n_pairs}.pairs.jsonl"


def labeling_pairs(profile: str = "tiny", n_pairs: int = 64, seed: int = 0, log=print) -> list[dict]:
    """The pairs to label: sampled once from the SFT model on training questions, then kept next to the labels.

    Kept in a file so every session (and every kernel) shows the same pairs; held-out questions
    are never used, so they stay held out.
    """
    path = labeling_pairs_path(profile, n_pairs)
    if path.exists():
        return load_pairs(path)
    model, tokenizer, _ = sft_model(profile, log=log)
    train = instruction_splits(profile)["train"].shuffle(seed=seed).select(range(n_pairs))
    log(f"sampling pairs to label from the SFT model: {path}")
    return load_pairs(save_pairs(sample_pairs(model, tokenizer, [e["messages"][0]["content"] for e in train], seed),
                                 path))


# Lesson 04 compares DPO with this lesson's run: its numbers and policy are cached here.
def _run_dir(profile: str) -> Path:
    return CACHE_DIR / f"rlhf-{profile}"


def policy_folder(profile: str = "tiny") -> Path | None:
    """The folder of lesson 03's trained policy, or None if lesson 03 has not run for this profile."""
    folder = _run_dir(profile) / "policy"
    return folder if (folder / "config.json").exists() else None


def save_run(profile: str, summary: dict, policy=None, tokenizer=None) -> Path:
    """Keep this lesson's summary (and its policy) for lesson 04; returns the folder."""
    from labkit.core.models import save_model

    folder = _run_dir(profile)
    if policy is not None:
        save_model(policy, tokenizer, folder / "policy")
    atomic_write_json(folder / "summary.json", summary)
    return folder


def load_run(profile: str = "tiny") -> dict | None:
    """This lesson's cached summary, or None if it has not run for this profile."""
    import json

    path = _run_dir(profile) / "summary.json"
    return json.loads(path.read_text()) if path.exists() else None


def summary_of(reward: TrainResult, policy: TrainResult, behaviour_rate: float, extra=None) -> dict:
    """The numbers lesson 04 compares DPO with: two trainings, three models held while the policy trains."""
    return {"models_trained": 2, "models_in_memory": 3,  # policy, frozen reference, reward model
            "wall_seconds": reward.seconds + policy.seconds,
            "peak_memory_mb": max(reward.peak_memory_mb, policy.peak_memory_mb),
            "reward_seconds": reward.seconds, "policy_seconds": policy.seconds,
            "preferred_behaviour_rate": behaviour_rate, **(extra or {})}


def run_headless(profile: str = "tiny", n_eval: int = 200, log=print) -> dict:
    """This lesson without a learner, with the profile's recipes: reward model on the shipped pairs, RLOO
    against it; caches and returns the summary. Labels come from the shipped set only, so the run is the
    same on every machine."""
    from labkit.core.evaluate import preferred_behaviour_rate

    _, tokenizer, folder = sft_model(profile, log=log)
    train_questions, heldout = questions(profile, n_eval)
    log("recomputing lesson 03's RLHF run (reward model, then RLOO)")
    reward = train_judge(profile, folder, tokenizer, load_preference_set("train"),
                         reward_settings(profile, live_plot=False))
    policy, lora = policy_and_adapters(profile, folder)
    run = train_policy(policy, tokenizer, reward.model, train_questions, rl_settings(profile, live_plot=False),
                       peft_config=lora)
    rate, _ = preferred_behaviour_rate(run.model, tokenizer, heldout)
    summary = summary_of(reward, run, rate, {"recipe": "the profile's", "n_eval": n_eval})
    save_run(profile, summary, merged(run.model), tokenizer)
    return summary
