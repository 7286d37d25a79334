"""Lesson 00 — start here: what the base model knows, and what it cannot do yet.

>>> biography(make_people()[0]).startswith(make_people()[0].name)
True
"""

from __future__ import annotations

import json

from labkit.core.data.world import make_people
from labkit.lessons.registry import LESSONS
from labkit.paths import CORPUS_PATH

__all__ = ["make_people", "biography", "lesson_table"]


def biography(person) -> str:
    """The first biography of ``person`` in the pre-training corpus (not a Question/Answer document)."""
    with CORPUS_PATH.open(encoding="utf-8") as corpus:
        for line in corpus:
            text = json.loads(line)["text"]
            if text.startswith(person.name) and "Question" not in text:
                return text
    raise LookupError(f"no biography of {person.name} in {CORPUS_PATH}")


def lesson_table() -> str:
    """The course's lessons as a Markdown table, from the lesson registry."""
    rows = ["| # | lesson | teaches | you will | measured effect |", "|---|---|---|---|---|"]
    for lesson in LESSONS:
        rows.append(f"| {lesson.number} | [{lesson.slug}]({lesson.notebook.name}) | {lesson.teaches} "
                    f"| {lesson.interactive} | {lesson.effect} |")
    return "\n".join(rows)
