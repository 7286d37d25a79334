"""Checks of single fields in a bank: each kind's answer (options, a number, accepted texts) and names.

Each ``parse_*`` reports through ``problem(message, field)`` and returns a usable value, or an empty
one when the field is wrong, so the linter can go on and report every problem in one pass.

>>> found = []
>>> parse_accepted(["reward model", "RM"], lambda message, field: found.append(message))
('reward model', 'RM')
>>> parse_numeric_answer({"answer": "many"}, lambda message, field: found.append(message))
>>> found
["answer must be a number, not 'many'"]
>>> suggest("explaination", ["explanation", "prompt"])
" (did you mean 'explanation'?)"
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from labkit.ui.quiz.bank import ANSWER_SOURCES, Option
from labkit.ui.quiz.grade import normalize_text

# How a parser reports a problem: the message, and the field it is about.
Report = Callable[[str, str], None]


def is_text(value: Any) -> bool:
    """A non-blank string."""
    return isinstance(value, str) and bool(value.strip())


def suggest(word: str, choices: Iterable[str]) -> str:
    """A "did you mean" hint for a misspelt name, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def parse_options(raw: Any, kind: str, problem: Report) -> tuple[Option, ...]:
    """A choice question's options: at least two, distinct, with the right number marked correct."""
    if not isinstance(raw, list) or len(raw) < 2:
        problem("a choice question needs a list of at least 2 options "
                "({text: ..., correct: true} for the right ones)", "options")
        return ()
    options, ok = [], True
    for number, item in enumerate(raw, 1):
        if not isinstance(item, Mapping) or not is_text(item.get("text")):
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


def parse_numeric_answer(raw: Mapping, problem: Report) -> float | None:
    """A numeric question's answer, typed (``answer``) or computed now (``answer_from``)."""
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
        problem(f"unknown answer source '{name}'{suggest(str(name), ANSWER_SOURCES)}; "
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


def non_negative(raw: Mapping, field: str, problem: Report) -> float:
    """An optional number that must be >= 0 (a tolerance); 0.0 when absent."""
    value = raw.get(field, 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        problem(f"{field} must be a number >= 0, not {value!r}", field)
        return 0.0
    return float(value)


def parse_accepted(raw: Any, problem: Report) -> tuple[str, ...]:
    """A text question's accepted answers: a non-empty list, none empty once normalized."""
    if not isinstance(raw, list) or not raw:
        problem("missing answer: list the answers counted right under 'accepted:'", "accepted")
        return ()
    if not all(is_text(item) or isinstance(item, (int, float)) for item in raw):
        problem("every accepted answer must be a non-empty string", "accepted")
        return ()
    accepted = tuple(str(item).strip() for item in raw)
    empty = [a for a in accepted if not normalize_text(a)]
    if empty:
        problem(f"accepted answer {empty[0]!r} is empty once punctuation and case are ignored",
                "accepted")
    return accepted
