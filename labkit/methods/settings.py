"""One settings base for every trainer: the fields they share are declared, and decided, once.

Each method's settings (SFT, reward model, RLOO, DPO, GRPO) subclass :class:`TrainerSettings` and add
their own fields; :meth:`TrainerSettings.trl_arguments` turns the shared ones into the keyword
arguments every TRL config takes. Modelled on TRL's own config base (``trl/trainer/base_config.py``).
The profile owns the numbers: :meth:`TrainerSettings.for_profile` starts from the profile's recipe.

>>> settings = TrainerSettings(max_steps=5, precision="no")
>>> args = settings.trl_arguments(gradient_checkpointing=False)
>>> args["max_steps"], args["bf16"], args["fp16"], args["report_to"]
(5, False, False, 'none')
>>> from labkit.methods.sft import SFTSettings
>>> SFTSettings.for_profile("tiny", max_steps=None).max_steps  # None: the profile's value
240
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar

from labkit.core.env import mixed_precision
from labkit.paths import RUNS_DIR

PRECISIONS = ("bf16", "fp16", "no")

CHECKPOINTING_ABOVE_PARAMETERS = 100_000_000


def use_gradient_checkpointing(model, setting: bool | None) -> bool:
    """Whether to recompute activations in the backward pass: ``setting``, or by the model's size.

    TRL 1.x turns gradient checkpointing on for every model, trading time for memory. That pays on a
    7B model; the tiny model needs no memory saved, and recomputing made its steps about 40% slower
    (bench/bench_trainer_overhead.py). So by default it is on only above 100M parameters.
    """
    if setting is not None:
        return setting
    return sum(p.numel() for p in model.parameters()) > CHECKPOINTING_ABOVE_PARAMETERS


@dataclass
class TrainerSettings:
    """What every training run needs. Where a default differs from TRL's, the comment says why."""

    recipe: ClassVar[str] = ""  # the profile recipe these settings start from (labkit.core.profiles.RECIPES)

    max_steps: int = 60
    learning_rate: float = 3e-4  # TRL's defaults suit billion-parameter models; each method sets its own
    batch_size: int = 32  # examples (or pairs, or prompts) per device per step
    gradient_accumulation_steps: int = 1
    max_length: int = 128  # tokens per example; the course's questions and answers are short
    warmup_steps: int = 5
    lr_scheduler_type: str = "linear"
    weight_decay: float = 0.0
    seed: int = 0
    logging_steps: int = 5
    # "bf16", "fp16" (with loss scaling) or "no" (fp32). None: labkit.core.env.mixed_precision() decides
    # for the hardware, the same way for every trainer: bf16 where native, fp16 on a T4, else fp32.
    precision: str | None = None
    gradient_checkpointing: bool | None = None  # None: only for models over 100M parameters (see above)
    output_dir: str = str(RUNS_DIR / "run")
    live_plot: bool = True
    extra: dict = field(default_factory=dict)  # any other field of the TRL config, passed through

    def __post_init__(self):
        if self.precision not in (None, *PRECISIONS):
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} or None (decided by the hardware), "
                             f"not {self.precision!r}")

    @classmethod
    def for_profile(cls, profile: str, recipe: str | None = None, **overrides):
        """These settings as ``profile`` tunes them for ``recipe`` (default: this class's), then ``overrides``.

        An override of None keeps the profile's value, so a notebook parameter can default to None.
        """
        from labkit.core.profiles import get_profile

        values = get_profile(profile).recipe(recipe or cls.recipe)
        known = {f.name for f in fields(cls)}
        unknown = sorted((set(values) | set(overrides)) - known)
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {unknown[0]!r} (profile {profile!r}, recipe "
                            f"{recipe or cls.recipe!r}); its fields: {', '.join(sorted(known))}")
        return cls(**{**values, **{k: v for k, v in overrides.items() if v is not None}})

    def resolved_precision(self) -> str:
        """The precision decision, made here for every trainer."""
        return self.precision or mixed_precision()

    def trl_arguments(self, gradient_checkpointing: bool) -> dict:
        """Keyword arguments every TRL config accepts, from the shared fields."""
        import torch

        precision = self.resolved_precision()
        bf16 = precision == "bf16"
        return dict(
            output_dir=self.output_dir, max_steps=self.max_steps, learning_rate=self.learning_rate,
            per_device_train_batch_size=self.batch_size,
            gradient_accumulation_steps=self.gradient_accumulation_steps,
            warmup_steps=self.warmup_steps, lr_scheduler_type=self.lr_scheduler_type,
            weight_decay=self.weight_decay, seed=self.seed, data_seed=self.seed,
            logging_steps=self.logging_steps, bf16=bf16, fp16=precision == "fp16",
            # transformers refuses bf16 without a GPU unless told the run is on the CPU on purpose
            use_cpu=bf16 and not torch.cuda.is_available(),
            dataloader_pin_memory=torch.cuda.is_available(),  # pinned memory only speeds copies to a GPU
            save_strategy="no", report_to="none", disable_tqdm=False,
            activation_checkpointing=gradient_checkpointing,
        )

    def callbacks(self, plot, callbacks=()) -> list:
        """The live plot (if wanted) followed by the caller's callbacks."""
        return [*([plot] if self.live_plot else []), *callbacks]
