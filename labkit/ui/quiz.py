"""Question banks: YAML files in quizzes/ loaded into checked dataclasses, and graded.

>>> quiz = load_quiz("final_check")
>>> grade_quiz(quiz, answer_key(quiz)).score
6

A bank is a mapping with ``lesson`` (a key of the lesson table), an optional ``title`` and a list
of ``questions``. Every question has ``id``, ``kind``, ``prompt``, ``explanation`` and ``link``
(a repo-relative path with an optional ``#anchor``), plus what its kind needs:

- ``single`` / ``multiple``: ``options``, a list of ``{text: ..., correct: true}`` mappings;
- ``numeric``: ``answer`` or ``answer_from`` (computed at load time), with an optional
  ``tolerance`` (absolute) or ``relative_tolerance``; ``{answer}`` in its text shows the value;
- ``text``: ``accepted``, the list of answers counted right.

Loading collects every problem in a file before raising, so an author fixes them in one pass.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from labkit.lessons.registry import LESSONS
from labkit.paths import QUIZZES_DIR, REPO_ROOT

KINDS = ("single", "multiple", "numeric", "text")

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


# ---------------------------------------------------------------------------------------------
# The data


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

    def answer_text(self) -> str:
        """The right answer as a learner reads it, e.g. ``"4,194,304"``."""
        if self.kind in ("single", "multiple"):
            return "; ".join(self.options[i].text for i in self.correct_indices)
        if self.kind == "numeric":
            return format_number(self.answer)
        return self.accepted[0]


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


# ---------------------------------------------------------------------------------------------
# Answers computed at load time, so a figure in a question can never drift from the code.


def _lora_params(model: str, rank: int, target_modules: list[str]) -> int:
    """Trainable LoRA parameters, counted by labkit.methods.lora_math (imported here: it is only needed now)."""
    from labkit.methods.lora_math import count_lora_parameters, load_architecture_config

    return count_lora_parameters(load_architecture_config(model), rank, list(target_modules))


ANSWER_SOURCES = {"lora_params": _lora_params}


# ---------------------------------------------------------------------------------------------
# Loading and checking


def quiz_path(name: str | Path) -> Path:
    """A bank's file: a path as given, or a bare name looked up in quizzes/ (``"final_check"``)."""
    path = Path(name)
    if path.suffix not in (".yaml", ".yml") and path.parent == Path("."):
        return QUIZZES_DIR / f"{name}.yaml"
    if not path.is_absolute() and not path.exists() and (REPO_ROOT / path).exists():
        return REPO_ROOT / path  # `labkit quiz quizzes/x.yaml` works from any folder
    return path


def load_quiz(name: str | Path, root: Path = REPO_ROOT) -> Quiz:
    """Load and check a bank; raise :class:`QuizError` listing every problem.

    ``root`` is the folder links are relative to (the repository).
    >>> load_quiz("02_lora").question("lora-params-llama2").answer
    4194304
    """
    quiz, problems = _parse(quiz_path(name), Path(root))
    if problems:
        raise QuizError(problems)
    return quiz


