"""Liger's Triton kernels against the plain path, for SFT and DPO on a GPU: tokens/s and peak memory.

    python bench/bench_liger.py [--steps 30] [--batch 16] [--length 256]

Needs CUDA and the `liger-kernel` package from PyPI (TRL 1.16 marks `use_liger_kernel` as deprecated
in favour of Hub kernels, which need the Hub at run time; this measures the registry package through
the same flag). The model is Qwen2.5-0.5B's architecture (``data/configs/qwen2.5-0.5b.json``: hidden
896, 24 layers, a 151,936-token vocabulary) with random weights: speed and memory depend on shapes,
not values. Both paths run in one process, plain first, each after a warm-up run. The result says
which path labkit should default to on a GPU where Liger is installed (``labkit.methods.settings``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RESULTS = Path(__file__).resolve().parent.parent / "build" / "bench" / "liger.json"


def model_and_data(length: int):
    import torch
    from transformers import AutoModelForCausalLM

    from labkit.core.data.instructions import instruction_splits
    from labkit.core.data.preferences import load_preference_set
    from labkit.core.models import load_tokenizer
    from labkit.methods.lora_math import load_architecture_config

    torch.manual_seed(0)
    config = load_architecture_config("qwen2.5-0.5b")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).cuda()
    tokenizer = load_tokenizer("standin-qwen")  # Qwen's conventions; its ids are a subset of the real vocabulary
    chats = instruction_splits("tiny")["train"]
    return model, tokenizer, chats, load_preference_set("train", limit=2000)


def run(method: str, liger: bool, steps: int, batch: int, length: int) -> dict:
    import tempfile

    import torch

    from labkit.methods.dpo import DPOSettings, train_dpo
    from labkit.methods.sft import SFTSettings, train_sft

    model, tokenizer, chats, pairs = model_and_data(length)
    extra = {"use_liger_kernel": liger}
    common = dict(max_steps=steps, batch_size=batch, max_length=length, live_plot=False, logging_steps=steps,
                  output_dir=tempfile.mkdtemp(prefix="labkit-liger-"), extra=extra)
    torch.cuda.reset_peak_memory_stats()
    if method == "sft":
        result = train_sft(model, tokenizer, chats, None, SFTSettings(**common))
        tokens = result.trainer.state.num_input_tokens_seen
    else:
        result = train_dpo(model, tokenizer, pairs, DPOSettings(**common))
        tokens = sum(len(tokenizer.apply_chat_template(p["prompt"] + p["chosen"])) +
                     len(tokenizer.apply_chat_template(p["prompt"] + p["rejected"]))
                     for p in pairs.select(range(steps * batch)))
    return {"tokens_per_second": tokens / result.seconds, "seconds": result.seconds,
            "peak_memory_mb": torch.cuda.max_memory_allocated() / 2**20}


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=256)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench_liger needs a CUDA GPU: nothing measured")
    results = {"gpu": torch.cuda.get_device_name(0)}
    for method in ("sft", "dpo"):
        run(method, False, 3, args.batch, args.length)  # warm-up: CUDA context, kernels, allocator
        plain = run(method, False, args.steps, args.batch, args.length)
        run(method, True, 3, args.batch, args.length)  # warm-up: Triton compiles Liger's kernels here
        liger = run(method, True, args.steps, args.batch, args.length)
        results[method] = {"plain": plain, "liger": liger,
                           "speedup": liger["tokens_per_second"] / plain["tokens_per_second"],
                           "memory_ratio": liger["peak_memory_mb"] / plain["peak_memory_mb"]}
        print(f"{method}: plain {plain['tokens_per_second']:,.0f} tok/s, {plain['peak_memory_mb']:,.0f} MB; "
              f"liger {liger['tokens_per_second']:,.0f} tok/s, {liger['peak_memory_mb']:,.0f} MB "
              f"(×{results[method]['speedup']:.2f} speed, ×{results[method]['memory_ratio']:.2f} memory)")
    results["liger_is_better"] = all(results[m]["speedup"] > 1.0 and results[m]["memory_ratio"] <= 1.05
                                     for m in ("sft", "dpo"))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
