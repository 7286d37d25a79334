"""The lesson table: the one source the README, `make course` and the tests read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


@dataclass(frozen=True)
class Lesson:
    """One lesson: its notebook, what it teaches, and the metrics its report must hold."""

    number: str
    slug: str
    teaches: str
    interactive: str
    effect: str
    metrics: tuple[str, ...] = ()
    # Papermill parameters that shrink the lesson for the test suite (same code path).
    test_parameters: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The report key, e.g. ``"01_sft"``."""
        return f"{self.number}_{self.slug}"

    @property
    def notebook(self) -> Path:
        return NOTEBOOKS_DIR / f"{self.key}.ipynb"


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "00", "start_here",
        "pre-training vs fine-tuning; the base model can't follow instructions yet",
        "generate from the base model", "base samples",
        metrics=("base_instruction_accuracy", "base_continuation_accuracy"),
        test_parameters={"n_probe": 20},
    ),
    Lesson(
        "01", "sft",
        "instruction → response data, formats, chat templates, train/validation split, SFT",
        "live loss plot, before/after", "held-out accuracy before → after",
        metrics=("heldout_accuracy_before", "heldout_accuracy_after", "val_perplexity_before",
                 "val_perplexity_after", "train_seconds", "train_tokens_per_second"),
        test_parameters={"max_steps": 40, "n_eval": 40, "your_turn_steps": 15},
    ),
    Lesson(
        "07", "final_check",
        "the six-question check over the whole course",
        "quiz", "score",
        metrics=("questions", "score"),
        test_parameters={},
    ),
)


def get_lesson(key: str) -> Lesson:
    """Look a lesson up by its key (``"01_sft"``) or number (``"01"``)."""
    for lesson in LESSONS:
        if key in (lesson.key, lesson.number):
            return lesson
    known = ", ".join(lesson.key for lesson in LESSONS)
    raise KeyError(f"no lesson {key!r}; known lessons: {known}")
