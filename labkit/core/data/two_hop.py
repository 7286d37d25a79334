"""Two-hop questions over the invented world, and the checker that grades their answers.

"Do Alma Ashby and Bram Calder live in the same town?" takes two facts and one comparison. The
answer states its reasoning in one sentence per person, then concludes:
"Alma Ashby lives in Corvale. Bram Calder lives in Velmora. So the answer is no."
Every fact is known to the world, so a program can check an answer: a verifiable reward.

>>> alma, bram = make_people()[:2]
>>> reply = reference_answer(alma, bram)
>>> grade(reply, [alma.name, bram.name], [alma.town, bram.town])
Grade(facts_right=2, verdict_right=True, well_formed=True)
>>> grade("Maybe.", [alma.name, bram.name], [alma.town, bram.town]).correct
False
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass

from labkit.core.data.world import ANSWERS, Person, make_people, mentioned_value

SEED = 16
QUESTIONS = {"town": "Do {a} and {b} live in the same town?", "pet": "Do {a} and {b} keep the same kind of pet?"}
CONCLUSION = "So the answer is {verdict}."
# The format the reasoning must take, checked as a whole: two stated facts, then the verdict.
FORMAT = re.compile(r"[^.]+\. [^.]+\. So the answer is (yes|no)\.")
VERDICT = re.compile(r"\banswer is (yes|no)\b", flags=re.IGNORECASE)


@dataclass(frozen=True)
class Grade:
    """What the checker found in one reply: right facts (0–2), the verdict, and the format."""

    facts_right: int
    verdict_right: bool
    well_formed: bool

    @property
    def correct(self) -> bool:
        """Right facts and the right conclusion: the answer and its reasoning both hold."""
        return self.facts_right == 2 and self.verdict_right


def stated_value(reply: str, name: str, attribute: str = "town") -> str | None:
    """The value of ``attribute`` that ``reply`` gives ``name``: the first in the first sentence naming them.

    >>> stated_value("Alma Ashby lives in Corvale. Bo Ingle lives in Wyndle.", "Bo Ingle")
    'Wyndle'
    """
    sentence = next((s for s in re.split(r"(?<=\.)\s+", reply) if name.lower() in s.lower()), "")
    return mentioned_value(sentence, attribute)


def stated_verdict(reply: str) -> str | None:
    """"yes" or "no" from "... So the answer is yes.", or None when the reply concludes nothing."""
    found = VERDICT.search(reply)
    return found.group(1).lower() if found else None


def follows_format(reply: str) -> bool:
    """Two stated facts, then "So the answer is yes." (or no), and nothing else."""
    return FORMAT.fullmatch(reply.strip()) is not None


def grade(reply: str, people: list[str], values: list[str], attribute: str = "town") -> Grade:
    """Check a reply to "Do ``people[0]`` and ``people[1]`` share ``attribute``?" against the world's ``values``."""
    facts = sum(stated_value(reply, name, attribute) == value for name, value in zip(people, values, strict=True))
    truth = "yes" if values[0] == values[1] else "no"
    return Grade(facts_right=facts, verdict_right=stated_verdict(reply) == truth,
                 well_formed=follows_format(reply))


def reference_answer(a: Person, b: Person, attribute: str = "town", worked: bool = True) -> str:
    """The answer the warm-up trains on: both facts, then the conclusion; or, not ``worked``, the bare verdict."""
    verdict = CONCLUSION.format(verdict="yes" if getattr(a, attribute) == getattr(b, attribute) else "no")
    if not worked:
        return verdict.replace("So the", "The")
    return " ".join([a.fill(ANSWERS[attribute], attribute), b.fill(ANSWERS[attribute], attribute), verdict])


def example(a: Person, b: Person, attribute: str = "town", worked: bool = True) -> dict:
    """One question with what the checker and the warm-up need: TRL's ``prompt`` and SFT's ``messages``.

    The facts sit in a column named for the attribute (``towns``, ``pets``), which a reward function
    receives as a keyword argument of that name.
    """
    question = [{"role": "user", "content": QUESTIONS[attribute].format(a=a.name, b=b.name)}]
    return {"prompt": question,
            "messages": question + [{"role": "assistant", "content": reference_answer(a, b, attribute, worked)}],
            "people": [a.name, b.name], f"{attribute}s": [getattr(a, attribute), getattr(b, attribute)]}


def pairs(people: list[Person], n: int, rng: random.Random, attribute: str = "town") -> list[tuple[Person, Person]]:
    """``n`` pairs, no two of the same people, half sharing ``attribute`` (by chance 1 in 15–20 would).

    A small world has few pairs that share it: then all of them, and pairs that differ for the rest.
    """
    if n > len(people) * (len(people) - 1) // 4:
        raise ValueError(f"{n} questions is too many for a world of {len(people)} people: ask fewer")
    index = {person.name: i for i, person in enumerate(people)}
    groups = defaultdict(list)
    for person in people:
        groups[getattr(person, attribute)].append(person)
    same = [(a, b) for group in groups.values() for a in group for b in group if index[a.name] < index[b.name]]
    found = rng.sample(same, min(n // 2, len(same)))
    different: set[tuple[int, int]] = set()
    while len(found) + len(different) < n:
        i, j = sorted(rng.sample(range(len(people)), 2))
        if getattr(people[i], attribute) != getattr(people[j], attribute):
            different.add((i, j))
    found += [(people[i], people[j]) for i, j in sorted(different)]
    return [(a, b) if rng.random() < 0.5 else (b, a) for a, b in found]  # who is named first: by chance


def two_hop_examples(names: set[str], n_train: int = 1200, n_test: int = 200, attribute: str = "town",
                     worked_share: float = 1.0, seed: int = SEED) -> dict[str, list[dict]]:
    """Train and held-out questions about the people in ``names``; no pair of people is in both.

    A ``worked_share`` of the training answers state their reasoning; the rest give the bare verdict,
    as people often do. Held-out means the question: its people also appear in training questions,
    as every person's facts appear in pre-training.
    """
    people = [person for person in make_people() if person.name in names]
    rng = random.Random(seed)
    chosen = pairs(people, n_train + n_test, rng, attribute)
    rng.shuffle(chosen)
    return {"train": [example(a, b, attribute, worked=rng.random() < worked_share) for a, b in chosen[:n_train]],
            "test": [example(a, b, attribute) for a, b in chosen[n_train:]]}


def digest(examples: dict) -> str:
    """A fingerprint of the questions, for cache keys: other questions never reuse a model."""
    return hashlib.sha1(json.dumps(examples, sort_keys=True).encode()).hexdigest()[:10]
