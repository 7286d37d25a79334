"""One line of a preference-label file: a pair to judge, a label or an undo, checked field by field.

>>> make_pair("Hi?", "Hello!", "Hi.")["pair_id"]
'1b45502cc9df'
>>> check_label_record({"type": "label", "choice": "maybe"})[0]
('label_id', 'missing')
"""

from __future__ import annotations

import hashlib
import json

from labkit.core.data.tone import tone_of
from labkit.core.data.validate import Problem

CHOICES = ("a", "b", "tie", "skip")
SIMULATED_ANNOTATOR = "simulated (tone rule)"
SIMULATED_RULE = ("prefers the polite response (polite > neutral > rude, judged by tone_of); "
                  "a tie when both responses have the same tone")
LABEL_FIELDS = {"type": str, "label_id": str, "pair_id": str, "prompt": str, "response_a": str,
                "response_b": str, "choice": str, "annotator": str, "simulated": bool, "timestamp": float}
UNDO_FIELDS = {"type": str, "label_id": str, "pair_id": str, "annotator": str, "timestamp": float}
def make_pair(prompt: str, response_a: str, response_b: str, meta: dict | None = None) -> dict:
    """A pair to label; its id is a hash of its text, so the same pair gets the same id on every run.

    """
    digest = hashlib.sha1(json.dumps([prompt, response_a, response_b]).encode()).hexdigest()[:12]
    return {"pair_id": digest, "prompt": prompt, "response_a": response_a, "response_b": response_b,
            "meta": dict(meta or {})}


TONE_RANK = {"polite": 2, "neutral": 1, "rude": 0}


def simulated_choice(pair: dict) -> str:
    """The simulated annotator's rule (see SIMULATED_RULE): "a", "b" or "tie".

    >>> simulated_choice(make_pair("Q?", "Ugh, fine. X.", "Happy to help! X."))
    'b'
    """
    a, b = (TONE_RANK[tone_of(pair[k])] for k in ("response_a", "response_b"))
    return "a" if a > b else "b" if b > a else "tie"


def _check_fields(record: dict, fields: dict) -> list[tuple[str, str]]:
    problems = []
    for name, kind in fields.items():
        value = record.get(name)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else isinstance(value, kind)
        if not ok:
            problems.append((name, "missing" if name not in record else
                             f"must be {kind.__name__}, got {type(value).__name__}"))
    return problems


def check_label_record(record) -> list[tuple[str, str]]:
    """Problems with one parsed line of a label file, as (field, message) pairs."""
    if not isinstance(record, dict):
        return [("(line)", f"must be a JSON object, got {type(record).__name__}")]
    kind = record.get("type")
    if kind == "label":
        problems = _check_fields(record, LABEL_FIELDS)
        if isinstance(record.get("choice"), str) and record["choice"] not in CHOICES:
            problems.append(("choice", f"{record['choice']!r} is not one of {', '.join(CHOICES)}"))
        return problems
    if kind == "undo":
        return _check_fields(record, UNDO_FIELDS)
    return [("type", f"must be 'label' or 'undo', got {kind!r}")]


def parse_label_lines(data: bytes, path: str, first_line: int = 1) -> tuple[list[dict], list[Problem]]:
    """Parse complete lines of a label file; bad lines become Problems with their line numbers."""
    records, problems = [], []
    for number, raw in enumerate(data.split(b"\n"), start=first_line):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            why = f"{error.msg} at column {error.colno}" if isinstance(error, json.JSONDecodeError) else str(error)
            problems.append(Problem(path, number, "(line)", f"unreadable JSON ({why}), probably cut short by a "
                                    "crash; line skipped, the rest of the file is used"))
            continue
        found = check_label_record(record)
        problems += [Problem(path, number, name, message + "; line skipped") for name, message in found]
        if not found:
            records.append(record)
    return records, problems
