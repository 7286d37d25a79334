"""The bank linter: read a bank's YAML, check every field, and build a :class:`Quiz` or say what is wrong.

>>> load_quiz("02_lora").question("lora-params-llama2").answer
4194304
>>> check_quiz("final_check")
[]

Every problem names its file, line, question and field, and says what to do. Loading collects every
problem in a file before raising, so an author fixes them in one pass. The answer fields of each
kind are checked in :mod:`labkit.ui.quiz.fields`, links in :mod:`labkit.ui.quiz.links`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from labkit.lessons.registry import LESSONS
from labkit.paths import QUIZZES_DIR, REPO_ROOT
from labkit.ui.quiz.bank import KINDS, Question, Quiz, quiz_path
from labkit.ui.quiz.fields import (is_text, non_negative, parse_accepted, parse_numeric_answer, parse_options,
                                   suggest)
from labkit.ui.quiz.grade import format_number
from labkit.ui.quiz.links import check_link

_COMMON_FIELDS = {"id", "kind", "prompt", "explanation", "link"}
_KIND_FIELDS = {
    "single": {"options"},
    "multiple": {"options"},
    "numeric": {"answer", "answer_from", "tolerance", "relative_tolerance"},
    "text": {"accepted"},
}
_ALL_FIELDS = _COMMON_FIELDS.union(*_KIND_FIELDS.values())
_TOP_FIELDS = {"lesson", "title", "questions"}
_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a bank, with where it is and what to do."""

    file: str
    message: str
    line: int | None = None
    question: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [where]
        if self.question is not None:
            parts.append(f"question {self.question}")
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts) + f": {self.message}"


