"""Each notebook's last cell records its metrics here; `make course` gathers them."""

from __future__ import annotations

import json
import math

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


def record_metrics(lesson_key: str, metrics: dict) -> dict:
    """Record a lesson's metrics for the course report, and show them.

    Every name the lesson table lists for this lesson must be present.

    >>> record_metrics("00_start_here", {"base_instruction_accuracy": 0.0,
    ...                                  "base_continuation_accuracy": 0.9})  # doctest: +SKIP
    """
    lesson = get_lesson(lesson_key)
    missing = [name for name in lesson.metrics if name not in metrics]
    if missing:
        raise ValueError(f"lesson {lesson.key} must record {', '.join(missing)}; got {sorted(metrics)}")
    values = _plain(metrics)
    path = metrics_dir() / f"{lesson.key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(values, indent=1))
    tmp.replace(path)
    width = max(len(name) for name in values)
    for name, value in values.items():
        print(f"{name:<{width}}  {value}")
    return values
