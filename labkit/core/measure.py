"""Measure wall time and peak memory of a block of work, on CPU or GPU."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Measurement:
    seconds: float = 0.0
    peak_memory_mb: float = 0.0  # above the level when the block started


def _rss_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


@contextmanager
def measure(device: str = "cpu", interval: float = 0.005):
    """Time a block and record its peak memory above the starting level.

    On CUDA this is the allocator's peak; on CPU, the process's resident memory sampled every
    ``interval`` seconds (a sampler cannot see spikes shorter than that).

    >>> with measure() as m:
    ...     _ = [0] * 1_000_000
    >>> m.seconds > 0
    True
    """
    result = Measurement()
    stop = threading.Event()
    if device == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _rss_bytes()
        peak = [base]

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], _rss_bytes())
                stop.wait(interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    start = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - start
        if device == "cuda":
            import torch

            result.peak_memory_mb = (torch.cuda.max_memory_allocated() - base) / 2**20
        else:
            stop.set()
            sampler.join()
            peak[0] = max(peak[0], _rss_bytes())
            result.peak_memory_mb = (peak[0] - base) / 2**20


def release_memory() -> None:
    """Hand freed memory back before a measurement, so it starts from live memory only.

    Python's gc, then glibc's ``malloc_trim`` on Linux (freed heap otherwise stays in the process's
    resident size and hides the next run's growth), or the CUDA cache on a GPU.
    """
    import ctypes
    import gc
    import sys

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:  # not glibc (e.g. Alpine's musl): nothing to trim
            pass
