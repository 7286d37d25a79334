"""labkit's SFT path (TRL's SFTTrainer via labkit.train_sft) against a hand-written PyTorch loop.

    .venv/bin/python bench/bench_trainer_overhead.py [--steps 60] [--rounds 3] [--bf16] [--threads 1 --clock cpu]

Both train a fresh copy of the tiny model on the same batches (the Trainer's own: same tokens, masks,
assistant-only labels, order), with the same batch size, sequence length, precision, optimizer (fused
AdamW), schedule, clipping and number of steps. They run alternately, `--rounds` times each, so a
change in the machine's load hits both; the medians and their ratio are printed. Target: >= 0.90.
The Trainer's time is `trainer.train()` (tokenizing the dataset happens before, in both cases); the
plain loop's batches are built before its clock starts, so the ratio also charges labkit for its data
loading. On a busy machine, `--threads 1 --clock cpu` compares CPU time instead of elapsed time.
"""

from __future__ import annotations

import argparse

from benchlib import (
    add_clock_arguments,
    apply_threads,
    materialize_batches,
    median,
    plain_training_loop,
    print_header,
    save_result,
    sft_settings,
    timed_train_sft,
    verdict,
)

TARGET_RATIO = 0.90


def run_labkit(tokenizer, train_set, steps: int, batch_size: int, max_length: int, bf16: bool):
    from labkit.core.models import load_model

    settings = sft_settings(steps, batch_size=batch_size, max_length=max_length, bf16=bf16)
    result, clock = timed_train_sft(load_model("tiny"), tokenizer, train_set, settings)
    return result, clock, settings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60, help="training steps per run (default 60)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each (default 3)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast in both (default fp32)")
    add_clock_arguments(parser)
    args = parser.parse_args(argv)
    apply_threads(args.threads)
    info = print_header("trainer overhead: labkit SFT vs a plain PyTorch loop", args.clock)

    from labkit.core.models import load_model, load_tokenizer
    from labkit.core.data.instructions import instruction_splits

    tokenizer = load_tokenizer("tiny")
    train_set = instruction_splits("tiny")["train"]
    labkit_runs, plain_runs, batches = [], [], None

    def labkit_once():
        nonlocal batches
        result, clock, settings = run_labkit(tokenizer, train_set, args.steps, args.batch_size, args.max_length,
                                             args.bf16)
        rate = result.trainer.state.num_input_tokens_seen / clock.seconds(args.clock)
        labkit_runs.append(rate)
        if batches is None:
            batches = materialize_batches(result.trainer, args.steps)
        print(f"  labkit:     {rate:7,.0f} tokens/s ({clock.wall:.1f} s wall, {clock.cpu:.1f} s CPU, "
              f"final loss {result.losses()[-1]:.3f})", flush=True)
        return settings

    def plain_once(settings):
        plain = plain_training_loop(load_model("tiny"), batches, settings.learning_rate, settings.warmup_steps,
                                    bf16=args.bf16)
        rate = plain["tokens_per_second" if args.clock == "wall" else "tokens_per_cpu_second"]
        plain_runs.append(rate)
        print(f"  plain loop: {rate:7,.0f} tokens/s ({plain['seconds']:.1f} s wall, {plain['cpu_seconds']:.1f} s CPU, "
              f"final loss {plain['final_loss']:.3f})", flush=True)

    for round_number in range(1, args.rounds + 1):
        print(f"round {round_number}:", flush=True)
        if round_number % 2:  # alternate which goes first, so neither always gets the warmer machine
            plain_once(labkit_once())
        else:
            settings = sft_settings(args.steps)
            plain_once(settings)
            labkit_once()
    labkit_tps, plain_tps = median(labkit_runs), median(plain_runs)
    ratio = labkit_tps / plain_tps
    non_pad = sum(int(b["attention_mask"].sum()) for b in batches)
    padded = sum(b["input_ids"].numel() for b in batches)
    per = "second" if args.clock == "wall" else "CPU-second"
    print(f"\nnon-pad tokens per {per} (median of {args.rounds}): labkit {labkit_tps:,.0f} · plain loop {plain_tps:,.0f} · "
          f"ratio {ratio:.3f}")
    print(f"batches: {args.steps} × {args.batch_size} rows, {non_pad / args.steps:,.0f} real tokens per step "
          f"({non_pad / padded:.0%} of the padded tensor), {'bf16 autocast' if args.bf16 else 'fp32'}")
    verdict("labkit / plain loop", ratio, TARGET_RATIO,
            why="per-step work the loop does not do: TRL's entropy and token-accuracy metrics, the token count, "
                "callbacks and logging, the DataLoader's collation")
    save_result("trainer_overhead", {"machine": info, "steps": args.steps, "rounds": args.rounds,
                                     "batch_size": args.batch_size, "max_length": args.max_length,
                                     "precision": "bf16" if args.bf16 else "fp32", "clock": args.clock,
                                     "labkit_tokens_per_second": labkit_runs, "plain_tokens_per_second": plain_runs,
                                     "median_ratio": ratio})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
