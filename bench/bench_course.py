"""Seconds and peak memory of each lesson notebook under `make course`, against the 10-minute target.

    .venv/bin/python bench/bench_course.py            # read build/course/report.json
    .venv/bin/python bench/bench_course.py --run      # run every lesson now (labkit.ui.course), measuring memory
    .venv/bin/python bench/bench_course.py --run 01 02

With --run the lessons are executed by labkit.ui.course.run_course, exactly as `make course` does; the
course runner samples the resident memory of each notebook's kernel process while it runs. Without
--run the last report is read.
"""

from __future__ import annotations

import argparse
import json

from benchlib import print_header, save_result

TARGET_MINUTES = 10.0


def run_lessons(keys: list[str]) -> dict:
    """Run the lessons as `make course` does (labkit.ui.course), which also records the kernel's peak memory."""
    from labkit.ui.course import run_course

    runs = run_course(keys or None)
    return {run.key: {"seconds": run.seconds, "ok": run.ok, "peak_memory_mb": run.peak_memory_mb} for run in runs}


def read_report() -> dict:
    from labkit.paths import COURSE_DIR

    path = COURSE_DIR / "report.json"
    if not path.exists():
        return {}
    lessons = json.loads(path.read_text())["lessons"]
    return {key: {"seconds": entry["seconds"], "ok": entry["ok"],
                  "peak_memory_mb": entry.get("peak_memory_mb")} for key, entry in lessons.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="store_true", help="run the lessons now instead of reading the report")
    parser.add_argument("lessons", nargs="*", help="lesson keys or numbers with --run (default: all)")
    args = parser.parse_args(argv)
    info = print_header("the course: seconds and peak memory per lesson")
    rows = run_lessons(args.lessons) if args.run else read_report()
    if not rows:
        print("no course report yet: run `make course` first, or this script with --run")
        return 0
    print(f"\n{'lesson':<16} {'seconds':>8} {'peak MiB':>9}  ok")
    for key, row in rows.items():
        memory = f"{row['peak_memory_mb']:.0f}" if row["peak_memory_mb"] is not None else "—"
        print(f"{key:<16} {row['seconds']:8.1f} {memory:>9}  {'yes' if row['ok'] else 'NO'}")
    total = sum(row["seconds"] for row in rows.values())
    print(f"{'total':<16} {total:8.1f}  ({total / 60:.1f} min)")
    if total / 60 <= TARGET_MINUTES:
        print(f"course: {total / 60:.1f} min <= target {TARGET_MINUTES:.0f} min: met")
    else:
        slowest = max(rows, key=lambda key: rows[key]["seconds"])
        print(f"course: {total / 60:.1f} min > target {TARGET_MINUTES:.0f} min: over by "
              f"{total / 60 - TARGET_MINUTES:.1f} min; the slowest lesson is {slowest} "
              f"({rows[slowest]['seconds']:.0f} s): shorten its default steps or reuse a cached model")
    save_result("course", {"machine": info, "measured_now": args.run, "lessons": rows, "total_seconds": total})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
