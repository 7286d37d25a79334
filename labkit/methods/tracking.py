"""Experiment tracking with trackio: every training run logged to a local project, compared on one dashboard.

trackio is local-first: runs go to a SQLite file under ``build/trackio/`` (``TRACKIO_DIR``), nothing
leaves the machine, and the dashboard is a local web page. TRL's trainers log to it with
``report_to="trackio"``; ``project`` names the dashboard and ``run_name`` the line on it.

>>> tracking_arguments("labkit-02-lora", "LoRA r=16")["report_to"]
'trackio'
>>> dashboard_command("labkit-02-lora")
'TRACKIO_DIR=build/trackio trackio show --project labkit-02-lora --host 127.0.0.1'
"""

from __future__ import annotations

import contextlib
import io
import os

from labkit.paths import REPO_ROOT, TRACKIO_DIR


def use_local_store() -> None:
    """Point trackio at the course's store, unless the learner chose another (trackio reads it on import)."""
    os.environ.setdefault("TRACKIO_DIR", str(TRACKIO_DIR))


def tracking_arguments(project: str, run_name: str) -> dict:
    """The TRL config fields that log one run to a local trackio project (a settings' ``extra``)."""
    use_local_store()
    return {"report_to": "trackio", "project": project, "run_name": run_name}


def logged_metrics(project: str, run_name: str) -> list[dict]:
    """What a run logged, read back from the local store: one dict per logging step."""
    use_local_store()
    from trackio.sqlite_storage import SQLiteStorage

    return SQLiteStorage.get_logs(project, run_name)


def without_trackio_lines(run):
    """``run()``, with what it prints passed on except trackio's own lines (eight a run, and a dashboard
    hint that omits the course's store: :func:`dashboard_command` gives the right one)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = run()
    print("".join(line for line in printed.getvalue().splitlines(keepends=True)
                  if not (line.startswith("* ") or "trackio show --project" in line)), end="")
    return result


def dashboard_command(project: str) -> str:
    """The shell command, run from the repository root, that opens the project's dashboard on this machine only."""
    store = os.path.relpath(os.environ.get("TRACKIO_DIR", TRACKIO_DIR), REPO_ROOT)
    return f"TRACKIO_DIR={store} trackio show --project {project} --host 127.0.0.1"
