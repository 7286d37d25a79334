"""What a notebook prints first: library versions and the device, so a bug report starts right."""

from __future__ import annotations

import importlib.metadata
import os
import platform

from labkit.core.known_warnings import silence_known_warnings

LIBRARIES = ("labkit", "torch", "transformers", "trl", "peft", "bitsandbytes", "datasets", "accelerate")


def pick_device() -> str:
    """The best device here: cuda, then mps, then cpu."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def supports_bf16(device: str) -> bool:
    """Whether to hold weights in bf16: on Ampere+ GPUs (a T4 only emulates bf16). On CPU and MPS
    weights stay fp32; see :func:`bf16_autocast_is_native` for computing in bf16 on a CPU."""
    import torch

    if device == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return False


def bf16_autocast_is_native(device: str | None = None) -> bool:
    """Whether bf16 autocast runs natively here: a bf16 GPU, or a CPU with AVX-512 BF16 or AMX.

    Elsewhere bf16 is emulated and slower than fp32.
    """
    import torch

    device = device or pick_device()
    if device == "cuda":
        return supports_bf16(device)
    if device == "cpu":
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return False


def mixed_precision(device: str | None = None) -> str:
    """How every trainer computes: "bf16" where the hardware has it natively, "fp16" (with loss scaling)
    on a GPU without bf16 such as Colab's T4, else "no" (fp32). The one decision, for every method.

    On this course's CPU (AVX-512 BF16) bf16 autocast made SFT 1.09× faster at the same accuracy
    (bench/bench_precision.py); on a CPU without it, bf16 is emulated and slower than fp32.
    ``$LABKIT_PRECISION`` ("bf16", "fp16" or "no") overrides it, e.g. to check the T4 path on another GPU.
    """
    if os.environ.get("LABKIT_PRECISION"):
        return os.environ["LABKIT_PRECISION"]
    device = device or pick_device()
    if device == "cuda":
        return "bf16" if supports_bf16(device) else "fp16"
    return "bf16" if bf16_autocast_is_native(device) else "no"


def weights_dtype(device: str, parameters: int):
    """The dtype to hold a model's weights in: bf16 on a bf16 GPU; on other GPUs fp16, except models under
    1B parameters, which stay fp32 so that full fine-tuning with fp16 loss scaling keeps fp32 master
    weights; fp32 on a CPU (autocast does the bf16 there)."""
    import torch

    if device != "cuda":
        return torch.float32
    if mixed_precision(device) == "bf16":
        return torch.bfloat16
    return torch.float32 if parameters < 1_000_000_000 else torch.float16


def suggested_profile(device: str, memory_bytes: int = 0) -> tuple[str, str]:
    """The profile that suits a device, and why: what fits its memory and trains in minutes.

    >>> suggested_profile("cpu")[0], suggested_profile("cuda", 15 * 2**30)[0], suggested_profile("cuda", 40 * 2**30)[0]
    ('tiny', 'smol', 'mistral-7b')
    """
    if device != "cuda":
        return "tiny", "no GPU: the course's own small model trains here in minutes"
    gib = memory_bytes / 2**30
    if gib >= 20:
        return "mistral-7b", f"{gib:.0f} GiB holds a 7B model in 4 bits with LoRA"
    if gib >= 8 and mixed_precision(device) == "bf16":
        return "qwen-0.5b", f"{gib:.0f} GiB and bf16: a 0.5B model trains in full in minutes"
    return "smol", f"{gib:.0f} GiB: a 135M model trains in full in minutes"


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def setup(seed: int | None = None) -> str:
    """Print versions and the device; seed everything if asked. Returns the device.

    On Colab, install labkit first (the notebook's setup cell does this).
    """
    # First: the imports below load bitsandbytes, which warns as it loads.
    silence_known_warnings()
    import torch

    import datasets
    import transformers

    # Keep the trainer's progress bar; drop the per-map and weight-loading bars that bury it.
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    device = pick_device()
    print(" · ".join(f"{name} {version}" for name, version in versions().items()))
    line = f"device: {device}"
    if device == "cuda":
        memory = torch.cuda.get_device_properties(0).total_memory
        line += (f" ({torch.cuda.get_device_name(0)}, {memory / 2**30:.0f} GiB, "
                 f"computing in {mixed_precision(device)})")
    else:
        memory = 0
        line += f" ({os.cpu_count()} CPU cores, torch threads: {torch.get_num_threads()})"
    print(line)
    name, why = suggested_profile(device, memory)
    print(f"the profile that suits this machine: {name!r} ({why})")
    if seed is not None:
        from transformers import set_seed

        set_seed(seed)
    return device
