"""In-context learning: a base model answers by example, with no training.

A few solved questions go in front of each new one, in the plain ``Question: … Answer: …`` format of
the pre-training corpus, and the model continues the pattern. Lesson 01 measures it against
fine-tuning on the same held-out questions, with what each costs.

>>> few_shot_prompt([("Where does Ada live?", "Ada lives in Corvale.")], "What pet does Bo have?")
'Question: Where does Ada live?\\nAnswer: Ada lives in Corvale.\\n\\nQuestion: What pet does Bo have?\\nAnswer:'
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from labkit.core.batching import generate_texts
from labkit.core.evaluate import is_correct


@dataclass(frozen=True)
class FewShotResult:
    """How the model did, and what it cost: the mean prompt length and the seconds to answer all."""

    accuracy: float
    replies: list[str]
    prompt_tokens: float
    seconds: float


def few_shot_prompt(demonstrations: list[tuple[str, str]], question: str) -> str:
    """The solved (question, answer) pairs, then the new question, left open after "Answer:"."""
    shots = "".join(f"Question: {q}\nAnswer: {a}\n\n" for q, a in demonstrations)
    return f"{shots}Question: {question}\nAnswer:"


def question_and_answer(example: dict) -> tuple[str, str]:
    """The last user question and the reference answer of a ``messages`` example."""
    turns = example["messages"]
    return next(t["content"] for t in reversed(turns[:-1]) if t["role"] == "user"), turns[-1]["content"]


def few_shot_accuracy(model, tokenizer, demonstrations, examples, max_new_tokens: int = 24) -> FewShotResult:
    """Share of ``examples`` the model answers right when shown ``demonstrations`` (examples, solved) first.

    A reply is the continuation up to its first line break, and counts as right when it states the
    expected facts *and* the model ended the line: the few-shot counterpart of "ended its turn" in
    ``answer_accuracy``, so both methods are held to the same two things, the fact and the format.
    """
    shots = [question_and_answer(example) for example in demonstrations]
    examples = list(examples)
    prompts = [few_shot_prompt(shots, question_and_answer(example)[0]) for example in examples]
    start = time.perf_counter()
    texts, _ = generate_texts(model, tokenizer, prompts, max_new_tokens, add_special_tokens=True)
    seconds = time.perf_counter() - start
    replies = [text.split("\n")[0].strip() for text in texts]
    correct = [is_correct(reply, example["expected"]) and "\n" in text
               for reply, text, example in zip(replies, texts, examples)]
    lengths = [len(tokenizer(prompt, add_special_tokens=True)["input_ids"]) for prompt in prompts]
    return FewShotResult(accuracy=sum(correct) / max(1, len(correct)), replies=replies,
                         prompt_tokens=sum(lengths) / max(1, len(lengths)), seconds=seconds)
