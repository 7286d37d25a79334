"""How fast the course starts: the tiny model loads offline, and a hub profile with no network gives up.

    .venv/bin/python bench/bench_startup.py [--repeats 5]

Targets: the tiny model and tokenizer load in under 2 s (libraries already imported); a hub profile
asked for with no network fails, naming `tiny`, in under 10 s. Each figure is the median of fresh
interpreters with the Hub switched off (`HF_HUB_OFFLINE=1`), or the network probe pointed at an
unresolvable host.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from benchlib import REPO_ROOT, print_header

LOAD_TARGET_S, FAIL_FAST_TARGET_S = 2.0, 10.0

LOAD = ("import time, labkit.core.models as m; from transformers import AutoModelForCausalLM, AutoTokenizer; "
        "t = time.perf_counter(); m.load_model('tiny'); m.load_tokenizer('tiny'); print(time.perf_counter() - t)")
FAIL_FAST = ("import time, labkit.core.models as m; {setup}; t = time.perf_counter()\n"
             "try:\n    m.load_tokenizer('{profile}')\nexcept m.ProfileUnavailableError as e:\n"
             "    assert 'tiny' in str(e)\nprint(time.perf_counter() - t)")


def seconds(code: str, env: dict) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT,
                         env={"PATH": "/usr/bin:/bin", **env})
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    print_header("start-up: offline load and fail-fast")
    rows = [("tiny model + tokenizer load", LOAD, {"HF_HUB_OFFLINE": "1"}, LOAD_TARGET_S),
            ("hub profile, HF_HUB_OFFLINE=1", FAIL_FAST.format(setup="pass", profile="smol"),
             {"HF_HUB_OFFLINE": "1"}, FAIL_FAST_TARGET_S),
            ("hub profile, no network", FAIL_FAST.format(setup="import labkit.core.hub as h; h.HUB_HOST = 'hub.invalid'", profile="qwen-0.5b"),
             {}, FAIL_FAST_TARGET_S)]
    for name, code, env, target in rows:
        median = statistics.median(seconds(code, env) for _ in range(repeats))
        print(f"{name:32} {median:6.2f} s (median of {repeats})  target < {target:.0f} s: "
              f"{'met' if median < target else 'NOT met'}")


if __name__ == "__main__":
    main()
