"""Lesson 01b — evaluation, taught broadly, measured on the learner's own models.

It builds on lesson 00's base model and lesson 01's SFT model, through one call each
(``l00_start_here.base_model``, ``l01_sft.model``). Its parts:

- ``selection``: validation vs test; choosing on the set you report on flatters the report;
- ``rouge``: ROUGE for free text, and where it misleads; ``your_turn``: ROUGE-L by hand, checked;
- ``judge``: a model as judge over HTTP (it writes its own answer key; a checker grades against it),
  and its agreement with the known answers;
- ``server``: a saved model served by ``transformers serve`` on 127.0.0.1, for a ``with`` block;
- ``harness``: the held-out questions as lm-evaluation-harness tasks (generation and log-likelihood).

The notebook imports this package as ``lesson``; everything it uses is named here.

>>> three_sets({"validation": [1, 2, 3], "test": [4, 5, 6, 7, 8, 9]}, 2)[1]["fresh"]
slice(4, 6, None)
"""

from __future__ import annotations

from labkit.core.data.instructions import instruction_splits
from labkit.lessons.l01b_evaluate import harness, judge, your_turn
from labkit.lessons.l01b_evaluate.harness import BATCH_SIZE, REPLY_TOKENS
from labkit.lessons.l01b_evaluate.rouge import mean_rouge_l, rouge_l, rouge_table
from labkit.lessons.l01b_evaluate.selection import (
    candidate_correctness,
    choose_and_report,
    optimism,
)
from labkit.lessons.l01b_evaluate.server import served
from labkit.lessons.l01b_evaluate.your_turn import check_rouge_l

__all__ = ["BATCH_SIZE", "REPLY_TOKENS", "base_model", "candidate_correctness", "check_rouge_l", "choose_and_report", "harness",
           "instruction_splits", "judge", "mean_rouge_l", "optimism", "rouge_l", "rouge_table", "served", "sft_model", "three_sets",
           "your_turn"]


def sft_model(profile: str = "tiny", log=print):
    """Lesson 01's SFT model: (model, tokenizer, folder), from the cache or trained now."""
    # Imported here, not above: lessons 00 and 01 import peft, and so bitsandbytes, whose import logs a
    # warning that labkit.setup() silences; importing this lesson before setup() must stay quiet.
    from labkit.lessons import l01_sft

    return l01_sft.model(profile, log=log)


def base_model(profile: str = "tiny", log=print):
    """Lesson 00's base model, the one SFT started from: (model, tokenizer, folder)."""
    from labkit.lessons import l00_start_here

    return l00_start_here.base_model(profile, log=log)


def three_sets(splits, n: int):
    """Section 1's questions: ``n`` from validation, then ``n`` from test and ``n`` more from test ("fresh").

    Returns (questions, sets): the questions in one list, and the slice of it each set takes. A small
    world's test split may hold fewer than 2·n questions; then every set shrinks to what it allows.
    """
    n = min(n, len(splits["validation"]), len(splits["test"]) // 2)
    questions = [splits["validation"][i] for i in range(n)] + [splits["test"][i] for i in range(2 * n)]
    return questions, {"validation": slice(0, n), "test": slice(n, 2 * n), "fresh": slice(2 * n, 3 * n)}
