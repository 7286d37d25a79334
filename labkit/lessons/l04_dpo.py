"""Lesson 04 — DPO: learn straight from preference pairs, and compare the result with lesson 03's RLHF.

It reads lesson 03 only through calls: ``l03_rlhf.labels_path``, ``l03_rlhf.load_run`` (or
``run_headless``) and ``l03_rlhf.policy_folder``. Its own files are the blind comparison's pairs and
labels, next to lesson 03's in ``labels/``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from pathlib import Path

from labkit.core.data.blind import BlindResult, blind_result, make_blind_pairs
from labkit.core.data.labels import LabelStore, TrainingMix, load_pairs, save_pairs
from labkit.core.data.preferences import load_preference_set
from labkit.core.evaluate import preferred_behaviour_rate
from labkit.core.exercise import Verdict, check, right, wrong
from labkit.lessons import l00_start_here, l03_rlhf
from labkit.methods.dpo import (DPOSettings, implicit_rewards, parameters_in_memory, preference_accuracy,
                                reference_logps, train_dpo)
from labkit.paths import labels_dir

__all__ = ["DPOSettings", "train_dpo", "implicit_rewards", "preference_accuracy", "parameters_in_memory",
           "BlindResult", "blind_result", "sft_model", "training_pairs", "blind_pairs", "saved_blind_pairs", "blind_store",
           "beta_sweep", "plot_beta_sweep", "rlhf_run", "rlhf_policy_folder", "dpo_settings", "policy", "base_model", "rlhf_vs_dpo",
           "gap_asked_for", "smallest_beta", "beta_solution", "check_beta"]

COLUMNS = ["prompt", "chosen", "rejected"]


def base_model(profile: str = "tiny"):
    """Lesson 00's base model, for the side-by-side table."""
    return l00_start_here.base_model(profile, log=lambda message: None)[0]


def sft_model(profile: str = "tiny", log=print):
    """Lesson 01's SFT model, the starting point and DPO's reference: (model, tokenizer, folder)."""
    return l03_rlhf.sft_model(profile, log=log)


def training_pairs(profile: str = "tiny", n_shipped: int = 2040, seed: int = 0, log=print):
    """The shipped preference pairs plus lesson 03's labels (yours and the simulated annotator's), shuffled.

    Returns ``(dataset, mix)``: ``mix`` says how many pairs were shipped, labeled by people, simulated.
    """
    from datasets import concatenate_datasets

    shipped = load_preference_set("train", limit=n_shipped).select_columns(COLUMNS)
    parts, mix = [shipped], TrainingMix(len(shipped), 0, 0)
    labels = l03_rlhf.labels_path(profile)
    if labels.exists():
        export = LabelStore(labels).export()
        log(f"lesson 03's labels: {export}")
        parts.append(export.dataset.select_columns(COLUMNS))
        mix = export.mix(shipped=len(shipped))
    else:
        log("no labels from lesson 03 yet: training on the shipped set only")
    return concatenate_datasets(parts).shuffle(seed=seed), mix


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


def rlhf_vs_dpo(rlhf: dict, dpo_seconds: float, dpo_peak_memory_mb: float, dpo_rate: float,
                dpo_trained_on: TrainingMix):
    """Lesson 03's route and DPO side by side, each figure in its own format (counts as counts)."""
    import pandas as pd

    def pairs(mix: dict) -> str:
        return f"{mix['shipped']} + {mix['by_people']} + {mix['simulated']}" if mix else "not recorded"

    rows = {"preference pairs trained on (shipped + by people + simulated)":
            (pairs(rlhf.get("trained_on")), pairs(asdict(dpo_trained_on))),
            "models trained": (rlhf["models_trained"], 1),
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
    """Train one short DPO run per beta from the model in ``folder``; measure what each reached.

    Every run starts from the same model, so the reference's log-probabilities are computed once.
    """
    settings = settings or dpo_settings(profile)
    rows, reference = [], None
    for beta in betas:
        run = train_dpo(policy(profile, folder), tokenizer, train_dataset, replace(settings, beta=beta, live_plot=False))
        reference = reference or reference_logps(run.model, tokenizer, heldout_pairs)
        chosen, rejected = implicit_rewards(run.model, tokenizer, heldout_pairs, beta, reference)
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


# Your turn: pick a β that keeps drift under a target. DPO's loss -log σ(β·gap) reads σ(β·gap) as the
# chance that the chosen answer beats the rejected one; trained until that chance is 95%, β·gap = ln 19.
WIN_CHANCE = 0.95


def gap_asked_for(beta: float, win_chance: float = WIN_CHANCE) -> float:
    """Nats the policy must open between chosen and rejected answers (log-ratio to the reference) for the
    loss to read ``win_chance``.

    >>> round(gap_asked_for(0.1), 1), round(gap_asked_for(1.0), 2)
    (29.4, 2.94)
    """
    return math.log(win_chance / (1 - win_chance)) / beta


def smallest_beta(drift_target: float, win_chance: float = WIN_CHANCE) -> float:
    """The loosest leash that keeps the gap the loss asks for within ``drift_target`` nats."""
    return math.log(win_chance / (1 - win_chance)) / drift_target


def beta_solution(drift_target: float, betas) -> float:
    """The reference solution: the smallest β of the sweep within the target (else the bound, rounded up)."""
    fitting = [beta for beta in sorted(betas) if beta >= smallest_beta(drift_target)]
    return fitting[0] if fitting else math.ceil(smallest_beta(drift_target) * 100) / 100


def check_beta(beta, drift_target: float, sweep: list[dict]) -> Verdict:
    """Right when the gap DPO's loss asks for at ``beta`` stays within ``drift_target`` nats.

    >>> [check_beta(b, 10, []).status for b in (0.1, 0.3, None)]
    ['wrong', 'right', 'not attempted']
    """
    def judge(answer) -> Verdict:
        if not isinstance(answer, (int, float)) or isinstance(answer, bool) or answer <= 0:
            return wrong(f"β is a positive number, such as 0.1; you gave {answer!r}.")
        gap, bound = gap_asked_for(answer), smallest_beta(drift_target)
        measured = next((f" Your sweep measured a drift of {row['drift_nats']:+.2f} nats at β = {answer} after "
                         "its few steps, on held-out chosen answers." for row in sweep if row["beta"] == answer), "")
        if gap > drift_target:
            return wrong(f"at β = {answer} the loss asks for a gap of {gap:.1f} nats, over the {drift_target} allowed. "
                         f"A larger β makes a small gap count for more: β·gap = ln 19 ≈ 2.94 at a 95% chance, so "
                         f"gap = 2.94/β.{measured}")
        note = (f" It holds the policy much closer than needed, though: {bound:.2f} is the loosest leash that fits."
                if answer > 3 * bound else "")
        return right(f"at β = {answer} the loss is satisfied once the policy has moved chosen and rejected {gap:.1f} "
                     f"nats apart, within {drift_target}: any β from {bound:.2f} up stops the push that close to the "
                     f"SFT model.{note}{measured}")

    return check(beta, judge)
