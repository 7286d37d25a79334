"""A blind A/B of two models: pairs whose authors stay hidden, and the counted outcome with its interval.

Lesson 04 builds the pairs; the labeling widget shows them and reveals the result once all are judged.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from labkit.core.data.label_records import make_pair
from labkit.core.data.labels import LabelStore
from labkit.core.stats import wilson_interval


def make_blind_pairs(prompts: list[str], replies: dict[str, list[str]], seed: int = 0) -> list[dict]:
    """Pairs for a blind A/B of two models; which model is "a" is random per pair and kept in ``meta``.

    >>> pairs = make_blind_pairs(["Q?"], {"sft": ["X."], "dpo": ["Happy to help! X."]})
    >>> sorted(pairs[0]["meta"].values())
    ['dpo', 'sft']
    """
    if len(replies) != 2:
        raise ValueError(f"a blind A/B compares exactly two models, got {list(replies)}")
    (name_1, replies_1), (name_2, replies_2) = replies.items()
    rng = random.Random(seed)
    pairs = []
    for prompt, reply_1, reply_2 in zip(prompts, replies_1, replies_2, strict=True):
        if rng.random() < 0.5:
            pairs.append(make_pair(prompt, reply_1, reply_2, {"a": name_1, "b": name_2}))
        else:
            pairs.append(make_pair(prompt, reply_2, reply_1, {"a": name_2, "b": name_1}))
    return pairs


@dataclass
class BlindResult:
    """A blind A/B's outcome for ``model`` against ``other``: wins and losses exclude ties and skips."""

    model: str
    other: str
    wins: int
    losses: int
    ties: int
    skips: int
    simulated: int
    unlabeled: int

    @property
    def win_rate(self) -> float:
        decided = self.wins + self.losses
        return self.wins / decided if decided else 0.5

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.wins, self.wins + self.losses)

    def __str__(self) -> str:
        low, high = self.interval
        judged = self.wins + self.losses + self.ties + self.skips
        who = f"{judged - self.simulated} judged by people, {self.simulated} by the simulated annotator"
        return (f"{self.model} beats {self.other} in {self.win_rate:.0%} of decided pairs "
                f"(95% CI {low:.0%}–{high:.0%}; {self.wins} wins, {self.losses} losses, {self.ties} ties, "
                f"{self.skips} skips; {who})")


def blind_result(store: LabelStore, pairs: list[dict], model: str | None = None) -> BlindResult:
    """Count ``model``'s wins over the other model in the labels of these blind pairs."""
    names = sorted({name for pair in pairs for name in pair["meta"].values()})
    model = model or names[-1]
    other = next(name for name in names if name != model)
    labels = store.reload().effective_labels()
    counts = dict(wins=0, losses=0, ties=0, skips=0, simulated=0, unlabeled=0)
    for pair in pairs:
        label = labels.get(pair["pair_id"])
        if label is None:
            counts["unlabeled"] += 1
            continue
        counts["simulated"] += label["simulated"]
        if label["choice"] in ("tie", "skip"):
            counts[label["choice"] + "s"] += 1
        else:
            counts["wins" if label["meta"][label["choice"]] == model else "losses"] += 1
    return BlindResult(model, other, **counts)
