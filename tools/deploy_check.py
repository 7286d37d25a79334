"""``make deploy-check``: lesson 05's merged tiny model as GGUF (f16 and q8_0) for llama.cpp and Ollama,
answering the held-out questions as PyTorch does. Writes ``build/deploy/report.json``:

    {"gguf_agreement_f16": 1.0, "gguf_agreement_q8_0": 0.97, "gguf_bytes_ratio_q8_0_vs_f16": 0.54, "seconds": 40.0}

``seconds`` covers the export and both comparisons; the merged model is trained first (lesson 05's
small size, 60 steps) only if ``build/runs`` does not have it yet.

Usage: ``python tools/deploy_check.py [--steps 60]`` (after ``make deploy-install``).
"""

from __future__ import annotations

import argparse

from labkit.core.files import atomic_write_json
from labkit.lessons import l05_qlora
from labkit.paths import DEPLOY_DIR

SMALL_STEPS = 60  # lesson 05's test parameters (labkit.lessons.registry)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=SMALL_STEPS, help="lesson 05's QLoRA steps for the merged model")
    args = parser.parse_args()
    merged = l05_qlora.merged_model("tiny", max_steps=args.steps)
    report, comparisons = l05_qlora.deploy(merged, "tiny", DEPLOY_DIR)
    path = atomic_write_json(DEPLOY_DIR / "report.json", report)
    for outtype, comparison in comparisons.items():
        print(f"{outtype:5} {comparison.bytes:>10,} bytes  agreement with PyTorch {comparison.agreement:.3f} "
              f"({len(comparison.differences())} of {len(comparison.gguf_replies)} answers differ)")
        for index, gguf_reply, pytorch_reply in comparison.differences()[:3]:
            print(f"      #{index}: gguf {gguf_reply!r} vs pytorch {pytorch_reply!r}")
    print(f"q8_0 / f16 bytes: {report['gguf_bytes_ratio_q8_0_vs_f16']:.3f}; {report['seconds']} s; report: {path}")
    print(f"Ollama: cd {DEPLOY_DIR} && ollama create labkit-tiny -f Modelfile && ollama run labkit-tiny")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