class QuizError(ValueError):
    """A bank failed its checks; ``problems`` lists every one found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{len(problems)} problem(s) in the question bank:\n{lines}")


def load_quiz(name: str | Path, root: Path = REPO_ROOT) -> Quiz:
    """Load and check a bank; raise :class:`QuizError` listing every problem.

    ``root`` is the folder links are relative to (the repository).
    """
    quiz, problems = _parse(quiz_path(name), Path(root))
    if problems:
        raise QuizError(problems)
    return quiz


def check_quiz(name: str | Path, root: Path = REPO_ROOT) -> list[Problem]:
    """Every problem in a bank (empty when it is fine), e.g. for a linter or a test."""
    return _parse(quiz_path(name), Path(root))[1]


class _Checker:
    """Collects problems for one file; knows the YAML line of every question and field."""

    def __init__(self, path: Path, root: Path, text: str):
        self.path, self.root = path, root
        self.file = _display_path(path, root)
        self.problems: list[Problem] = []
        self.lines = _line_index(text)

    def add(self, message: str, index: int | None = None, qid: Any = None,
            field: str | None = None) -> None:
        line = self.lines.get((index, field)) or self.lines.get((index, None))
        label = None
        if index is not None:
            label = f"#{index + 1}" if not is_text(qid) else f"'{qid}' (#{index + 1})"
        self.problems.append(Problem(self.file, message, line, label, field))


def _parse(path: Path, root: Path) -> tuple[Quiz | None, list[Problem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        banks = ", ".join(p.stem for p in sorted(QUIZZES_DIR.glob("*.yaml"))) or "none"
        return None, [Problem(str(path), f"no such question bank (banks in quizzes/: {banks})")]
    check = _Checker(path, root, text)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(error, "problem", None) or str(error)
        return None, [Problem(check.file, f"not valid YAML: {reason}", line)]
    if not isinstance(data, Mapping):
        check.add("the file must be a mapping with 'lesson', 'title' and 'questions'")
        return None, check.problems

    for key in data:
        if key not in _TOP_FIELDS:
            check.add(f"unknown top-level field '{key}'{suggest(key, _TOP_FIELDS)}", field=key)
    lesson = data.get("lesson")
    lesson_keys = [known.key for known in LESSONS]
    if not is_text(lesson):
        check.add(f"missing lesson; name the lesson this bank checks, one of {', '.join(lesson_keys)}",
                  field="lesson")
    elif lesson not in lesson_keys:
        check.add(f"lesson '{lesson}' is not in the lesson table (labkit/lessons/registry.py); "
                  f"known: {', '.join(lesson_keys)}", field="lesson")
    title = data.get("title", f"Check: {lesson}")

    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        check.add("missing questions; give a non-empty list under 'questions:'", field="questions")
        raw_questions = []

    questions, first_seen = [], {}
    for index, raw in enumerate(raw_questions):
        question = _parse_question(check, index, raw)
        qid = raw.get("id") if isinstance(raw, Mapping) else None
        if is_text(qid):
            if qid in first_seen:
                check.add(f"duplicate id '{qid}' (already used by question #{first_seen[qid] + 1}); "
                          "give every question its own id", index, qid, "id")
            else:
                first_seen[qid] = index
        if question is not None:
            questions.append(question)

    if check.problems:
        return None, check.problems
    return Quiz(path, lesson, str(title), tuple(questions)), []


def _parse_question(check: _Checker, index: int, raw: Any) -> Question | None:
    """Check one question's fields; return it when they are all fine."""
    if not isinstance(raw, Mapping):
        check.add("each question must be a mapping (id, kind, prompt, ...)", index)
        return None
    qid = raw.get("id")
    before = len(check.problems)

    def problem(message: str, field: str | None = None) -> None:
        check.add(message, index, qid, field)

    if not is_text(qid):
        problem("missing id; give the question a short unique id such as 'lora-rank'", "id")
    elif not _ID_PATTERN.match(qid):
        problem(f"id '{qid}' must use lower-case letters, digits, '-' and '_' only "
                "(it names the question in progress files and CSS classes)", "id")

    kind = raw.get("kind")
    if kind is None:
        problem(f"missing kind; use one of {', '.join(KINDS)}", "kind")
    elif kind not in KINDS:
        problem(f"unknown kind '{kind}'{suggest(str(kind), KINDS)}; use one of {', '.join(KINDS)}",
                "kind")

    for key in raw:
        if key not in _ALL_FIELDS:
            problem(f"unknown field '{key}'{suggest(str(key), _ALL_FIELDS)}", str(key))
        elif kind in KINDS and key not in _COMMON_FIELDS | _KIND_FIELDS[kind]:
            problem(f"field '{key}' does not apply to a {kind} question", str(key))

    for field in ("prompt", "explanation"):
        if not is_text(raw.get(field)):
            why = "the question itself" if field == "prompt" else \
                "say why the right answer is right; learners read it after answering"
            problem(f"missing {field}: {why}", field)

    link = raw.get("link")
    if not is_text(link):
        problem("missing link to the lesson section that teaches this, e.g. "
                "'notebooks/02_lora.ipynb#What-LoRA-trains'", "link")
    else:
        message = check_link(link, check.root)
        if message:
            problem(message, "link")

    options, answer, tolerance, relative, accepted = (), None, 0.0, 0.0, ()
    if kind in ("single", "multiple"):
        options = parse_options(raw.get("options"), kind, problem)
    elif kind == "numeric":
        answer = parse_numeric_answer(raw, problem)
        tolerance = non_negative(raw, "tolerance", problem)
        relative = non_negative(raw, "relative_tolerance", problem)
    elif kind == "text":
        accepted = parse_accepted(raw.get("accepted"), problem)

    if len(check.problems) > before:
        return None
    prompt, explanation = raw["prompt"].strip(), raw["explanation"].strip()
    if answer is not None:
        # Text may quote the computed answer as {answer}, so no figure is ever typed in twice.
        prompt = prompt.replace("{answer}", format_number(answer))
        explanation = explanation.replace("{answer}", format_number(answer))
    return Question(qid, kind, prompt, explanation, link, options, answer, tolerance, relative,
                    accepted)


def _line_index(text: str) -> dict[tuple[int | None, str | None], int]:
    """(question index, field) → 1-based line, from the YAML node tree (safe_load drops lines)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[tuple[int | None, str | None], int] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key, value in root.value:
        lines[(None, key.value)] = key.start_mark.line + 1
        if key.value == "questions" and isinstance(value, yaml.SequenceNode):
            for index, item in enumerate(value.value):
                lines[(index, None)] = item.start_mark.line + 1
                if isinstance(item, yaml.MappingNode):
                    for field, _ in item.value:
                        lines[(index, field.value)] = field.start_mark.line + 1
    return lines


def _display_path(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
