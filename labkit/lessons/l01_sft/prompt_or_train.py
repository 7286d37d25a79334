"""Lesson 01, "should you fine-tune at all?": few-shot prompting of the base model against the SFT
model, on the same held-out questions, with what each costs."""

from __future__ import annotations

import time

from labkit.core.evaluate import answer_accuracy
from labkit.core.few_shot import (
    FewShotResult,
    few_shot_accuracy,
    few_shot_prompt,
    question_and_answer,
)

SHOTS = 4  # solved examples in front of each question: enough to show the pattern, short enough to afford


def demonstrations(train_set, k: int = SHOTS, seed: int = 0):
    """``k`` solved training examples, each about a different fact, so the pattern is the format and
    not one kind of question."""
    seen, chosen = set(), []
    for example in train_set.shuffle(seed=seed):
        kinds = tuple(sorted(example["expected"]))
        if kinds not in seen:
            seen.add(kinds)
            chosen.append(example)
        if len(chosen) == k:
            break
    return chosen


def example_prompt(train_set, example, k: int = SHOTS, seed: int = 0) -> str:
    """The exact text the base model continues for ``example``: the demonstrations, then its question."""
    shots = [question_and_answer(shown) for shown in demonstrations(train_set, k, seed)]
    return few_shot_prompt(shots, question_and_answer(example)[0])


def chat_prompt_tokens(tokenizer, examples) -> float:
    """Mean length in tokens of the fine-tuned model's prompt: the question under the chat template."""
    lengths = [len(tokenizer.apply_chat_template(example["messages"][:-1], add_generation_prompt=True,
                                                 tokenize=True, return_dict=True)["input_ids"])
               for example in examples]
    return sum(lengths) / max(1, len(lengths))


def compare(base_model, sft_model, tokenizer, train_set, eval_set, sft_train_seconds: float,
            k: int = SHOTS, seed: int = 0) -> tuple[dict, FewShotResult]:
    """The two ways to get answers, side by side: accuracy, prompt tokens per question, seconds to
    answer the held-out set, and seconds of training. Returns (table rows, the few-shot result)."""
    few_shot = few_shot_accuracy(base_model, tokenizer, demonstrations(train_set, k, seed), eval_set)
    start = time.perf_counter()
    sft_accuracy, _ = answer_accuracy(sft_model, tokenizer, eval_set)
    sft_seconds = time.perf_counter() - start
    rows = {
        f"base model, {k}-shot prompt": [few_shot.accuracy, few_shot.prompt_tokens, few_shot.seconds, 0.0],
        "SFT model, question only": [sft_accuracy, chat_prompt_tokens(tokenizer, eval_set), sft_seconds,
                                     sft_train_seconds],
    }
    return rows, few_shot


COLUMNS = ["held-out accuracy", "prompt tokens per question", "seconds to answer", "training seconds"]
