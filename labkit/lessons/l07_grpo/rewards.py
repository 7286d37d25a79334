"""Lesson 07's rewards: plain Python functions that check an answer against the world, no judge.

Each has the signature TRL's ``GRPOTrainer(reward_funcs=[...])`` calls: the sampled answers as
``completions`` (each a list holding one assistant message) and the dataset's other columns as
keyword arguments (here ``people`` and ``towns``). Each returns one float per answer.

>>> good = [[{"role": "assistant", "content": "Ada Ingle lives in Wyndle. Bo Stowe lives in Wyndle. So the answer is yes."}]]
>>> facts = dict(people=[["Ada Ingle", "Bo Stowe"]], towns=[["Wyndle", "Wyndle"]])
>>> correct_answer(good, **facts), well_formed(good), fact_credit(good, **facts)
([1.0], [0.2], [0.5])
"""

from __future__ import annotations

from labkit.core.data.two_hop import follows_format, grade

CORRECT = 1.0  # the answer and its reasoning hold: the checker's verdict
FORMAT = 0.2  # two stated facts, then "So the answer is yes/no.": smaller, so the format never outweighs the truth
PER_FACT = 0.25  # partial credit: each person's town stated right
MAX_REWARD = CORRECT + FORMAT + 2 * PER_FACT  # all three together
MAXIMA = {"correct_answer": CORRECT, "well_formed": FORMAT, "fact_credit": 2 * PER_FACT}  # the most each pays


def text_of(completion) -> str:
    """The answer's text: TRL passes chats as a list of messages, plain prompts as a string."""
    return completion if isinstance(completion, str) else completion[-1]["content"]


def correct_answer(completions, people, towns, **kwargs) -> list[float]:
    """1.0 when both towns are stated right and the yes/no follows from them, else 0.0."""
    return [CORRECT if grade(text_of(c), p, t).correct else 0.0 for c, p, t in zip(completions, people, towns)]


def well_formed(completions, **kwargs) -> list[float]:
    """0.2 when the answer takes the format "<fact>. <fact>. So the answer is yes|no.", whatever it says."""
    return [FORMAT if follows_format(text_of(c)) else 0.0 for c in completions]


def fact_credit(completions, people, towns, **kwargs) -> list[float]:
    """Partial credit: 0.25 for each person whose town the answer states right."""
    return [PER_FACT * grade(text_of(c), p, t).facts_right for c, p, t in zip(completions, people, towns)]
