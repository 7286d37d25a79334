"""Lesson 04 — DPO: learn straight from preference pairs, and compare the result with lesson 03's RLHF.

It reads lesson 03 only through calls: ``l03_rlhf.labels_path``, ``l03_rlhf.load_run`` (or
``run_headless``) and ``l03_rlhf.policy_folder``. Its own files are the blind comparison's pairs and
labels, next to lesson 03's in ``labels/``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from labkit.core.data.blind import BlindResult, blind_result, make_blind_pairs
from labkit.core.data.labels import LabelStore, load_pairs, save_pairs
from labkit.core.data.preferences import load_preference_set
from labkit.core.evaluate import preferred_behaviour_rate
from labkit.lessons import l00_start_here, l03_rlhf
from labkit.methods.dpo import DPOSettings, implicit_rewards, parameters_in_memory, preference_accuracy, train_dpo
from labkit.paths import labels_dir

__all__ = ["DPOSettings", "train_dpo", "implicit_rewards", "preference_accuracy", "parameters_in_memory",
           "BlindResult", "blind_result", "sft_model", "training_pairs", "blind_pairs", "saved_blind_pairs", "blind_store",
           "beta_sweep", "plot_beta_sweep", "rlhf_run", "rlhf_policy_folder", "dpo_settings", "policy", "base_model", "rlhf_vs_dpo"]

COLUMNS = ["prompt", "chosen", "rejected"]


def base_model(profile: str = "tiny"):
    """Lesson 00's base model, for the side-by-side table."""
    return l00_start_here.base_model(profile, log=lambda message: None)[0]


def sft_model(profile: str = "tiny", log=print):
    """Lesson 01's SFT model, the starting point and DPO's reference: (model, tokenizer, folder)."""
    return l03_rlhf.sft_model(profile, log=log)


def training_pairs(profile: str = "tiny", n_shipped: int = 2040, seed: int = 0, log=print):
    """The shipped preference pairs plus lesson 03's labels (yours and the simulated annotator's), shuffled."""
    from datasets import concatenate_datasets

    parts = [load_preference_set("train", limit=n_shipped).select_columns(COLUMNS)]
    labels = l03_rlhf.labels_path(profile)
    if labels.exists():
        export = LabelStore(labels).export()
        log(f"lesson 03's labels: {export}")
        parts.append(export.dataset.select_columns(COLUMNS))
    else:
        log("no labels from lesson 03 yet: training on the shipped set only")
    return concatenate_datasets(parts).shuffle(seed=seed)


def _blind_pairs_path(profile: str) -> Path:
    return labels_dir() / f"04_dpo-{profile}.blind-pairs.jsonl"


def blind_pairs(profile: str, questions: list[str], replies: dict[str, list[str]], seed: int = 0) -> list[dict]:
    """The blind comparison's pairs, written next to the labels so a reopened notebook shows the same ones."""
    return load_pairs(save_pairs(make_blind_pairs(questions, replies, seed), _blind_pairs_path(profile)))


def saved_blind_pairs(profile: str = "tiny") -> list[dict]:
    """The blind pairs written by :func:`blind_pairs` (so the widget cell also runs on its own)."""
    return load_pairs(_blind_pairs_path(profile))


def blind_store(profile: str = "tiny") -> LabelStore:
    """Where the blind comparison's judgements are kept."""
    return LabelStore(labels_dir() / f"04_dpo-{profile}-blind.jsonl")


def rlhf_run(profile: str = "tiny", log=print) -> dict:
    """Lesson 03's numbers: from its cache, or recomputed now (same recipe, shipped labels only)."""
    return l03_rlhf.load_run(profile) or l03_rlhf.run_headless(profile, log=log)


def rlhf_policy_folder(profile: str = "tiny") -> Path | None:
    """Lesson 03's trained policy, if it has run for this profile."""
    return l03_rlhf.policy_folder(profile)


def rlhf_vs_dpo(rlhf: dict, dpo_seconds: float, dpo_peak_memory_mb: float, dpo_rate: float):
    """Lesson 03's route and DPO side by side, each figure in its own format (counts as counts)."""
    import pandas as pd

    rows = {"models trained": (rlhf["models_trained"], 1),
            "models held in memory during training": (rlhf["models_in_memory"], 1),
            "wall time (s)": (f"{rlhf['wall_seconds']:.0f}", f"{dpo_seconds:.0f}"),
            "peak memory (MB above start)": (f"{rlhf['peak_memory_mb']:.0f}", f"{dpo_peak_memory_mb:.0f}"),
            "polite replies (held-out, greedy)": (f"{rlhf['preferred_behaviour_rate']:.0%}", f"{dpo_rate:.0%}")}
    return pd.DataFrame(rows, index=["RLHF (reward model + RLOO)", "DPO (LoRA)"]).T


def dpo_settings(profile: str, **overrides) -> DPOSettings:
    """The profile's DPO recipe, with the notebook's parameters (None keeps the profile's)."""
    return DPOSettings.for_profile(profile, **overrides)


def policy(profile: str, folder):
    """A fresh copy of lesson 01's model for DPO to train an adapter on (in 4 bits on a 4-bit profile)."""
    from labkit.core.models import load_model, load_tokenizer

    return load_model(folder, tokenizer=load_tokenizer(folder), for_profile=profile)


def beta_sweep(profile: str, folder, tokenizer, train_dataset, heldout_pairs, questions: list[str],
               betas=(0.03, 0.1, 0.3, 1.0), settings: DPOSettings | None = None, log=print) -> list[dict]:
    """Train one short DPO run per beta from the model in ``folder``; measure what each reached."""
    settings = settings or dpo_settings(profile)
    rows = []
    for beta in betas:
        run = train_dpo(policy(profile, folder), tokenizer, train_dataset, replace(settings, beta=beta, live_plot=False))
        chosen, rejected = implicit_rewards(run.model, tokenizer, heldout_pairs, beta)
        rate, _ = preferred_behaviour_rate(run.model, tokenizer, questions)
        # How far the policy moved from the reference on held-out chosen answers, in nats (log-ratio / beta).
        rows.append({"beta": beta, "preference_accuracy": (chosen > rejected).float().mean().item(),
                     "preferred_behaviour_rate": rate, "drift_nats": (chosen / beta).mean().item(),
                     "seconds": run.seconds})
        log(f"beta {beta:<5} accuracy {rows[-1]['preference_accuracy']:.0%}  polite {rate:.0%}  "
            f"drift {rows[-1]['drift_nats']:+.2f} nats  ({run.seconds:.0f} s)")
    return rows


def plot_beta_sweep(rows: list[dict]):
    """Preference accuracy, behaviour rate and drift against beta (a log axis labelled at the betas tried)."""
    import matplotlib.pyplot as plt

    from labkit.core.plots import label_log_axis

    betas = [r["beta"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.plot(betas, [r["preference_accuracy"] for r in rows], marker="o", label="held-out preference accuracy")
    left.plot(betas, [r["preferred_behaviour_rate"] for r in rows], marker="o", label="polite replies (greedy)")
    left.set(xlabel="beta", ylabel="share of held-out questions", ylim=(0, 1.05), title="what DPO reached")
    left.legend(fontsize=8)
    right.plot(betas, [r["drift_nats"] for r in rows], marker="o", color="tab:red")
    right.set(xlabel="beta", ylabel="nats", title="drift from the reference (chosen answers)")
    for ax in (left, right):
        label_log_axis(ax, betas)
    fig.tight_layout()
    plt.close(fig)
    return fig
