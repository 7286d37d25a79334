"""Your turn: a reward function for a new question type, "Do Ada and Bo keep the same kind of pet?", and its check.

The check runs the learner's function on answers whose grade is known, and asks one thing of it: every
right answer must score above every wrong one. That is all GRPO needs from a reward, since it only
compares answers within a group. A reward that fails it pays for something that is not the task.

>>> check_pet_reward(same_pet_solution).status
'right'
>>> check_pet_reward(lambda completions, **kwargs: [1.0] * len(completions)).status
'wrong'
"""

from __future__ import annotations

from labkit.core.data.two_hop import CONCLUSION, example, grade
from labkit.core.data.world import ANSWERS, article, make_people
from labkit.core.exercise import Verdict, is_blank, right, wrong
from labkit.lessons.l07_grpo.rewards import text_of


def same_pet_solution(completions, people, pets, **kwargs) -> list[float]:
    """The reference solution: 1.0 when both pets are stated right and the yes/no follows, else 0.0."""
    return [1.0 if grade(text_of(c), p, v, attribute="pet").correct else 0.0
            for c, p, v in zip(completions, people, pets)]


def pet_question(same: bool) -> dict:
    """A pet question about two people of the world who keep the same kind of pet (or not)."""
    people = make_people()
    a = people[0]
    b = next(p for p in people[1:] if (p.pet == a.pet) == same)
    return example(a, b, "pet")


def answers_to_grade() -> list[tuple[str, dict, bool, str]]:
    """(answer, question, is it right?, what a wrong one gets wrong): the cases the check scores."""
    same, different = pet_question(True), pet_question(False)
    right_same, right_different = same["messages"][-1]["content"], different["messages"][-1]["content"]
    first, second = different["people"]
    pet = different["pets"][1]
    # The first person given the second's pet: a wrong fact, and a verdict that follows from it.
    wrong_pet = " ".join([ANSWERS["pet"].format(n=first, v=pet, a=article(pet)),
                          ANSWERS["pet"].format(n=second, v=pet, a=article(pet)), CONCLUSION.format(verdict="yes")])
    return [
        (right_same, same, True, ""),
        (right_different, different, True, ""),
        (right_same.replace("answer is yes", "answer is no"), same, False,
         "the right pets, then the wrong conclusion: compare the two stated pets for the verdict"),
        (wrong_pet, different, False,
         "a pet that is not that person's, and a verdict that follows from it: check each pet against the world"),
        ("So the answer is no.", different, False, "a bare verdict with no facts: a guess is right half the time"),
        ("", different, False, "an empty answer"),
    ]


def check_pet_reward(reward) -> Verdict:
    """Score known answers with ``reward``: right when it ranks every right answer above every wrong one."""
    if is_blank(reward):
        return Verdict("not attempted", "write the function above, then run this cell again.")
    cases = answers_to_grade()
    try:
        scores = [reward(completions=[[{"role": "assistant", "content": answer}]], people=[question["people"]],
                         pets=[question["pets"]]) for answer, question, _, _ in cases]
    except Exception as error:  # noqa: BLE001 (any bug in a learner's function: name it, carry on with the lesson)
        return wrong(f"your function raised {type(error).__name__}: {error}. It is called as "
                     "reward(completions=..., people=..., pets=...) and must return one float per completion.")
    if all(is_blank(s) for s in scores):
        return Verdict("not attempted", "fill in what the function returns, then run this cell again.")
    if any(not isinstance(s, list) or len(s) != 1 for s in scores):
        return wrong("return a list with one float per completion, e.g. [1.0] for one answer.")
    lowest_right = min(s[0] for s, case in zip(scores, cases) if case[2])
    for (answer, _, is_right, mistake), s in zip(cases, scores):
        if not is_right and s[0] >= lowest_right:
            return wrong(f"it pays {s[0]:g} for {answer!r} ({mistake}), as much as for a right answer. "
                         "GRPO would learn that mistake.")
    return right(f"every right answer scores {lowest_right:g} or more and every wrong one less: the wrong verdict, "
                 "the wrong pet, the bare guess and the empty answer. GRPO can only earn it by being right.")
