"""What the benchmarks share: the machine's description, the matmul peak, FLOP counts, a plain training loop.

Not part of labkit: these helpers exist to measure labkit against the hardware and against PyTorch.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "build" / "bench"
sys.path.insert(0, str(REPO_ROOT))  # run as `python bench/x.py` from anywhere


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    """Date, CPU, cores, threads, load and library versions: what a benchmark number depends on."""
    import torch

    from labkit.core.env import versions

    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpu": cpu_model(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "avx512_bf16": "avx512_bf16" in flags, "load_average_1min": round(os.getloadavg()[0], 2),
            "versions": {k: v for k, v in versions().items() if k in ("python", "torch", "transformers", "trl",
                                                                       "peft", "bitsandbytes", "accelerate")}}


def print_header(title: str, clock: str = "wall") -> dict:
    info = machine()
    info["clock"] = clock
    print(f"== {title} ==")
    print(f"{info['date']} · {info['cpu']} · {info['cores']} cores · torch threads {info['torch_threads']} · "
          f"load {info['load_average_1min']}")
    print(" · ".join(f"{k} {v}" for k, v in info["versions"].items()))
    if clock == "cpu":
        print("clock: CPU time of this process (rates are per CPU-second, not affected by other work's load)")
    elif info["load_average_1min"] > 1.5:
        print(f"warning: load average {info['load_average_1min']} on {info['cores']} cores: other work shares "
              "the CPU, so these numbers are noisy and low")
    return info


def save_result(name: str, result: dict) -> Path:
    """Write build/bench/NAME.json (the numbers bench/README.md quotes)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(result, indent=1, default=str))
    print(f"results: {path}")
    return path


def verdict(name: str, value: float, target: float, unit: str = "", why: str = "") -> bool:
    """Print whether a target is met and, if not, by how much and why."""
    if value >= target:
        print(f"{name}: {value:.3g}{unit} >= target {target:.3g}{unit}: met")
        return True
    print(f"{name}: {value:.3g}{unit} < target {target:.3g}{unit}: missed by {target - value:.3g}{unit} "
          f"({value / target:.0%} of the target)")
    if why:
        print(f"  why: {why}")
    return False


def add_clock_arguments(parser) -> None:
    """--threads and --clock: how to measure on a machine other work shares."""
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's choice, one per core)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="'wall': elapsed time (a quiet machine); 'cpu': this process's CPU time, which other "
                             "work on a busy machine does not inflate (use with --threads 1)")


def apply_threads(threads: int | None) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


class Clock:
    """Wall and CPU time of a block: ``with Clock() as c: ...`` then ``c.seconds("cpu")``."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def seconds(self, clock: str) -> float:
        return self.wall if clock == "wall" else self.cpu


def train_clock():
    """A Trainer callback that times ``trainer.train()`` on both clocks (``.clock`` after training)."""
    from transformers import TrainerCallback

    class TrainClock(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.clock = Clock().__enter__()

        def on_train_end(self, args, state, control, **kwargs):
            self.clock.__exit__()

    return TrainClock()


# ---------------------------------------------------------------------------------------------
# Hardware peak and model FLOPs


def matmul_peak(dtype_name: str = "fp32", clock: str = "wall", sizes=(512, 1024, 2048, 4096),
                seconds: float = 2.0) -> dict:
    """Measured GFLOP/s of square matmuls in fp32 or bf16; the best size is the machine's peak.

    >>> matmul_peak("fp32", sizes=(256,), seconds=0.1)["best_gflops"] > 0  # doctest: +SKIP
    True
    """
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    by_size = {}
    for n in sizes:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        torch.mm(a, b)  # warm-up: the first call picks kernels and allocates
        calls = 0
        with Clock() as timer:
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                torch.mm(a, b)
                calls += 1
        by_size[n] = 2 * n**3 * calls / timer.seconds(clock) / 1e9
    return {"dtype": dtype_name, "clock": clock, "gflops_by_size": {k: round(v, 1) for k, v in by_size.items()},
            "best_gflops": round(max(by_size.values()), 1)}


def matmul_parameters(model) -> int:
    """Parameters that take part in a matmul per token: every Linear, including the (tied) LM head.

    The input embedding is a lookup, not a matmul; with tied weights the LM head multiplies by the same
    matrix, so it is counted once, as the head.
    """
    import torch

    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def training_flops(model, sequence_lengths: list[int]) -> float:
    """Model FLOPs of one training step on rows of these (padded) lengths: 6·N per token, plus attention.

    Attention (PaLM's formula, no saving for the causal mask): forward QKᵀ and A·V cost 4·L·d·s per
    token of a row of length s; backward twice that, so 12·L·d·s per token.
    """
    config = model.config
    n = matmul_parameters(model)
    layers, hidden = config.num_hidden_layers, config.hidden_size
    return sum(6 * n * s + 12 * layers * hidden * s * s for s in sequence_lengths)


# ---------------------------------------------------------------------------------------------
# The labkit path and the plain loop


def sft_settings(steps: int, **changes):
    """Lesson 01's SFT settings for a timed run: no plot, no checkpoints, no evaluation, a scratch folder."""
    from labkit.methods.sft import SFTSettings

    if "bf16" in changes:  # the benchmarks compare precisions by a flag: bf16 autocast, or fp32
        changes["precision"] = "bf16" if changes.pop("bf16") else "no"
    return SFTSettings(max_steps=steps, live_plot=False, logging_steps=max(1, steps // 4),
                       output_dir=tempfile.mkdtemp(prefix="labkit-bench-"), **changes)


def timed_train_sft(model, tokenizer, train_dataset, settings):
    """labkit.train_sft with ``trainer.train()`` timed on both clocks; returns (TrainResult, Clock)."""
    from labkit.methods.sft import train_sft

    clock = train_clock()
    result = train_sft(model, tokenizer, train_dataset, None, settings, callbacks=[clock])
    return result, clock.clock


def materialize_batches(trainer, steps: int) -> list[dict]:
    """The first ``steps`` batches exactly as the Trainer builds them (same tokens, masks, order)."""
    batches = []
    while len(batches) < steps:
        for batch in trainer.get_train_dataloader():
            batches.append({k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "labels",
                                                                     "position_ids")})
            if len(batches) == steps:
                break
    return batches


def cosine_with_warmup(step: int, total: int, warmup: int) -> float:
    """The LR multiplier of transformers' cosine schedule, written out."""
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * progress))


def plain_training_loop(model, batches: list[dict], learning_rate: float, warmup_steps: int,
                        bf16: bool = False) -> dict:
    """Train on ready-made batches with a hand-written loop: AdamW (fused, as the Trainer's default), cosine LR,
    gradient clipping at 1.0. Returns seconds and token counts.
    """
    import torch

    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: cosine_with_warmup(step, len(batches), warmup_steps))
    non_pad = padded = 0
    timer = Clock().__enter__()
    for batch in batches:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        ids = batch["input_ids"]
        padded += ids.numel()
        non_pad += int(batch["attention_mask"].sum()) if "attention_mask" in batch else ids.numel()
    timer.__exit__()
    return {"seconds": timer.wall, "cpu_seconds": timer.cpu, "non_pad_tokens": non_pad, "padded_tokens": padded,
            "tokens_per_second": non_pad / timer.wall, "tokens_per_cpu_second": non_pad / timer.cpu,
            "final_loss": loss.item()}


def row_lengths(batches: list[dict]) -> list[int]:
    """Length of every row the model computes on, padding included."""
    return [b["input_ids"].shape[1] for b in batches for _ in range(b["input_ids"].shape[0])]


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
