"""Keep the README's lesson and profile tables in step with the registries.

``python -m labkit.ui.readme`` rewrites the blocks between the ``<!-- lessons -->`` and
``<!-- profiles -->`` markers; a test fails when they are stale.
"""

from __future__ import annotations

import re

from labkit.lessons.registry import LESSONS
from labkit.paths import README_PATH, REPOSITORY
from labkit.core.profiles import PROFILES


COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def colab_link(notebook_name: str) -> str:
    """A notebook of the course, opened in Colab straight from the repository."""
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/{notebook_name}"


def lesson_table() -> str:
    rows = ["| # | notebook | teaches | interactive part | measured effect on `tiny` | Colab |",
            "|---|---|---|---|---|---|"]
    for lesson in LESSONS:
        name = lesson.notebook.name
        rows.append(f"| {lesson.number} | [{lesson.slug}](notebooks/{name}) | {lesson.teaches} "
                    f"| {lesson.interactive} | {lesson.effect} | [![Open in Colab]({COLAB_BADGE})]({colab_link(name)}) |")
    return "\n".join(rows)


def profile_table() -> str:
    rows = ["| profile | model | hardware | expected time | notes |", "|---|---|---|---|---|"]
    origin = {"local": lambda p: "`data/tiny` (ships with the course)", "hub": lambda p: f"`{p.model_id}`",
              "standin": lambda p: f"stand-in for `{p.model_id}`, built offline into `build/`"}
    for p in PROFILES.values():
        rows.append(f"| `{p.name}` | {origin[p.source](p)} | {p.hardware} | {p.expected_time} | {p.notes} |")
    return "\n".join(rows)


def render(text: str) -> str:
    """``text`` with its marked blocks replaced by the current tables."""
    for name, table in (("lessons", lesson_table()), ("profiles", profile_table())):
        pattern = re.compile(rf"(<!-- {name} -->\n).*?(<!-- /{name} -->)", re.DOTALL)
        if not pattern.search(text):
            raise ValueError(f"README.md lacks the <!-- {name} --> … <!-- /{name} --> markers")
        text = pattern.sub(lambda m: m.group(1) + table + "\n" + m.group(2), text)
    return text


if __name__ == "__main__":
    README_PATH.write_text(render(README_PATH.read_text()))
    print(f"updated {README_PATH}")
