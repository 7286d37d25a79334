"""Check a JSONL training file before training starts, and list every bad line.

>>> len(validate_jsonl("data/sft/instructions.jsonl"))
2400
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from labkit.core.data.formats import ROLES, detect_format

REQUIRED_FIELDS = {"alpaca": ("instruction", "output"), "prompt_completion": ("prompt", "completion")}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one line of a file."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.message}"


class DatasetValidationError(ValueError):
    """Raised with every problem found in a file, not only the first."""

    def __init__(self, path: str, problems: list[Problem]):
        self.path, self.problems = path, problems
        lines = sorted({p.line for p in problems})
        listing = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{path}: {len(lines)} bad line(s) ({len(problems)} problem(s)); "
                         f"fix them and run again:\n{listing}")


def count_tokens(messages: list[dict], tokenizer) -> int:
    """Tokens of the conversation as the model sees it, through the tokenizer's chat template."""
    return len(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])


def check_messages(messages, max_tokens: int | None = None, tokenizer=None) -> list[tuple[str, str]]:
    """Problems with one conversation, as (field, message) pairs; empty if it is fine."""
    if not isinstance(messages, list) or not messages:
        return [("messages", "must be a non-empty list of {role, content} turns")]
    problems = []
    for i, turn in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(turn, dict):
            problems.append((where, "must be an object with 'role' and 'content'"))
            continue
        role, content = turn.get("role"), turn.get("content")
        if role not in ROLES:
            problems.append((f"{where}.role", f"unknown role {role!r}; use one of {', '.join(ROLES)}"))
        if role == "system" and i != 0:
            problems.append((f"{where}.role", "a system turn may only come first"))
        if not isinstance(content, str) or not content.strip():
            problems.append((f"{where}.content", "missing or empty"))
    turns = [t for t in messages if isinstance(t, dict) and t.get("role") != "system"]
    roles = [t.get("role") for t in turns]
    expected = ["user" if i % 2 == 0 else "assistant" for i in range(len(roles))]
    if roles and all(r in ROLES for r in roles) and roles != expected:
        problems.append(("messages", f"turns must alternate user, assistant, … starting with the user; "
                                     f"got {', '.join(roles)}"))
    elif roles and roles[-1] != "assistant":
        problems.append(("messages", "the last turn must be the assistant's (that is what is learned)"))
    if not problems and max_tokens and tokenizer is not None:
        n = count_tokens(messages, tokenizer)
        if n > max_tokens:
            problems.append(("messages", f"{n} tokens, longer than the model's context of {max_tokens}; "
                                         "shorten it or raise max_length"))
    return problems


def check_record(record, max_tokens: int | None = None, tokenizer=None) -> list[tuple[str, str]]:
    """Problems with one record in any of the three formats."""
    if not isinstance(record, dict):
        return [("(line)", f"must be a JSON object, got {type(record).__name__}")]
    try:
        kind = detect_format(record)
    except ValueError as error:
        return [("(line)", str(error))]
    if kind == "messages":
        return check_messages(record["messages"], max_tokens, tokenizer)
    problems = []
    for name in REQUIRED_FIELDS[kind]:
        value = record.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append((name, "missing or empty"))
    if kind == "alpaca" and not isinstance(record.get("input", ""), str):
        problems.append(("input", "must be text (may be empty)"))
    if not problems and max_tokens and tokenizer is not None:
        text = " ".join(str(record.get(n, "")) for n in ("instruction", "input", "output", "prompt", "completion"))
        n = len(tokenizer(text)["input_ids"])
        if n > max_tokens:
            problems.append(("(line)", f"{n} tokens, longer than the model's context of {max_tokens}"))
    return problems


def find_problems(path, max_tokens: int | None = None, tokenizer=None, formats: tuple[str, ...] | None = None,
                  blank_lines_ok: bool = True) -> tuple[list[dict], list[Problem]]:
    """Check every line of a JSONL file; return (good records, every problem), raising nothing.

    ``formats`` limits which of the three formats are accepted (e.g. ``("messages",)`` for a
    Mistral fine-tuning file); ``blank_lines_ok=False`` reports blank lines, which some
    fine-tuning APIs reject.
    """
    path = Path(path)
    records, problems = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            if not blank_lines_ok:
                problems.append(Problem(str(path), number, "(line)", "blank line; remove it"))
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(Problem(str(path), number, "(line)", f"invalid JSON: {error.msg} "
                                                                 f"at column {error.colno}"))
            continue
        if formats and isinstance(record, dict) and _format_or_none(record) not in formats:
            found = [("(line)", f"expected the {' or '.join(formats)} format, with fields "
                                f"{', '.join(FORMAT_FIELDS[f] for f in formats)}")]
        else:
            found = check_record(record, max_tokens, tokenizer)
        problems += [Problem(str(path), number, field, message) for field, message in found]
        if not found:
            records.append(record)
    return records, problems


def raise_for_problems(problems: list[Problem]) -> None:
    """Raise one DatasetValidationError listing every problem (of one or several files), if any."""
    if problems:
        raise DatasetValidationError(", ".join(dict.fromkeys(p.path for p in problems)), problems)


def validate_jsonl(path, max_tokens: int | None = None, tokenizer=None, formats: tuple[str, ...] | None = None,
                   blank_lines_ok: bool = True) -> list[dict]:
    """Read and check a whole JSONL file; return its records, or raise listing every bad line.

    Checks: valid JSON; a known format; fields present and non-empty; known roles; turns that
    alternate and end with the assistant; and, given a tokenizer, length within ``max_tokens``.
    """
    records, problems = find_problems(path, max_tokens, tokenizer, formats, blank_lines_ok)
    raise_for_problems(problems)
    if not records:
        raise DatasetValidationError(str(path), [Problem(str(path), 0, "(file)", "no records")])
    return records


FORMAT_FIELDS = {"messages": "messages", "alpaca": "instruction/input/output", "prompt_completion": "prompt/completion"}


def _format_or_none(record: dict) -> str | None:
    try:
        return detect_format(record)
    except ValueError:
        return None


# What a file must be, by the tool that will read it: the formats it accepts and whether blank lines pass.
FILE_RULES = {
    "mistral": dict(formats=("messages",), blank_lines_ok=False),  # Mistral's fine-tuning API: messages only
    "messages": dict(formats=("messages",), blank_lines_ok=True),
    "alpaca": dict(formats=("alpaca",), blank_lines_ok=True),
    "prompt-completion": dict(formats=("prompt_completion",), blank_lines_ok=True),
    "any": dict(formats=None, blank_lines_ok=True),
}
