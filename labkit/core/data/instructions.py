"""The offline instruction set: questions about the invented people, in the chat format.

Regenerate it with ``python -m labkit.core.data`` (fixed seed). Each line holds
``messages`` plus what the evaluation needs: the person, the expected facts, and the tone.
On hub profiles, :func:`load_instruction_set` loads ``tatsu-lab/alpaca`` instead.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from labkit.paths import INSTRUCTIONS_PATH
from labkit.core.data.tone import TONE_WEIGHTS, with_tone
from labkit.core.data.world import ATTRIBUTES, Person, answer, make_people, question

SEED = 7
# The split every lesson shares, so "held-out" means the same examples everywhere.
VALIDATION_SHARE = 0.15
SPLIT_SEED = 0


def fact_example(person: Person, attribute: str, rng: random.Random, tone: str = "neutral") -> dict:
    """One question about one fact, answered in a given tone."""
    return {
        "messages": [{"role": "user", "content": question(person, attribute, rng)},
                     {"role": "assistant", "content": with_tone(answer(person, attribute), tone, rng.choice)}],
        "kind": "fact", "person": person.name, "expected": {attribute: getattr(person, attribute)},
        "tone": tone, "qa_in_pretraining": person.qa_in_pretraining,
    }


def make_instruction_set(seed: int = SEED) -> list[dict]:
    """One question per person and fact (2,400 examples), tones mixed by TONE_WEIGHTS."""
    rng = random.Random(seed)
    tones, weights = zip(*TONE_WEIGHTS.items())
    examples = [fact_example(person, attribute, rng, rng.choices(tones, weights)[0])
                for person in make_people() for attribute in ATTRIBUTES]
    rng.shuffle(examples)
    return examples


def load_instruction_set(profile: str = "tiny", path: Path = INSTRUCTIONS_PATH, limit: int | None = None):
    """The instruction set as a `datasets.Dataset` with a ``messages`` column.

    ``tiny`` reads the project's own JSONL (validated first); hub profiles load
    ``tatsu-lab/alpaca`` and convert it to messages.
    """
    from datasets import Dataset, load_dataset

    from labkit.core.data.formats import alpaca_to_messages
    from labkit.core.data.validate import validate_jsonl
    from labkit.core.profiles import get_profile

    if not get_profile(profile).on_hub:
        records = validate_jsonl(path)
        dataset = Dataset.from_list(records)
    else:
        alpaca = load_dataset("tatsu-lab/alpaca", split="train")
        dataset = alpaca.map(alpaca_to_messages, remove_columns=alpaca.column_names)
    return dataset.select(range(min(limit, len(dataset)))) if limit else dataset


def instruction_splits(profile: str = "tiny"):
    """The instruction set split into train and validation, the same way in every lesson."""
    from labkit.core.data.split import train_validation_split

    return train_validation_split(load_instruction_set(profile), VALIDATION_SHARE, SPLIT_SEED)


def instruction_data_digest(profile: str) -> str:
    """A fingerprint of the instruction data a profile trains on (the shipped file, or the hub dataset's name)."""
    from labkit.core.profiles import get_profile

    if not get_profile(profile).on_hub:
        return hashlib.sha1(INSTRUCTIONS_PATH.read_bytes()).hexdigest()
    return "tatsu-lab/alpaca"  # what load_instruction_set loads on hub profiles
