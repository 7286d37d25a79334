"""Real (non-pad) tokens per second: naive padded batches vs packing, padding-free and length grouping.

    .venv/bin/python bench/bench_padding.py [--steps 30] [--threads 1 --clock cpu]

The length-skewed set: conversations made of 1 to 8 question/answer turns from the instruction set,
most of them one turn (about 30 tokens) and a tenth of them 6–8 turns (150–250 tokens). A naive batch
of 32 almost always holds one long conversation, so it is padded to ~200 tokens while holding ~50 real
ones per row. All variants train the tiny model through labkit.train_sft with max_length 256, fp32:

- naive: 32 conversations per batch, padded to the longest;
- packing: TRL's best-fit-decreasing packing into rows of 256 tokens, padding-free (position_ids mark
  where each conversation starts, and the attention mask is block-diagonal); 2 rows per forward pass,
  4 passes per optimizer step (gradient accumulation), so a step holds about as many real tokens as a
  naive one;
- padding_free: 8 conversations concatenated into one row per forward pass, no padding, 4 passes per step;
- group_by_length: 32 conversations of similar length per batch (transformers' length-grouped sampler).

Why so few rows per forward pass: TRL concatenates a padding-free batch into ONE row, and on the CPU
PyTorch's attention computes that row's full (length × length) attention and masks it afterwards. With
8 packed rows of 256 the row is ~2,000 tokens long and attention costs more than the rest of the model;
with 2 rows (512 tokens) it adds about a third. GPU varlen kernels (FlashAttention) skip the masked
blocks and have no such limit.

Target: the best of packing or padding-free >= 1.5× naive.
"""

from __future__ import annotations

import argparse
import random

from benchlib import (
    add_clock_arguments,
    apply_threads,
    median,
    print_header,
    save_result,
    sft_settings,
    timed_train_sft,
    verdict,
)

TARGET_SPEEDUP = 1.5
MAX_LENGTH = 256
TURN_WEIGHTS = {1: 0.75, 2: 0.08, 3: 0.07, 6: 0.04, 7: 0.03, 8: 0.03}  # mostly short, a long tail


def skewed_conversations(tokenizer, seed: int = 0):
    """Multi-turn conversations from the instruction set's training split, with skewed lengths."""
    from datasets import Dataset

    from labkit.core.data.instructions import instruction_splits

    pairs = [example["messages"] for example in instruction_splits("tiny")["train"]]
    rng = random.Random(seed)
    turns, weights = zip(*TURN_WEIGHTS.items())
    conversations, position = [], 0
    while position < len(pairs):
        k = rng.choices(turns, weights)[0]
        messages = [m for pair in pairs[position:position + k] for m in pair]
        while len(messages) > 2 and token_count(tokenizer, messages) > MAX_LENGTH:
            messages = messages[:-2]  # drop whole turns: no variant ever needs to truncate
        conversations.append({"messages": messages})
        position += k
    return Dataset.from_list(conversations)


def token_count(tokenizer, messages) -> int:
    return len(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])


def length_summary(dataset, tokenizer) -> dict:
    lengths = sorted(token_count(tokenizer, row["messages"]) for row in dataset)
    return {"conversations": len(lengths), "mean": sum(lengths) / len(lengths), "median": median(lengths),
            "p90": lengths[int(0.9 * len(lengths))], "max": lengths[-1]}


VARIANTS = {
    "naive": {"batch_size": 32},
    "packing": {"batch_size": 2, "gradient_accumulation_steps": 4, "packing": True},
    # TRL refuses max_length without packing here: it would not be enforced. No conversation exceeds it.
    "padding_free": {"batch_size": 8, "gradient_accumulation_steps": 4, "max_length": None,
                     "extra": {"padding_free": True}},
    "group_by_length": {"batch_size": 32, "extra": {"train_sampling_strategy": "group_by_length"}},
}


def run_variant(name: str, dataset, tokenizer, steps: int, clock: str) -> dict:
    from labkit.core.models import load_model

    settings = sft_settings(steps, **{"max_length": MAX_LENGTH, **VARIANTS[name]})
    result, timer = timed_train_sft(load_model("tiny"), tokenizer, dataset, settings)
    seconds = timer.seconds(clock)
    return {"tokens_per_second": result.trainer.state.num_input_tokens_seen / seconds, "seconds": seconds,
            "real_tokens": result.trainer.state.num_input_tokens_seen,
            "real_tokens_per_step": result.trainer.state.num_input_tokens_seen / steps,
            "final_loss": result.losses()[-1], "peak_memory_mb": result.peak_memory_mb}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="training steps per variant (default 30)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    add_clock_arguments(parser)
    args = parser.parse_args(argv)
    apply_threads(args.threads)
    info = print_header("padding: naive vs packing / padding-free on a length-skewed set", args.clock)

    from labkit.core.models import load_tokenizer

    tokenizer = load_tokenizer("tiny")
    dataset = skewed_conversations(tokenizer)
    lengths = length_summary(dataset, tokenizer)
    print(f"skewed set: {lengths['conversations']} conversations, tokens mean {lengths['mean']:.0f}, "
          f"median {lengths['median']}, p90 {lengths['p90']}, max {lengths['max']}", flush=True)
    runs = {}
    for name in args.variants:
        runs[name] = run_variant(name, dataset, tokenizer, args.steps, args.clock)
        r = runs[name]
        print(f"{name:>16}: {r['tokens_per_second']:8,.0f} real tokens/s · {r['real_tokens_per_step']:6,.0f} real "
              f"tokens/step · {r['seconds']:6.1f} s · peak +{r['peak_memory_mb']:.0f} MB", flush=True)
    result = {"machine": info, "steps": args.steps, "lengths": lengths, "runs": runs}
    if "naive" in runs:
        for name, r in runs.items():
            r["speedup_over_naive"] = r["tokens_per_second"] / runs["naive"]["tokens_per_second"]
        print("speed-up over naive: " + ", ".join(f"{n} {r['speedup_over_naive']:.2f}×" for n, r in runs.items()))
        contenders = [n for n in ("packing", "padding_free") if n in runs]
        if contenders:
            best = max(contenders, key=lambda n: runs[n]["speedup_over_naive"])
            result["best"] = best
            verdict(f"{best} / naive", runs[best]["speedup_over_naive"], TARGET_SPEEDUP,
                    why="attention over packed rows and per-step overhead eat into the saving from dropping pads")
    save_result("padding", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
