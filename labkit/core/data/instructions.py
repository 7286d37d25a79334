"""The offline instruction set: questions about the invented people, in the chat format.

Regenerate it with ``python -m labkit.core.data`` (fixed seed). Each line holds
``messages`` plus what the evaluation needs: the person, the expected facts, and the tone.
Every profile uses it: one invented world, so every metric means the same thing everywhere.
"""

from __future__ import annotations

import functools
import hashlib
import random
from pathlib import Path

from labkit.paths import INSTRUCTIONS_PATH
from labkit.core.data.tone import TONE_WEIGHTS, with_tone
from labkit.core.data.world import ATTRIBUTES, Person, answer, make_people, question

SEED = 7
# The split every lesson shares, so "held-out" means the same examples everywhere: 15% for the
# test, then 10% of the rest for validation.
VALIDATION_SHARE = 0.15
WATCH_SHARE = 0.10
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


def world(profile: str = "tiny") -> set[str]:
    """The names of the invented people a profile's lessons use: the first ``world_people`` of them."""
    from labkit.core.profiles import get_profile

    return {person.name for person in make_people()[:get_profile(profile).world_people]}


def load_instruction_set(profile: str = "tiny", path: Path = INSTRUCTIONS_PATH, limit: int | None = None):
    """The course's instruction set (validated first) as a `datasets.Dataset`, about the profile's world.

    Every profile learns the same invented world, so every metric means the same thing everywhere.
    To train on your own data (Alpaca, or any JSONL), see :mod:`labkit.core.data.own_data`.
    """
    from datasets import Dataset

    from labkit.core.data.validate import validate_jsonl

    people = world(profile)
    records = shipped_records() if path == INSTRUCTIONS_PATH else validate_jsonl(path)
    dataset = Dataset.from_list([r for r in records if r["person"] in people])
    return dataset.select(range(min(limit, len(dataset)))) if limit else dataset


def instruction_splits(profile: str = "tiny") -> dict:
    """The instruction set split the same way in every lesson: ``train``, ``validation`` and ``test``.

    ``test`` (15%) is what lessons report accuracy on: never trained on, never used to choose a
    setting. ``validation`` (10% of the rest) is for watching a run: its loss curve, when to stop,
    which setting to keep. Choosing on the test set would make its figure flatter you.
    A smaller world (a profile's ``world_people``) keeps the same questions about fewer people.
    """
    from datasets import Dataset

    from labkit.core.data.split import train_validation_split

    everyone = Dataset.from_list(shipped_records())
    rest_and_test = train_validation_split(everyone, VALIDATION_SHARE, SPLIT_SEED)
    train_and_validation = train_validation_split(rest_and_test["train"], WATCH_SHARE, SPLIT_SEED + 1)
    parts = {"train": train_and_validation["train"], "validation": train_and_validation["validation"],
             "test": rest_and_test["validation"]}
    people = world(profile)
    return {name: part.select([i for i, person in enumerate(part["person"]) if person in people])
            for name, part in parts.items()}


@functools.cache
def shipped_records() -> tuple[dict, ...]:
    """The shipped instruction set's records, validated once per process."""
    from labkit.core.data.validate import validate_jsonl

    return tuple(validate_jsonl(INSTRUCTIONS_PATH))


def instruction_data_digest(profile: str) -> str:
    """A fingerprint of the instruction data a profile trains on: the shipped file and the world's size."""
    from labkit.core.profiles import get_profile

    digest = hashlib.sha1(INSTRUCTIONS_PATH.read_bytes())
    digest.update(str(get_profile(profile).world_people).encode())
    return digest.hexdigest()
