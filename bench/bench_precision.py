"""fp32 vs bf16 autocast for lesson 01's SFT on this CPU: throughput, and whether accuracy holds.

    .venv/bin/python bench/bench_precision.py [--steps 300] [--n-eval 200] [--threads 1 --clock cpu]

Both runs are lesson 01's recipe through labkit.train_sft (the weights and AdamW state stay fp32; with
bf16, autocast runs the matmuls in bf16). After training, both are scored the same way in fp32:
held-out answer accuracy (greedy answers to questions about held-out examples) and validation
perplexity. The faster precision is recommended as the tiny profile's default only if its accuracy is
within ACCURACY_SLACK of fp32's.
"""

from __future__ import annotations

import argparse

from benchlib import (
    add_clock_arguments,
    apply_threads,
    print_header,
    save_result,
    sft_settings,
    timed_train_sft,
)

ACCURACY_SLACK = 0.02


def train_and_score(bf16: bool, steps: int, n_eval: int, clock: str) -> dict:
    from labkit.core.evaluate import answer_accuracy, perplexity
    from labkit.core.models import load_model, load_tokenizer
    from labkit.core.data.instructions import instruction_splits

    tokenizer = load_tokenizer("tiny")
    splits = instruction_splits("tiny")
    result, timer = timed_train_sft(load_model("tiny"), tokenizer, splits["train"], sft_settings(steps, bf16=bf16))
    seconds = timer.seconds(clock)
    model = result.model.float().eval()
    heldout = splits["test"].select(range(min(n_eval, len(splits["test"]))))
    accuracy, _ = answer_accuracy(model, tokenizer, heldout)
    return {"tokens_per_second": result.trainer.state.num_input_tokens_seen / seconds, "seconds": seconds,
            "final_train_loss": result.losses()[-1], "heldout_accuracy": accuracy,
            "val_perplexity": perplexity(model, tokenizer, heldout)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="SFT steps (default: lesson 01's 300)")
    parser.add_argument("--n-eval", type=int, default=200, help="held-out questions scored (default 200)")
    add_clock_arguments(parser)
    args = parser.parse_args(argv)
    apply_threads(args.threads)
    info = print_header("precision: fp32 vs bf16 autocast for SFT on the tiny model", args.clock)
    runs = {}
    for name in ("fp32", "bf16"):
        runs[name] = train_and_score(name == "bf16", args.steps, args.n_eval, args.clock)
        r = runs[name]
        print(f"{name}: {r['tokens_per_second']:,.0f} tokens/s ({r['seconds']:.0f} s) · final train loss "
              f"{r['final_train_loss']:.3f} · held-out accuracy {r['heldout_accuracy']:.1%} · "
              f"val perplexity {r['val_perplexity']:.3f}", flush=True)
    speed = runs["bf16"]["tokens_per_second"] / runs["fp32"]["tokens_per_second"]
    accuracy_held = runs["bf16"]["heldout_accuracy"] >= runs["fp32"]["heldout_accuracy"] - ACCURACY_SLACK
    recommended = "bf16" if speed > 1.05 and accuracy_held else "fp32"
    print(f"bf16 autocast runs at {speed:.2f}× fp32's speed; accuracy "
          f"{'holds' if accuracy_held else 'does not hold'} (within {ACCURACY_SLACK:.0%}).")
    print(f"recommended default for the tiny profile: {recommended}"
          + (" (bf16 is not more than 5% faster, so fp32's simplicity wins)" if recommended == "fp32" else ""))
    save_result("precision", {"machine": info, "steps": args.steps, "n_eval": args.n_eval, "runs": runs,
                              "bf16_speedup": speed, "accuracy_held": accuracy_held, "recommended": recommended})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
