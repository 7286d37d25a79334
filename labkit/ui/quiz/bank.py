"""Question banks: the checked dataclasses a bank becomes, where banks live, and computed answers.

>>> bank = quiz_path("final_check")
>>> bank.relative_to(REPO_ROOT).as_posix()
'quizzes/final_check.yaml'
>>> find_quizzes()["08_final_check"] == bank
True

A bank is a YAML mapping with ``lesson`` (a key of the lesson table), an optional ``title`` and a
list of ``questions``. Every question has ``id``, ``kind``, ``prompt``, ``explanation`` and
``link`` (a repo-relative path with an optional ``#anchor``), plus what its kind needs:

- ``single`` / ``multiple``: ``options``, a list of ``{text: ..., correct: true}`` mappings;
- ``numeric``: ``answer`` or ``answer_from`` (computed at load time, from :data:`ANSWER_SOURCES`),
  with an optional ``tolerance`` (absolute) or ``relative_tolerance``; ``{answer}`` in its text
  shows the value;
- ``text``: ``accepted``, the list of answers counted right.

:func:`labkit.ui.quiz.lint.load_quiz` reads a file, checks every field and builds a :class:`Quiz`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from labkit.paths import QUIZZES_DIR, REPO_ROOT

KINDS = ("single", "multiple", "numeric", "text")


@dataclass(frozen=True)
class Option:
    """One choice of a single- or multiple-choice question."""

    text: str
    correct: bool = False


@dataclass(frozen=True)
class Question:
    """One checked question. ``answer`` is set for numeric questions, ``accepted`` for text."""

    id: str
    kind: str
    prompt: str
    explanation: str
    link: str
    options: tuple[Option, ...] = ()
    answer: float | None = None
    tolerance: float = 0.0
    relative_tolerance: float = 0.0
    accepted: tuple[str, ...] = ()

    @property
    def correct_indices(self) -> tuple[int, ...]:
        """Positions (0-based) of the correct options, e.g. ``(1,)``."""
        return tuple(i for i, option in enumerate(self.options) if option.correct)


@dataclass(frozen=True)
class Quiz:
    """A loaded, checked question bank."""

    path: Path
    lesson: str
    title: str
    questions: tuple[Question, ...]

    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(f"{self.path.name} has no question {question_id!r}")


# Answers computed at load time, so a figure in a question can never drift from the code.

def _lora_params(model: str, rank: int, target_modules: list[str]) -> int:
    """Trainable LoRA parameters, counted by labkit.methods.lora_math (imported here: only needed now)."""
    from labkit.methods.lora_math import count_lora_parameters, load_architecture_config

    return count_lora_parameters(load_architecture_config(model), rank, list(target_modules))


ANSWER_SOURCES = {"lora_params": _lora_params}


def quiz_path(name: str | Path) -> Path:
    """A bank's file: a path as given, or a bare name looked up in quizzes/ (``"final_check"``)."""
    path = Path(name)
    if path.suffix not in (".yaml", ".yml") and path.parent == Path("."):
        return QUIZZES_DIR / f"{name}.yaml"
    if not path.is_absolute() and not path.exists() and (REPO_ROOT / path).exists():
        return REPO_ROOT / path  # `labkit quiz quizzes/x.yaml` works from any folder
    return path


def find_quizzes(folder: Path = QUIZZES_DIR) -> dict[str, Path]:
    """Lesson key → bank file, read from each bank's ``lesson`` field without checking it."""
    found = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue  # a broken bank is reported by check_quiz, not here
        if isinstance(data, Mapping) and isinstance(data.get("lesson"), str):
            found[data["lesson"]] = path
    return found
