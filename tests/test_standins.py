"""Every lesson runs to the end on the stand-ins: the hub code path (school, the model's own chat
template with markers added, added role tokens, a 4-bit base) at small size, offline.

These check mechanics, not accuracy: the stand-ins' weights are random. `make test` runs the stand-in
of each architecture family that the tiny profile does not already cover; `make test-profiles` runs all.
"""

from __future__ import annotations

import os

import pytest

from labkit.lessons.registry import LESSONS
from labkit.ui.course import run_lesson

STANDINS = os.environ.get("LABKIT_STANDINS", "standin-qwen standin-mistral").split()


@pytest.mark.standin
@pytest.mark.parametrize("profile", STANDINS)
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.key)
def test_lesson_runs_on_the_stand_in(lesson, profile, tmp_path):
    run = run_lesson(lesson, tmp_path, small=True, parameters={"profile": profile})
    assert run.ok, run.error
    missing = [name for name in lesson.metrics if name not in run.metrics]
    assert not missing, f"{lesson.key} on {profile} did not record {missing}"
