"""Run lessons headless with papermill and write the course report.

``python -m labkit.ui.course`` (or ``make course``) runs every lesson at its default size;
``--small`` uses each lesson's small test parameters (the same code path, shrunk).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labkit.lessons.registry import LESSONS, Lesson, get_lesson
from labkit.paths import COURSE_DIR

DESCRIPTION = "Run lesson notebooks headless (papermill) and write build/course/report.json."


@dataclass
class LessonRun:
    """How one lesson's run went."""

    key: str
    seconds: float
    ok: bool
    metrics: dict = field(default_factory=dict)
    peak_memory_mb: float = 0.0  # the kernel's peak resident memory while the notebook ran
    error: str = ""
    output: str = ""


class KernelMemorySampler:
    """Sample the resident memory of this process's children (the notebook kernel) in a thread."""

    def __init__(self, interval: float = 0.2):
        import threading

        self.interval, self.peak_bytes = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:  # the kernel may exit between listing and reading
                    pass
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_lesson(lesson: Lesson, out_dir: Path = COURSE_DIR, small: bool = False,
               parameters: dict | None = None, kernel_name: str = "python3") -> LessonRun:
    """Execute one lesson notebook with papermill and collect the metrics it recorded."""
    import papermill

    # Absolute: the kernel runs in notebooks/, so a relative folder (`--out build/course-small`) would
    # send its metrics somewhere this process does not look.
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics_dir = out_dir / "metrics"
    metrics_file = metrics_dir / f"{lesson.key}.json"
    metrics_file.unlink(missing_ok=True)
    output = out_dir / f"{lesson.key}.ipynb"
    # Nobody can click here: a lesson that waits for a person (03, 04) declares `headless` and is told so.
    headless = {"headless": True} if "headless" in papermill.inspect_notebook(str(lesson.notebook)) else {}
    params = {**headless, **(lesson.test_parameters if small else {}), **(parameters or {})}
    previous = os.environ.get("LABKIT_METRICS_DIR")
    os.environ["LABKIT_METRICS_DIR"] = str(metrics_dir)  # the kernel inherits it
    start = time.perf_counter()
    error = ""
    try:
        with KernelMemorySampler() as memory:
            papermill.execute_notebook(str(lesson.notebook), str(output), parameters=params,
                                       kernel_name=kernel_name, cwd=str(lesson.notebook.parent),
                                       progress_bar=False)
    except Exception as exc:  # papermill raises PapermillExecutionError with the cell's traceback
        error = f"{type(exc).__name__}: {exc}"[:2000]
    finally:
        if previous is None:
            os.environ.pop("LABKIT_METRICS_DIR", None)
        else:
            os.environ["LABKIT_METRICS_DIR"] = previous
    seconds = time.perf_counter() - start
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    if not error and not metrics:
        error = "the notebook ran but recorded no metrics (its last cell calls labkit.record_metrics)"
    return LessonRun(lesson.key, round(seconds, 1), not error, metrics,
                     round(memory.peak_bytes / 2**20, 1), error, str(output))


def write_report(runs: list[LessonRun], out_dir: Path = COURSE_DIR) -> Path:
    """Write report.json in the course-report schema: {"lessons": {key: {seconds, ok, metrics}}}."""
    path = out_dir / "report.json"
    existing = json.loads(path.read_text()) if path.exists() else {"lessons": {}}
    for run in runs:
        existing["lessons"][run.key] = {k: v for k, v in asdict(run).items() if k not in ("key", "output")
                                        and (k != "error" or v)}
    existing["lessons"] = dict(sorted(existing["lessons"].items()))
    path.write_text(json.dumps(existing, indent=1))
    return path


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in list(value.items())[:4]) + "}"
    return str(value)


def format_table(runs: list[LessonRun], keys_per_lesson: int = 4) -> str:
    """The report as a plain-text table: lesson, seconds, ok, key metrics."""
    rows = [("lesson", "seconds", "peak MB", "ok", "key metrics")]
    for run in runs:
        names = get_lesson(run.key).metrics[:keys_per_lesson]
        shown = ", ".join(f"{n}={_short(run.metrics[n])}" for n in names if n in run.metrics)
        rows.append((run.key, f"{run.seconds:.1f}", f"{run.peak_memory_mb:.0f}", "yes" if run.ok else "NO",
                     shown or run.error[:80]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:<{widths[3]}}  {r[4]}"
             for r in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    total = sum(run.seconds for run in runs)
    lines.append(f"total: {total:.0f} s ({total / 60:.1f} min), {sum(r.ok for r in runs)}/{len(runs)} ok")
    return "\n".join(lines)


def run_course(keys: list[str] | None = None, out_dir: Path = COURSE_DIR, small: bool = False,
               parameters: dict | None = None) -> list[LessonRun]:
    """Run the chosen lessons (all by default) in order, print the table, write the report."""
    lessons = [get_lesson(k) for k in keys] if keys else list(LESSONS)
    runs = []
    for lesson in lessons:
        print(f"running {lesson.key} …", flush=True)
        runs.append(run_lesson(lesson, out_dir, small, parameters))
        print(f"  {'ok' if runs[-1].ok else 'FAILED'} in {runs[-1].seconds:.1f} s"
              + (f": {runs[-1].error[:300]}" if runs[-1].error else ""), flush=True)
    report = write_report(runs, out_dir)
    print(format_table(runs))
    print(f"report: {report}")
    return runs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``labkit course`` / ``python -m labkit.ui.course``."""
    parser.add_argument("lessons", nargs="*", help="lesson keys or numbers (default: all)")
    parser.add_argument("--small", action="store_true", help="use each lesson's small test parameters")
    parser.add_argument("--out", type=Path, default=COURSE_DIR, help=f"output folder (default: {COURSE_DIR})")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
                        help="override a notebook parameter, e.g. -p profile smol (values parsed as JSON if possible)")


def run_from_arguments(args: argparse.Namespace) -> int:
    """Run the course as the parsed options say; 0 if every lesson ran."""
    parameters = {}
    for name, value in args.parameter:
        try:
            parameters[name] = json.loads(value)
        except json.JSONDecodeError:
            parameters[name] = value
    runs = run_course(args.lessons or None, args.out, args.small, parameters)
    return 0 if all(run.ok for run in runs) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.ui.course", description=DESCRIPTION)
    add_arguments(parser)
    return run_from_arguments(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
