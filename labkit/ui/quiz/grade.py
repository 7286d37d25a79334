"""Grading: how typed answers are read, each response judged with feedback, and an attempt scored.

>>> from labkit.ui.quiz import load_quiz
>>> quiz = load_quiz("final_check")
>>> grade_quiz(quiz, {"test-split": 79}).score
1
>>> key_self_check(quiz) == len(quiz.questions)
True
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labkit.ui.quiz.bank import Question, Quiz


@dataclass(frozen=True)
class Grade:
    """The verdict on one response, with feedback that says what was missed."""

    question: Question
    correct: bool
    feedback: str


@dataclass(frozen=True)
class QuizResult:
    """All the grades of one attempt."""

    grades: tuple[Grade, ...]

    @property
    def score(self) -> int:
        return sum(grade.correct for grade in self.grades)

    @property
    def total(self) -> int:
        return len(self.grades)

    def by_id(self) -> dict[str, bool]:
        return {grade.question.id: grade.correct for grade in self.grades}


def parse_number(text: str | float) -> float:
    """A learner's number: commas, spaces and k/M/B suffixes allowed.

    >>> parse_number("4,194,304"), parse_number("4.2M"), parse_number("1e3")
    (4194304.0, 4200000.0, 1000.0)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    cleaned = re.sub(r"[\s,_\u00a0\u202f]", "", str(text)).lower()
    scale = 1.0
    for suffix, factor in (("bn", 1e9), ("k", 1e3), ("m", 1e6), ("b", 1e9)):
        if cleaned.endswith(suffix):
            cleaned, scale = cleaned[: -len(suffix)], factor
            break
    try:
        value = float(cleaned) * scale
    except ValueError:
        raise ValueError(f"{text!r} is not a number; type digits, e.g. 4194304 or 4.19M") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def format_number(value: float) -> str:
    """A number as a learner reads it.

    >>> format_number(4194304), format_number(0.5)
    ('4,194,304', '0.5')
    """
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def normalize_text(text: str) -> str:
    """What text answers are compared on: case, spacing, punctuation and a leading article ignored.

    >>> normalize_text("  The Reward-Model. ")
    'rewardmodel'
    """
    text = unicodedata.normalize("NFKC", str(text)).casefold().strip()
    text = re.sub(r"^(the|a|an)\s+", "", text)
    return re.sub(r"[\W_]+", "", text)


def answer_text(question: Question) -> str:
    """The right answer as a learner reads it, e.g. ``"4,194,304"`` or ``"reward model"``."""
    if question.kind in ("single", "multiple"):
        return "; ".join(question.options[i].text for i in question.correct_indices)
    if question.kind == "numeric":
        return format_number(question.answer)
    return question.accepted[0]


def grade(question: Question, response: Any) -> Grade:
    """Grade one response: an option index (single), indices (multiple), a number or text.

    >>> from labkit.ui.quiz import load_quiz
    >>> q = load_quiz("final_check").question("test-split")
    >>> grade(q, "79").correct
    True
    """
    right_text = answer_text(question)
    if response is None or (isinstance(response, str) and not response.strip()):
        return Grade(question, False, f"No answer given; the answer is “{right_text}”.")
    if question.kind == "single":
        chosen = _check_index(question, response)
        if chosen == question.correct_indices[0]:
            return Grade(question, True, "Right.")
        return Grade(question, False, f"Not quite. You chose “{question.options[chosen].text}”; "
                                      f"the answer is “{right_text}”")
    if question.kind == "multiple":
        return _grade_multiple(question, {_check_index(question, index) for index in response})
    if question.kind == "numeric":
        try:
            value = parse_number(response)
        except ValueError as error:
            return Grade(question, False, f"Not quite: {error}. The answer is {right_text}.")
        allowed = max(question.tolerance, question.relative_tolerance * abs(question.answer))
        if abs(value - question.answer) <= allowed:
            return Grade(question, True, f"Right: {right_text}.")
        return Grade(question, False, f"Not quite. You gave {format_number(value)}; "
                                      f"the answer is {right_text}.")
    if normalize_text(response) in {normalize_text(a) for a in question.accepted}:
        return Grade(question, True, "Right.")
    return Grade(question, False, f"Not quite. You wrote “{str(response).strip()}”; "
                                  f"the answer is “{right_text}”.")


def _grade_multiple(question: Question, chosen: set[int]) -> Grade:
    """Right only for exactly the correct set; otherwise name what was missed and what was wrong."""
    right = set(question.correct_indices)
    if chosen == right:
        return Grade(question, True, "Right: you picked exactly the right options.")
    notes = []
    if right - chosen:
        notes.append("You missed: " + " ".join(f"“{question.options[i].text}”"
                                               for i in sorted(right - chosen)))
    if chosen - right:
        notes.append("You picked, wrongly: " + " ".join(f"“{question.options[i].text}”"
                                                       for i in sorted(chosen - right)))
    return Grade(question, False, "Not quite. " + " ".join(notes))


def _check_index(question: Question, index: Any) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(question.options):
        raise ValueError(f"question {question.id!r}: option index {index!r} is not in "
                         f"0..{len(question.options) - 1}")
    return index


def grade_quiz(quiz: Quiz, responses: Mapping[str, Any]) -> QuizResult:
    """Grade a whole attempt; a question with no response counts as wrong."""
    unknown = set(responses) - {q.id for q in quiz.questions}
    if unknown:
        raise KeyError(f"{quiz.path.name} has no question(s) {', '.join(sorted(unknown))}")
    return QuizResult(tuple(grade(q, responses.get(q.id)) for q in quiz.questions))


def answer_key(quiz: Quiz) -> dict[str, Any]:
    """A full-marks response for every question, in the form :func:`grade` takes."""
    key: dict[str, Any] = {}
    for question in quiz.questions:
        if question.kind == "single":
            key[question.id] = question.correct_indices[0]
        elif question.kind == "multiple":
            key[question.id] = question.correct_indices
        elif question.kind == "numeric":
            key[question.id] = question.answer
        else:
            key[question.id] = question.accepted[0]
    return key


def key_self_check(quiz: Quiz) -> int:
    """How many questions the answer key gets right when graded like a learner's answers.

    It checks that the bank and the grader agree (anything under ``len(quiz.questions)`` means one
    of them is broken); it is not anyone's score.
    """
    return grade_quiz(quiz, answer_key(quiz)).score
