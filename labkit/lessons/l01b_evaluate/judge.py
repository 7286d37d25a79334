"""A model as judge, over HTTP: it writes its own answer key, and each answer is graded against it.

Judge models such as JudgeLM and Prometheus are LLMs fine-tuned on judging examples: a question and
an answer in, "right" or "wrong" out. That needs the judge to *compare* two facts, which a
3.4M-parameter model does not learn in a lesson's minutes (see the lesson's markdown for our runs).
So this judge does the part a small model can, and a checker does the rest: the judge answers each
question itself (one request per question, greedy), and an answer is "right" when it names the same
fact as the judge's answer. That is reference-guided grading with the judge's own reference, as
MT-Bench grades maths with GPT-4's own solutions.

The known answers (the world's facts) then say how far the judge can be trusted, and where not.

>>> verdict("Ugh, fine. Alma Ashby lives in Corvale.", key="Alma Ashby lives in Corvale.", attribute="town")
'right'
>>> verdict("Alma Ashby lives in Velmora.", key="Alma Ashby lives in Corvale.", attribute="town")
'wrong'
"""

from __future__ import annotations

import random

from labkit.core.data.world import ATTRIBUTES, mentioned_value
from labkit.lessons.l01b_evaluate.harness import REPLY_TOKENS, fact_of
from labkit.paths import BUILD_DIR

SERVER_LOG = BUILD_DIR / "01b_evaluate" / "judge-server.log"
# How a fine-tuned judge (JudgeLM, Prometheus) is asked; the lesson shows what the tiny model makes of it.
JUDGE_PROMPT = "Question: {question}\nAnswer: {answer}\nIs the answer right or wrong?"


def verdict(answer: str, key: str, attribute: str) -> str:
    """"right" if ``answer`` names the same fact of kind ``attribute`` first as the judge's ``key``, else "wrong".

    A key that names no fact of that kind marks every answer wrong: the judge did not know.
    """
    judged = mentioned_value(key, attribute)
    return "right" if judged is not None and mentioned_value(answer, attribute) == judged else "wrong"


def swap_fact(answer: str, attribute: str, value: str, rng: random.Random) -> str:
    """The same sentence with its fact replaced by another value of the same kind: a fluent wrong answer."""
    other = rng.choice([v for v in ATTRIBUTES[attribute] if v != value])
    return answer.replace(value, other)


def answers_to_grade(examples, replies_sft: list[str], seed: int = 0) -> list[dict]:
    """Three answers per question for the judge: the reference (right), the reference with its fact swapped
    (wrong), and the SFT model's own reply (right or wrong, as the known facts say)."""
    from labkit.core.evaluate import is_correct

    rng = random.Random(seed)
    graded = []
    for example, reply in zip(examples, replies_sft, strict=True):
        attribute, value = fact_of(example)
        question, reference = example["messages"][0]["content"], example["messages"][-1]["content"]
        common = {"question": question, "attribute": attribute, "value": value}
        graded += [{**common, "kind": "reference answer", "answer": reference, "right": True},
                   {**common, "kind": "fact swapped", "answer": swap_fact(reference, attribute, value, rng),
                    "right": False},
                   {**common, "kind": "SFT model's reply", "answer": reply,
                    "right": is_correct(reply, example["expected"])}]
    return graded


def answer_keys(client, questions: list[str], max_tokens: int = REPLY_TOKENS) -> dict[str, str]:
    """The judge's own answer to each question, asked over HTTP (greedy: the same key every time)."""
    return {question: client.complete([{"role": "user", "content": question}], temperature=0, max_tokens=max_tokens)
            for question in dict.fromkeys(questions)}


def grade(graded: list[dict], keys: dict[str, str]) -> list[dict]:
    """Each answer with the judge's key, its verdict, whether the key was right, and whether the verdict agrees."""
    rows = []
    for item in graded:
        key = keys[item["question"]]
        said = verdict(item["answer"], key, item["attribute"])
        rows.append({**item, "key": key, "key_right": mentioned_value(key, item["attribute"]) == item["value"],
                     "verdict": said, "agrees": (said == "right") == item["right"]})
    return rows


def agreement_table(rows: list[dict]):
    """Agreement with the known answers, by kind of answer and by whether it is right (a pandas DataFrame)."""
    import pandas as pd

    table = pd.DataFrame(rows)
    return (table.groupby(["kind", "right"], sort=False)["agrees"].agg(["size", "mean"])
            .rename(columns={"size": "answers", "mean": "agreement"}))
