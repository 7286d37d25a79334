"""The GPU check's table for bench/README.md: seconds and peak GPU memory per lesson and run.

    python tools/gpu_summary.py build/gpu
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def summary(folder: Path) -> str:
    rows = ["| run | lesson | ok | seconds | peak GPU memory (MB) |", "|---|---|---|---|---|"]
    for report in sorted(folder.glob("*/report.json")):
        for lesson, result in json.loads(report.read_text())["lessons"].items():
            gpu = result.get("metrics", {}).get("gpu_peak_memory_mb")
            rows.append(f"| {report.parent.name} | {lesson} | {'yes' if result['ok'] else 'NO'} | "
                        f"{result['seconds']:.1f} | {'' if gpu is None else f'{gpu:,.0f}'} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(summary(Path(sys.argv[1])))
