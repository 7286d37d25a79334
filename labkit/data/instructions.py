"""The offline instruction set: questions about the invented people, in the chat format.

Regenerate it with ``python -m labkit.data`` (fixed seed). Each line holds
``messages`` plus what the evaluation needs: the person, the expected facts, and the tone.
On hub profiles, :func:`load_instruction_set` loads ``tatsu-lab/alpaca`` instead.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from labkit.lessons import REPO_ROOT
from labkit.tone import TONE_WEIGHTS, with_tone
from labkit.world import ATTRIBUTES, Person, answer, make_people, question

INSTRUCTIONS_PATH = REPO_ROOT / "data" / "sft" / "instructions.jsonl"
SEED = 7


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


def write_jsonl(records: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def load_instruction_set(profile: str = "tiny", path: Path = INSTRUCTIONS_PATH, limit: int | None = None):
    """The instruction set as a `datasets.Dataset` with a ``messages`` column.

    ``tiny`` reads the project's own JSONL (validated first); hub profiles load
    ``tatsu-lab/alpaca`` and convert it to messages.
    """
    from datasets import Dataset, load_dataset

    from labkit.data.formats import alpaca_to_messages
    from labkit.data.validate import validate_jsonl
    from labkit.profiles import get_profile

    if not get_profile(profile).on_hub:
        records = validate_jsonl(path)
        dataset = Dataset.from_list(records)
    else:
        alpaca = load_dataset("tatsu-lab/alpaca", split="train")
        dataset = alpaca.map(alpaca_to_messages, remove_columns=alpaca.column_names)
    return dataset.select(range(min(limit, len(dataset)))) if limit else dataset