def check_quiz(name: str | Path, root: Path = REPO_ROOT) -> list[Problem]:
    """Every problem in a bank (empty when it is fine), e.g. for a linter or a test."""
    return _parse(quiz_path(name), Path(root))[1]


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
            label = f"#{index + 1}" if not _is_text(qid) else f"'{qid}' (#{index + 1})"
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
            check.add(f"unknown top-level field '{key}'{_suggest(key, _TOP_FIELDS)}", field=key)
    lesson = data.get("lesson")
    lesson_keys = [known.key for known in LESSONS]
    if not _is_text(lesson):
        check.add(f"missing lesson; name the lesson this bank checks, one of {', '.join(lesson_keys)}",
                  field="lesson")
    elif lesson not in lesson_keys:
        check.add(f"lesson '{lesson}' is not in the lesson table (labkit/lessons.py); "
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
        if _is_text(qid):
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

    if not _is_text(qid):
        problem("missing id; give the question a short unique id such as 'lora-rank'", "id")
    elif not _ID_PATTERN.match(qid):
        problem(f"id '{qid}' must use lower-case letters, digits, '-' and '_' only "
                "(it names the question in progress files and CSS classes)", "id")

    kind = raw.get("kind")
    if kind is None:
        problem(f"missing kind; use one of {', '.join(KINDS)}", "kind")
    elif kind not in KINDS:
        problem(f"unknown kind '{kind}'{_suggest(str(kind), KINDS)}; use one of {', '.join(KINDS)}",
                "kind")

    for key in raw:
        if key not in _ALL_FIELDS:
            problem(f"unknown field '{key}'{_suggest(str(key), _ALL_FIELDS)}", str(key))
        elif kind in KINDS and key not in _COMMON_FIELDS | _KIND_FIELDS[kind]:
            problem(f"field '{key}' does not apply to a {kind} question", str(key))

    for field in ("prompt", "explanation"):
        if not _is_text(raw.get(field)):
            why = "the question itself" if field == "prompt" else \
                "say why the right answer is right; learners read it after answering"
            problem(f"missing {field}: {why}", field)

    link = raw.get("link")
    if not _is_text(link):
        problem("missing link to the lesson section that teaches this, e.g. "
                "'notebooks/02_lora.ipynb#What-LoRA-trains'", "link")
    else:
        message = _check_link(link, check.root)
        if message:
            problem(message, "link")

    options, answer, tolerance, relative, accepted = (), None, 0.0, 0.0, ()
    if kind in ("single", "multiple"):
        options = _parse_options(raw.get("options"), kind, problem)
    elif kind == "numeric":
        answer = _parse_numeric_answer(raw, problem)
        tolerance = _non_negative(raw, "tolerance", problem)
        relative = _non_negative(raw, "relative_tolerance", problem)
    elif kind == "text":
        accepted = _parse_accepted(raw.get("accepted"), problem)

    if len(check.problems) > before:
        return None
    prompt, explanation = raw["prompt"].strip(), raw["explanation"].strip()
    if answer is not None:
        # Text may quote the computed answer as {answer}, so no figure is ever typed in twice.
        prompt = prompt.replace("{answer}", format_number(answer))
        explanation = explanation.replace("{answer}", format_number(answer))
    return Question(qid, kind, prompt, explanation, link, options, answer, tolerance, relative,
                    accepted)


def _parse_options(raw: Any, kind: str, problem) -> tuple[Option, ...]:
    if not isinstance(raw, list) or len(raw) < 2:
        problem("a choice question needs a list of at least 2 options "
                "({text: ..., correct: true} for the right ones)", "options")
        return ()
    options, ok = [], True
    for number, item in enumerate(raw, 1):
        if not isinstance(item, Mapping) or not _is_text(item.get("text")):
            problem(f"option {number} needs a 'text'", "options")
            ok = False
            continue
        extra = set(item) - {"text", "correct"}
        if extra:
            problem(f"option {number} has unknown field(s) {', '.join(sorted(map(str, extra)))}; "
                    "an option has only 'text' and 'correct'", "options")
            ok = False
        correct = item.get("correct", False)
        if not isinstance(correct, bool):
            problem(f"option {number}: correct must be true or false, not {correct!r}", "options")
            ok = False
        options.append(Option(item["text"].strip(), correct is True))
    texts = [option.text for option in options]
    for text in sorted({t for t in texts if texts.count(t) > 1}):
        problem(f"option text '{text}' appears twice", "options")
        ok = False
    if not ok:
        return ()
    right = [number for number, option in enumerate(options, 1) if option.correct]
    if not right:
        problem("missing answer: no option is marked 'correct: true'", "options")
    elif kind == "single" and len(right) > 1:
        problem(f"a single-choice question needs exactly one correct option, but options "
                f"{', '.join(map(str, right))} are marked correct (use kind: multiple if several "
                "are right)", "options")
    elif kind == "multiple" and len(right) == len(options):
        problem("every option is marked correct, so the question checks nothing; "
                "add at least one wrong option", "options")
    return tuple(options)


def _parse_numeric_answer(raw: Mapping, problem) -> float | None:
    has_answer, has_source = "answer" in raw, "answer_from" in raw
    if has_answer == has_source:
        problem("missing answer: give 'answer: <number>' or 'answer_from: {...}'" if not has_answer
                else "give either 'answer' or 'answer_from', not both", "answer")
        return None
    if has_answer:
        value = raw["answer"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problem(f"answer must be a number, not {value!r}", "answer")
            return None
        return value
    source = raw["answer_from"]
    if not isinstance(source, Mapping) or len(source) != 1:
        problem(f"answer_from must be one mapping such as "
                f"'{{lora_params: {{model: llama-2-7b, rank: 8, target_modules: [q_proj]}}}}'; "
                f"known sources: {', '.join(ANSWER_SOURCES)}", "answer_from")
        return None
    (name, arguments), = source.items()
    if name not in ANSWER_SOURCES:
        problem(f"unknown answer source '{name}'{_suggest(str(name), ANSWER_SOURCES)}; "
                f"known: {', '.join(ANSWER_SOURCES)}", "answer_from")
        return None
    if not isinstance(arguments, Mapping):
        problem(f"answer_from {name} needs its arguments as a mapping", "answer_from")
        return None
    call = f"{name}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"
    try:
        value = ANSWER_SOURCES[name](**arguments)
    except (ImportError, OSError, KeyError, TypeError, ValueError) as error:  # report, with its cause
        problem(f"answer_from {call} failed: {type(error).__name__}: {error}", "answer_from")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problem(f"answer_from {call} gave {value!r}, not a number", "answer_from")
        return None
    return value


def _non_negative(raw: Mapping, field: str, problem) -> float:
    value = raw.get(field, 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        problem(f"{field} must be a number >= 0, not {value!r}", field)
        return 0.0
    return float(value)


def _parse_accepted(raw: Any, problem) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        problem("missing answer: list the answers counted right under 'accepted:'", "accepted")
        return ()
    if not all(_is_text(item) or isinstance(item, (int, float)) for item in raw):
        problem("every accepted answer must be a non-empty string", "accepted")
        return ()
    accepted = tuple(str(item).strip() for item in raw)
    empty = [a for a in accepted if not normalize_text(a)]
    if empty:
        problem(f"accepted answer {empty[0]!r} is empty once punctuation and case are ignored",
                "accepted")
    return accepted


def _check_link(link: str, root: Path) -> str | None:
    """What is wrong with a repo-relative link, or None. Anchors are checked in notebooks."""
    target, _, anchor = link.partition("#")
    if not target or Path(target).is_absolute() or ".." in Path(target).parts:
        return (f"link '{link}' must be a path inside the repository, e.g. "
                "'notebooks/01_sft.ipynb#Section'")
    path = root / target
    if not path.is_file():
        return f"link '{link}' points to a missing file ({path}); link to an existing lesson section"
    if anchor and path.suffix == ".ipynb":
        anchors = notebook_anchors(path)
        if anchor not in anchors:
            known = ", ".join(f"#{a}" for a in sorted(anchors)) or "none"
            return f"link anchor '#{anchor}' matches no heading in {target} (its anchors: {known})"
    return None


def notebook_anchors(path: Path) -> set[str]:
    """The anchors JupyterLab gives a notebook's markdown headings: text with spaces as '-'.

    >>> "Check-your-understanding" in notebook_anchors(REPO_ROOT / "notebooks" / "07_final_check.ipynb")
    True
    """
    anchors = set()
    for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = "".join(cell.get("source", []))
        for match in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", source, re.MULTILINE):
            # JupyterLab uses the rendered text, so inline markup like `code` or **bold** drops out.
            heading = re.sub(r"[`*]|<[^>]+>", "", match.group(1)).strip()
            anchors.add(heading.replace(" ", "-"))
        anchors.update(re.findall(r"""<a\s+(?:id|name)=["']([^"']+)["']""", source))
    return anchors


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


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


# ---------------------------------------------------------------------------------------------
# Grading


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
    """``4194304`` → ``"4,194,304"``; ``0.5`` → ``"0.5"``."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def normalize_text(text: str) -> str:
    """What text answers are compared on: case, spacing, punctuation and a leading article ignored.

    >>> normalize_text("  The Reward-Model. ")
    'rewardmodel'
    """
    text = unicodedata.normalize("NFKC", str(text)).casefold().strip()
    text = re.sub(r"^(the|a|an)\s+", "", text)
    return re.sub(r"[\W_]+", "", text)


def grade(question: Question, response: Any) -> Grade:
    """Grade one response: an option index (single), indices (multiple), a number or text.

    >>> q = load_quiz("final_check").question("dpo-removes")
    >>> grade(q, "the reward model").correct
    True
    """
    if response is None or (isinstance(response, str) and not response.strip()):
        return Grade(question, False, f"No answer given; the answer is “{question.answer_text()}”.")
    if question.kind == "single":
        chosen = _check_index(question, response)
        right = question.correct_indices[0]
        if chosen == right:
            return Grade(question, True, "Right.")
        return Grade(question, False, f"Not quite. You chose “{question.options[chosen].text}”; "
                                      f"the answer is “{question.options[right].text}”")
    if question.kind == "multiple":
        chosen = {_check_index(question, index) for index in response}
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
    if question.kind == "numeric":
        try:
            value = parse_number(response)
        except ValueError as error:
            return Grade(question, False, f"Not quite: {error}. The answer is {question.answer_text()}.")
        allowed = max(question.tolerance, question.relative_tolerance * abs(question.answer))
        if abs(value - question.answer) <= allowed:
            return Grade(question, True, f"Right: {question.answer_text()}.")
        return Grade(question, False, f"Not quite. You gave {format_number(value)}; "
                                      f"the answer is {question.answer_text()}.")
    if normalize_text(response) in {normalize_text(a) for a in question.accepted}:
        return Grade(question, True, "Right.")
    return Grade(question, False, f"Not quite. You wrote “{str(response).strip()}”; "
                                  f"the answer is “{question.answer_text()}”.")


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
