"""The "your turn" pattern every lesson shares: a blank to fill, and a check that says what it found.

The exercise cell holds a blank (``...`` or ``None``). The check cell never fails the notebook: it says
"not attempted" until the blank is filled, then "right" with why, or "wrong" with a hint. A papermill
parameter ``solutions`` (default False) fills in the reference solution, so the test suite proves each
check accepts it; a unit test proves it rejects a wrong answer.

>>> check(None, lambda answer: right("yes")).status
'not attempted'
>>> str(check(41, lambda answer: right("it is the answer") if answer == 42 else wrong("count again")))
'wrong: count again'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STATUSES = ("not attempted", "right", "wrong")


@dataclass(frozen=True)
class Verdict:
    """What a check found: "not attempted", "right" or "wrong", and why (or a hint)."""

    status: str
    message: str

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status == "right"

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"

    def _repr_markdown_(self) -> str:
        mark = {"right": "✅", "wrong": "❌"}.get(self.status, "✏️")
        return f"{mark} **{self.status}**: {self.message}"


def right(why: str) -> Verdict:
    return Verdict("right", why)


def wrong(hint: str) -> Verdict:
    return Verdict("wrong", hint)


def is_blank(answer: Any) -> bool:
    """An exercise left as it was handed out: ``...`` or ``None``."""
    return answer is None or answer is Ellipsis


def check(answer: Any, judge: Callable[[Any], Verdict],
          blank: str = "fill in the cell above, run it, then run this cell again.") -> Verdict:
    """``judge(answer)``, or "not attempted" while the answer is still blank."""
    return Verdict("not attempted", blank) if is_blank(answer) else judge(answer)
