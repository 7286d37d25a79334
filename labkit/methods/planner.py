"""Before every training run: will it fit, and about how long will it take? Said before the first step.

A learner must never meet an out-of-memory error twenty minutes in. So each ``train_*`` function asks
:func:`plan_run` first, which estimates the peak memory of one step (:mod:`labkit.methods.memory`,
from the model's config alone) against the device's memory, and the time from the arithmetic of
training: about 6 × parameters FLOPs per token with every weight trained (forward 2, backward 4), and
about 4 with the base frozen (no weight gradients), against the device's throughput.

>>> from labkit.methods.lora_math import load_architecture_config
>>> mistral = load_architecture_config("mistral-7b")
>>> plan = plan_for_config(mistral, "full", batch_size=4, seq_len=512, steps=100, device="cuda",
...                        device_bytes=16 * 2**30, device_name="Tesla T4")
>>> plan.fits, plan.fitting_method
(False, 'qlora')
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.methods.memory import estimate_method_memory, format_bytes

# Throughput actually reached in training, FLOP/s. CPU: this course's 2 cores, measured
# (bench/bench_mfu.py: 55% of a 190 GFLOP/s fp32 peak). GPUs: 35% of the datasheet's dense fp16/bf16
# peak, a typical training MFU; an unknown GPU is taken as a T4.
THROUGHPUT = {"cpu": 105e9, "T4": 0.35 * 65e12, "V100": 0.35 * 112e12, "L4": 0.35 * 121e12,
              "A10": 0.35 * 125e12, "A100": 0.35 * 312e12, "H100": 0.35 * 990e12, "H200": 0.35 * 990e12}
HEADROOM = 0.9  # leave 10% of the device for the allocator, CUDA's context and fragmentation
FALLBACKS = ("full", "lora", "qlora")  # cheaper and cheaper ways to train the same model


class WontFitError(RuntimeError):
    """A training run that cannot fit the device, found before it starts."""


@dataclass(frozen=True)
class Plan:
    """What a run will need, what the device has, and what fits."""

    method: str  # "full", "lora" or "qlora"
    objective: str  # "sft", "dpo" or "rlhf" (see labkit.methods.memory.estimate_method_memory)
    memory_bytes: int
    device_bytes: int
    seconds: float
    device: str
    fitting_method: str | None  # the cheapest-to-change method that fits (this one if it does), or None

    @property
    def fits(self) -> bool:
        return self.memory_bytes <= HEADROOM * self.device_bytes

    def __str__(self) -> str:
        verdict = "fits" if self.fits else "does NOT fit"
        time = f"{self.seconds:.0f} s" if self.seconds < 120 else f"{self.seconds / 60:.0f} min"
        return (f"plan: {self.method} {self.objective} needs about {format_bytes(self.memory_bytes)} at its peak; "
                f"{self.device} has {format_bytes(self.device_bytes)}: {verdict}. At most about {time} of arithmetic "
                f"(full-length sequences; small models spend longer on everything else).")


def device_memory(device: str) -> int:
    """Bytes the device can hold: the GPU's total, or the RAM still available on a CPU."""
    if device == "cuda":
        import torch

        return torch.cuda.mem_get_info()[1]
    import psutil

    return psutil.virtual_memory().available


def device_name(device: str) -> str:
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name(0)
    return "cpu"


def throughput(name: str) -> float:
    """Training FLOP/s for a device name (see THROUGHPUT)."""
    if name == "cpu":
        return THROUGHPUT["cpu"]
    return next((flops for key, flops in THROUGHPUT.items() if key in name), THROUGHPUT["T4"])


def plan_for_config(config, method: str, objective: str = "sft", batch_size: int = 8, seq_len: int = 512,
                    steps: int = 100, rank: int = 16, target_modules=None, device: str = "cpu",
                    device_bytes: int | None = None, device_name: str | None = None,
                    gradient_checkpointing: bool = False) -> Plan:
    """The plan for training a model of this config by ``method`` for ``objective`` on ``device``."""
    from labkit.methods.lora_math import count_base_parameters

    device_bytes = device_memory(device) if device_bytes is None else device_bytes
    name = device_name or ("cpu" if device == "cpu" else "GPU")

    def memory(how: str) -> int:
        return estimate_method_memory(config, objective, train_with=how, rank=rank, target_modules=target_modules,
                                      batch_size=batch_size, seq_len=seq_len, dtype="mixed" if device == "cuda"
                                      else "fp32", gradient_checkpointing=gradient_checkpointing).total

    fitting = next((how for how in FALLBACKS[FALLBACKS.index(method):]
                    if memory(how) <= HEADROOM * device_bytes), None)
    passes = 3 if objective == "dpo" else 1  # DPO: chosen, rejected, and the reference's forward
    flops_per_token = (6 if method == "full" else 4) * count_base_parameters(config) * passes
    seconds = steps * batch_size * seq_len * flops_per_token / throughput(name)
    return Plan(method, objective, memory(method), device_bytes, seconds, name, fitting)


def is_quantized(model) -> bool:
    """Whether the model's weights are held in 4 (or 8) bits by bitsandbytes."""
    return getattr(model.config, "quantization_config", None) is not None


def training_method(model, peft_config=None) -> str:
    """How ``model`` will be trained: "qlora" (adapters on a 4-bit base), "lora", or "full"."""
    adapters = peft_config is not None or hasattr(model, "peft_config")
    return "qlora" if is_quantized(model) and adapters else "lora" if adapters else "full"


def plan_run(model, settings, method: str, objective: str = "sft", lora=None, log=print) -> Plan | None:
    """Plan a run of ``settings`` on ``model`` (already loaded) and print the plan; None for a model family
    the memory model does not describe (it is then trained unplanned, with a note)."""
    from labkit.core.env import pick_device
    from labkit.methods.settings import use_gradient_checkpointing

    device = "cuda" if str(getattr(model, "device", "cpu")).startswith("cuda") or pick_device() == "cuda" else "cpu"
    try:
        plan = plan_for_config(model.config, method, objective,
                               batch_size=settings.batch_size * settings.gradient_accumulation_steps,
                               seq_len=getattr(settings, "max_length", 512), steps=settings.max_steps,
                               rank=getattr(lora, "r", 16), target_modules=_targets(lora), device=device,
                               device_name=device_name(device),
                               gradient_checkpointing=use_gradient_checkpointing(model, settings.gradient_checkpointing))
    except (ValueError, KeyError, AttributeError) as unknown:
        log(f"plan: no memory estimate for this model ({unknown}); training without one")
        return None
    log(str(plan))
    return plan


def refuse_if_too_big(plan: Plan | None) -> None:
    """Stop before the first step when the plan does not fit, naming what would."""
    if plan is None or plan.fits:
        return
    instead = {"lora": "LoRA (lesson 02: adapters on a frozen base)",
               "qlora": "QLoRA (lesson 05: LoRA on a 4-bit base; a profile with quantization='4bit')"}
    advice = (f"Train it with {instead[plan.fitting_method]} instead" if plan.fitting_method
              else "Nothing fits: use a smaller profile (e.g. 'smol' or 'tiny') or a bigger GPU")
    raise WontFitError(f"{plan} {advice}, or lower batch_size / max_length.")


def _targets(lora):
    if lora is None or isinstance(getattr(lora, "target_modules", None), str):
        return None  # "all-linear" and defaults: the memory model's own default targets
    return tuple(lora.target_modules)
