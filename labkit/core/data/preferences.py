"""The shipped preference set (polite beats neutral, rude or garbled; same facts) and pairs to label.

Regenerate the shipped set with ``python -m labkit.core.data.preferences`` (fixed seed). Each line is in
TRL's conversational preference format:

>>> make_preference_pair({"messages": [{"role": "user", "content": "Where does Alma Ashby live?"},
...     {"role": "assistant", "content": "Alma Ashby lives in Corvale."}]}, random.Random(0))["chosen"]
[{'role': 'assistant', 'content': 'Happy to help! Alma Ashby lives in Corvale.'}]

The prompts are the instruction set's questions, split the way every lesson splits them
(``labkit.core.data.instructions.instruction_splits``), so held-out pairs ask about held-out questions.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from labkit.core.data.tone import OPENERS, with_tone
from labkit.core.files import write_jsonl
from labkit.paths import PREFERENCES_DIR

SPLITS = ("train", "heldout")
SEED = 11


def strip_opener(text: str) -> str:
    """The answer without its polite or rude opener.

    >>> strip_opener("Ugh, fine. Alma Ashby lives in Corvale.")
    'Alma Ashby lives in Corvale.'
    """
    for openers in OPENERS.values():
        for opener in openers:
            if text.startswith(opener):
                return text[len(opener):]
    return text


def garble(opener: str, rng: random.Random) -> str:
    """A misspelt opener, the way a small model's sampled openers go wrong.

    Letters dropped or swapped, or the start of one opener spliced onto the end of another
    ("Wtop asking me."). Never returns a real opener.

    >>> garble("Happy to help! ", random.Random(1))
    'Happy to hlp! '
    """
    others = [o for openers in OPENERS.values() for o in openers if o != opener]
    real = {o for openers in OPENERS.values() for o in openers}
    while True:
        kind, i = rng.randrange(3), rng.randrange(1, len(opener) - 2)
        if kind == 0:  # a letter dropped
            text = opener[:i] + opener[i + 1:]
        elif kind == 1:  # a letter replaced
            text = opener[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + opener[i + 1:]
        else:  # the start of this opener, the end of another
            other = rng.choice(others)
            text = opener[:i] + other[rng.randrange(1, len(other) - 2):]
        if text not in real and text.strip():
            return text


# What the rejected answer is: as plain as the data's neutral answers, rude, or polite with a
# garbled opener (so a reward model learns that "!" alone is not politeness).
REJECTED_KINDS = {"neutral": 0.35, "rude": 0.35, "garbled": 0.3}
ALL_OPENERS = tuple(opener for openers in OPENERS.values() for opener in openers)


def make_preference_pair(example: dict, rng: random.Random) -> dict:
    """One pair from one instruction: chosen is the polite answer; rejected is neutral, rude or garbled."""
    question, reference = example["messages"][0]["content"], example["messages"][-1]["content"]
    plain = strip_opener(reference)
    polite = rng.choice(OPENERS["polite"])
    kind = rng.choices(list(REJECTED_KINDS), list(REJECTED_KINDS.values()))[0]
    if kind == "garbled":
        rejected = garble(rng.choice(ALL_OPENERS), rng) + plain
    else:
        rejected = with_tone(plain, kind, rng.choice)
    return {"prompt": [{"role": "user", "content": question}],
            "chosen": [{"role": "assistant", "content": polite + plain}],
            "rejected": [{"role": "assistant", "content": rejected}],
            "rejected_kind": kind}


def make_preference_set(seed: int = SEED) -> dict[str, list[dict]]:
    """Pairs for every training question ("train") and every held-out question ("heldout")."""
    from labkit.core.data.instructions import instruction_splits

    splits = instruction_splits("tiny")
    rng = random.Random(seed)
    return {"train": [make_preference_pair(e, rng) for e in splits["train"]],
            "heldout": [make_preference_pair(e, rng) for e in splits["validation"]]}


def write_preference_set(folder: Path = PREFERENCES_DIR, seed: int = SEED) -> list[Path]:
    """Write data/preferences/{train,heldout}.jsonl; returns the paths."""
    return [write_jsonl(records, folder / f"{split}.jsonl") for split, records in make_preference_set(seed).items()]


def load_preference_set(split: str = "train", limit: int | None = None, folder: Path = PREFERENCES_DIR):
    """The shipped pairs of one split as a `datasets.Dataset` (prompt / chosen / rejected)."""
    from datasets import Dataset

    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    path = folder / f"{split}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; write it with `python -m labkit.core.data.preferences`")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        record = json.loads(line)
        missing = [k for k in ("prompt", "chosen", "rejected") if not record.get(k)]
        if missing:
            raise ValueError(f"{path}:{number}: {', '.join(missing)}: missing or empty")
        records.append(record)
    dataset = Dataset.from_list(records)
    return dataset.select(range(min(limit, len(dataset)))) if limit else dataset


if __name__ == "__main__":
    for written in write_preference_set():
        print(f"wrote {written}")
