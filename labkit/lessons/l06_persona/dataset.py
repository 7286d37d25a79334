"""The persona dataset: examples in Mistral's chat format, a system prompt, a split, statistics.

Each line of a Mistral fine-tuning file is ``{"messages": [...]}``: an optional system message
first, then user and assistant turns alternating, the last one from the assistant.

>>> Example.pair("Where is it?", "Upstream.", "synthetic").record()
{'messages': [{'role': 'user', 'content': 'Where is it?'}, {'role': 'assistant', 'content': 'Upstream.'}]}
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from labkit.core.data.split import train_validation_split
from labkit.core.data.validate import count_tokens

STRATEGIES = ("dialogue", "narrative", "synthetic")  # strategies A, B and C


@dataclass
class Example:
    """One conversation plus where it came from (the strategy is not written to the JSONL)."""

    messages: list[dict]
    strategy: str
    source: str = ""

    @classmethod
    def pair(cls, user: str, assistant: str, strategy: str, source: str = "") -> Example:
        return cls([{"role": "user", "content": user}, {"role": "assistant", "content": assistant}],
                   strategy, source)

    def with_system(self, system: str | None) -> Example:
        """The same conversation with ``system`` as its first message (or none)."""
        turns = [m for m in self.messages if m["role"] != "system"]
        if system:
            turns = [{"role": "system", "content": system}, *turns]
        return Example(turns, self.strategy, self.source)

    def record(self) -> dict:
        """The line written to the JSONL file: the messages only."""
        return {"messages": self.messages}


def from_turns(turns, source: str = "novella") -> list[Example]:
    """Strategy A's ``Turn`` pairs as examples."""
    return [Example.pair(t.user, t.assistant, "dialogue", f"{source}@{t.offset}") for t in turns]


def with_system_prompt(examples: list[Example], system_prompt: str, share: float = 1.0,
                       seed: int = 0) -> list[Example]:
    """The examples, a seeded ``share`` of them opening with ``system_prompt`` (the rest with none).

    >>> [e.messages[0]["role"] for e in with_system_prompt([Example.pair("q", "a", "dialogue")] * 2, "Be Nell.")]
    ['system', 'system']
    """
    rng = random.Random(seed)
    return [e.with_system(system_prompt if rng.random() < share else None) for e in examples]


def split_train_validation(examples: list[Example], validation_share: float = 0.15,
                           seed: int = 0) -> tuple[list[Example], list[Example]]:
    """The course's seeded split (``labkit.core.data.split``), stratified by strategy, on examples.

    A strategy with a single example (a short context can drop all but one) cannot be split: it
    goes to training.

    >>> train, validation = split_train_validation([Example.pair("q", "a", "dialogue")] * 20, 0.15)
    >>> len(train), len(validation)
    (17, 3)
    >>> [len(part) for part in split_train_validation([Example.pair("q", "a", "dialogue")] * 20
    ...                                               + [Example.pair("q", "a", "narrative")])]
    [18, 3]
    """
    from datasets import Dataset

    counts = Counter(e.strategy for e in examples)
    alone = [e for e in examples if counts[e.strategy] < 2]
    rest = [e for e in examples if counts[e.strategy] >= 2]
    rows = Dataset.from_dict({"row": list(range(len(rest))), "strategy": [e.strategy for e in rest]})
    parts = train_validation_split(rows, validation_share, seed, stratify_by="strategy")
    return [rest[i] for i in parts["train"]["row"]] + alone, [rest[i] for i in parts["validation"]["row"]]


def fit_to_length(examples: list[Example], tokenizer, max_tokens: int) -> tuple[list[Example], int]:
    """Drop examples longer than ``max_tokens`` (cutting a reply would teach half sentences)."""
    kept = [e for e in examples if count_tokens(e.messages, tokenizer) <= max_tokens]
    return kept, len(examples) - len(kept)


@dataclass
class DatasetStatistics:
    """What is in a dataset: examples and tokens per strategy, and the voice of the replies."""

    examples_by_strategy: dict[str, int]
    tokens_by_strategy: dict[str, int]
    mean_tokens: float
    max_tokens: int
    voice_by_strategy: dict[str, dict[str, float]] = field(default_factory=dict)

    def table(self) -> str:
        rows = [f"{'strategy':<10} {'examples':>8} {'tokens':>7} {'1st person':>10} {'lexicon':>8} {'persona':>8}"]
        for s, n in self.examples_by_strategy.items():
            v = self.voice_by_strategy.get(s, {})
            nan = float("nan")
            rows.append(f"{s:<10} {n:>8} {self.tokens_by_strategy.get(s, 0):>7} "
                        f"{v.get('first_person_rate', nan):>10.2f} {v.get('lexicon_rate', nan):>8.3f} "
                        f"{v.get('persona_score', nan):>8.2f}")
        return "\n".join(rows)


def dataset_statistics(examples: list[Example], tokenizer=None, scorer=None) -> DatasetStatistics:
    """Counts per strategy; tokens if a tokenizer is given; voice metrics if a scorer is given."""
    counts = Counter(e.strategy for e in examples)
    order = [s for s in STRATEGIES if s in counts] + sorted(set(counts) - set(STRATEGIES))
    lengths = defaultdict(list)
    if tokenizer is not None:
        for e in examples:
            lengths[e.strategy].append(count_tokens(e.messages, tokenizer))
    every = [n for ns in lengths.values() for n in ns]
    voice = {}
    if scorer is not None:
        for s in order:
            replies = [m["content"] for e in examples if e.strategy == s for m in e.messages
                       if m["role"] == "assistant"]
            voice[s] = scorer.components(replies)
    return DatasetStatistics(
        examples_by_strategy={s: counts[s] for s in order},
        tokens_by_strategy={s: sum(lengths[s]) for s in order},
        mean_tokens=sum(every) / len(every) if every else 0.0,
        max_tokens=max(every, default=0),
        voice_by_strategy=voice,
    )
