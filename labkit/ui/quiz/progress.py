"""Each learner's quiz attempts, kept in one JSON file that a crash can never corrupt.

>>> record_attempt("ada", "02_lora", score=4, total=5)  # doctest: +SKIP
PosixPath('/home/ada/.local/share/labkit/progress/ada.json')
>>> lesson_status("ada")[2]  # doctest: +SKIP
LessonStatus(lesson='02_lora', quiz=..., best=4, total=5, attempts=1)

The file lives in the user's data directory (``$LABKIT_DATA_DIR`` overrides it, e.g. in tests).
Every write happens under a lock and through :func:`labkit.core.files.atomic_write_json` (an
fsynced temporary file renamed into place): a reader sees the old attempts or the new ones, never half.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import platformdirs
from filelock import FileLock

from labkit.core.files import atomic_write_json, remove_stale_temp_files
from labkit.lessons.registry import LESSONS
from labkit.ui.quiz.bank import find_quizzes

FORMAT_VERSION = 1
PASS_FRACTION = 0.8  # a lesson's check counts as passed from 80% (e.g. 5 of 6, 4 of 5)
DEFAULT_LEARNER = "you"
_LEARNER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ProgressError(RuntimeError):
    """The progress file cannot be read as saved progress; it is left untouched."""


class LearnerNameError(ValueError):
    """A learner name that cannot safely name a file."""


def data_dir() -> Path:
    """Where labkit keeps learner data: ``$LABKIT_DATA_DIR``, else the platform's user data dir."""
    override = os.environ.get("LABKIT_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir("labkit", appauthor=False))


def default_learner() -> str:
    """``$LABKIT_LEARNER`` if set, else ``"you"`` (the notebooks' default too)."""
    return os.environ.get("LABKIT_LEARNER") or DEFAULT_LEARNER


def progress_path(learner: str) -> Path:
    """The learner's file, e.g. ``~/.local/share/labkit/progress/ada.json``."""
    if not _LEARNER_PATTERN.match(learner):
        # Refuse rather than rewrite: two names mapping to one file would mix two people's progress.
        raise LearnerNameError(f"learner name {learner!r} can use letters, digits, '.', '-' and '_' "
                         "(up to 64, starting with a letter or digit), e.g. 'ada' or 'ada.l'")
    return data_dir() / "progress" / f"{learner}.json"


def load_progress(learner: str) -> dict:
    """The learner's saved progress: ``{"version": 1, "learner": ..., "attempts": [...]}``."""
    path = progress_path(learner)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"version": FORMAT_VERSION, "learner": learner, "attempts": []}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProgressError(f"{path} is not valid JSON ({error}); labkit will not overwrite it. "
                            "Fix it by hand or move it aside to start afresh.") from None
    if not isinstance(data, dict) or not isinstance(data.get("attempts"), list):
        raise ProgressError(f"{path} has no 'attempts' list; labkit will not overwrite it. "
                            "Move it aside to start afresh.")
    if data.get("version", FORMAT_VERSION) > FORMAT_VERSION:
        raise ProgressError(f"{path} was written by a newer labkit (format {data['version']}); "
                            "upgrade labkit to read it.")
    return data


def record_attempt(learner: str, lesson: str, score: int, total: int,
                   questions: dict[str, bool] | None = None) -> Path:
    """Append one attempt (score out of total, and per-question right/wrong); return the file."""
    if not 0 <= score <= total:
        raise ValueError(f"score {score} must be between 0 and total {total}")
    path = progress_path(learner)
    path.parent.mkdir(parents=True, exist_ok=True)
    attempt = {"lesson": lesson, "score": int(score), "total": int(total),
               "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "questions": dict(questions or {})}
    # The lock makes read-append-write safe when a notebook and a terminal save at once.
    with FileLock(str(path) + ".lock", timeout=30):
        remove_stale_temp_files(path)  # under the lock no one else writes: these are a killed writer's
        data = load_progress(learner)
        data["attempts"].append(attempt)
        atomic_write_json(path, data)
    return path


@dataclass(frozen=True)
class LessonStatus:
    """One lesson's check as the learner stands: best score so far and how many attempts."""

    lesson: str
    quiz: Path | None
    best: int | None
    total: int | None
    attempts: int

    @property
    def passed(self) -> bool:
        return self.best is not None and self.best >= PASS_FRACTION * self.total

    @property
    def state(self) -> str:
        """``"passed"``, ``"retry"``, ``"not taken"`` or ``"no quiz yet"``."""
        if self.passed:
            return "passed"
        if self.attempts:
            return "retry"
        return "not taken" if self.quiz else "no quiz yet"


def lesson_status(learner: str, quizzes: dict[str, Path] | None = None) -> list[LessonStatus]:
    """Every lesson in course order (plus any lesson only the attempts know), with its best score."""
    if quizzes is None:
        quizzes = find_quizzes()
    best: dict[str, dict] = {}
    counts: dict[str, int] = {}
    for attempt in load_progress(learner)["attempts"]:
        lesson = attempt["lesson"]
        counts[lesson] = counts.get(lesson, 0) + 1
        # Compare as fractions: a bank may have grown since an earlier attempt.
        if lesson not in best or attempt["score"] / attempt["total"] > best[lesson]["score"] / best[lesson]["total"]:
            best[lesson] = attempt
    keys = [lesson.key for lesson in LESSONS]
    keys += sorted((set(quizzes) | set(best)) - set(keys))
    return [LessonStatus(key, quizzes.get(key), best[key]["score"] if key in best else None,
                         best[key]["total"] if key in best else None, counts.get(key, 0))
            for key in keys]


def plot_progress(learner: str, ax=None):
    """A bar per lesson: the best share of questions right, with the pass mark drawn."""
    import matplotlib.pyplot as plt

    rows = [row for row in lesson_status(learner) if row.quiz or row.attempts]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 2.8))
    fractions = [row.best / row.total if row.attempts else 0.0 for row in rows]
    colours = ["tab:green" if row.passed else "tab:orange" if row.attempts else "lightgrey"
               for row in rows]
    ax.bar([row.lesson for row in rows], fractions, color=colours)
    for x, row in enumerate(rows):
        label = f"{row.best}/{row.total}" if row.attempts else "not taken"
        ax.text(x, max(fractions[x], 0.02) + 0.03, label, ha="center", fontsize=9)
    ax.axhline(PASS_FRACTION, color="grey", linestyle="--", linewidth=1)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("best score")
    ax.set_title(f"Progress of learner '{learner}' (dashed line: pass mark)")
    ax.tick_params(axis="x", labelrotation=20)
    return ax
