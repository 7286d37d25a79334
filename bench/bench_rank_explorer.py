"""How long one change of the LoRA rank explorer takes (the target: under 50 ms).

    .venv/bin/python bench/bench_rank_explorer.py [--changes 200]

A change is what a learner does: drag the rank slider, tick a target module, switch the model.
We set the widget's value exactly as the browser's message would, which runs the same observers
synchronously, and time it. "figures only" is the same update without redrawing the plot.
Wall time is what a learner feels; CPU time (this thread's) is the work itself, which stays
comparable when other processes share the cores (wall time then also counts waiting for one).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

TARGET_MS = 50.0


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def changes(explorer, n, rng):
    """A mixed sequence of learner actions: mostly rank moves, some ticks, a few model switches."""
    models = list(explorer.model_dropdown.options)
    for _ in range(n):
        kind = rng.choices(["rank", "target", "model"], weights=[8, 3, 1])[0]
        if kind == "rank":
            yield kind, lambda: setattr(explorer.rank_slider, "value", rng.randint(1, 256))
        elif kind == "target":
            boxes = explorer.targets_box.children
            box = boxes[rng.randrange(len(boxes))]
            if box.value and len(explorer.target_modules) == 1:
                continue  # keep one target ticked, as a learner would
            yield kind, lambda box=box: setattr(box, "value", not box.value)
        else:
            yield kind, lambda: setattr(explorer.model_dropdown, "value", rng.choice(models))


def run(n: int, with_plot: bool, seed: int = 0):
    from labkit.ui.widgets import RankExplorer

    explorer = RankExplorer(model="llama-2-7b", rank=8)
    if not with_plot:  # same observers, figures only
        original = explorer.update
        explorer.update = lambda draw=True: original(draw=False)
    for name in explorer.model_dropdown.options:  # parse every config once, as after a first visit
        explorer.model_dropdown.value = name
    explorer.model_dropdown.value = "llama-2-7b"
    wall = {"rank": [], "target": [], "model": []}
    cpu = {"rank": [], "target": [], "model": []}
    for kind, action in changes(explorer, n, random.Random(seed)):
        start, start_cpu = time.perf_counter(), time.thread_time()
        action()
        wall[kind].append(1000 * (time.perf_counter() - start))
        cpu[kind].append(1000 * (time.thread_time() - start_cpu))
    return wall, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.1f} (above the core count, wall times include "
          "waiting for a core)")
    for with_plot in (True, False):
        label = "with plot" if with_plot else "figures only"
        for clock, timings in zip(("wall", "cpu"), run(args.changes, with_plot), strict=True):
            everything = [t for values in timings.values() for t in values]
            p95 = percentile(everything, 0.95)
            print(f"{label:12s} {clock:4s} {len(everything)} changes: median "
                  f"{statistics.median(everything):6.2f} ms, p95 {p95:6.2f} ms, max {max(everything):6.2f} ms"
                  f" → p95 = {p95 / TARGET_MS:.2f}× the {TARGET_MS:.0f} ms target")
            for kind, values in timings.items():
                if values:
                    print(f"{'':17s} {kind:6s} ×{len(values):3d}: median "
                          f"{statistics.median(values):6.2f} ms, p95 {percentile(values, 0.95):6.2f} ms")


if __name__ == "__main__":
    main()
