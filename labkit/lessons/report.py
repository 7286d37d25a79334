"""Each notebook's last cell records its metrics here; `make course` gathers them."""

from __future__ import annotations

import math
import sys

from labkit.core.files import atomic_write_json
from labkit.lessons.registry import get_lesson
from labkit.paths import metrics_dir


def _plain(value):
    """Numbers rounded for reading; dict keys as strings, as JSON needs."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):  # numpy / torch scalars
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"metric value {value} is not a finite number")
        return round(value, 6)
    return value


def gpu_peak_memory_mb() -> dict:
    """The GPU's peak allocated memory in this kernel, if a GPU was used: {"gpu_peak_memory_mb": …}, else {}."""
    torch = sys.modules.get("torch")  # not imported: no GPU work happened here
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return {}
    return {"gpu_peak_memory_mb": torch.cuda.max_memory_allocated() / 2**20}


def record_metrics(lesson_key: str, metrics: dict) -> None:
    """Record a lesson's metrics for the course report, and show them once, as a table.

    Every name the lesson table lists for this lesson must be present. On a GPU, the kernel's peak GPU
    memory is recorded too.

    >>> record_metrics("00_start_here", {"base_instruction_accuracy": 0.0,
    ...                                  "base_continuation_accuracy": 0.9})  # doctest: +SKIP
    base_instruction_accuracy   0.0
    base_continuation_accuracy  0.9
    """
    lesson = get_lesson(lesson_key)
    missing = [name for name in lesson.metrics if name not in metrics]
    if missing:
        raise ValueError(f"lesson {lesson.key} must record {', '.join(missing)}; got {sorted(metrics)}")
    values = _plain({**metrics, **gpu_peak_memory_mb()})
    atomic_write_json(metrics_dir() / f"{lesson.key}.json", values)
    width = max(len(name) for name in values)
    for name, value in values.items():
        print(f"{name:<{width}}  {value}")
