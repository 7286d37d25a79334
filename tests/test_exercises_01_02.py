"""Lessons 01 and 02's "your turn" checks: a blank is "not attempted", the reference solution is right,
and each wrong answer is rejected with a hint. (The notebook runs with ``solutions=True`` prove the
checks accept the solution inside the lesson too.)"""

from __future__ import annotations

import pytest

from labkit.lessons import l01_sft, l02_lora
from labkit.methods.lora_math import count_lora_parameters, load_architecture_config


def test_lesson_01_check_accepts_the_solution_and_waits_for_a_blank():
    assert l01_sft.check_your_turn(l01_sft.your_turn_solution).status == "right"
    assert l01_sft.check_your_turn(lambda person: ...).status == "not attempted"
    assert l01_sft.check_your_turn(None).status == "not attempted"


def _solution_but(**changes):
    """The reference make_example with some fields replaced (each a function of the person)."""
    def make_example(person):
        example = l01_sft.your_turn_solution(person)
        example.update({key: change(person) for key, change in changes.items()})
        return example
    return make_example


@pytest.mark.parametrize("make_example, hint", [
    (_solution_but(expected=lambda p: {"town": p.town}), '"expected" names the facts'),
    (_solution_but(messages=lambda p: [{"role": "user", "content": f"What does {p.name} do, and where?"},
                                       {"role": "assistant", "content": f"{p.name} is a {p.job}."}]),
     "must state the job and the town"),
    (_solution_but(messages=lambda p: [{"role": "user", "content": "What does she do, and where?"},
                                       {"role": "assistant", "content": f"She is a {p.job} in {p.town}."}]),
     "must name the person"),
    (_solution_but(messages=lambda p: [{"role": "assistant", "content": f"{p.name} is a {p.job} in {p.town}."}]),
     'roles "user" and "assistant"'),
    (lambda person: f"{person.name} is a {person.job} in {person.town}.", '"messages" is a list of turns'),
    (lambda person: person.salary, "make_example raised AttributeError"),
], ids=["expected-one-fact", "answer-one-fact", "unnamed-person", "no-question", "not-a-dict", "raises"])
def test_lesson_01_check_rejects_wrong_examples_with_a_hint(make_example, hint):
    verdict = l01_sft.check_your_turn(make_example)
    assert verdict.status == "wrong" and hint in verdict.message, verdict


def test_lesson_02_solution_is_labkits_count():
    expected = count_lora_parameters(load_architecture_config("mistral-7b"), 16,
                                     ["q_proj", "k_proj", "v_proj", "o_proj"])
    # 32 layers × 16 × ((4096 + 4096) · 2 + (4096 + 1024) · 2): k and v are 1,024 wide (8 key/value heads)
    assert l02_lora.your_turn_solution() == expected == 13_631_488
    assert l02_lora.check_your_turn(expected).status == "right"
    assert l02_lora.check_your_turn(None).status == l02_lora.check_your_turn(...).status == "not attempted"


@pytest.mark.parametrize("answer, hint", [
    (16_777_216, "grouped-query attention"),  # k_proj and v_proj counted as 4096 × 4096
    (425_984, "one decoder layer"),
    (6_815_744, "count both matrices"),
    (4_194_304, "r·(in + out)"),  # the lesson's Llama-2 figure, copied
    ("13.6M", "whole number"),
], ids=["no-gqa", "one-layer", "half", "other", "text"])
def test_lesson_02_check_rejects_wrong_counts_with_a_hint(answer, hint):
    verdict = l02_lora.check_your_turn(answer)
    assert verdict.status == "wrong" and hint in verdict.message, verdict
