"""Thin wrappers over TRL's trainers, with the settings each lesson needs and a live plot."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from labkit.env import bf16_autocast_is_native
from labkit.lessons import REPO_ROOT

RUNS_DIR = REPO_ROOT / "build" / "runs"
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
class SFTSettings:
    """Supervised fine-tuning settings. Where a default differs from TRL's, the comment says why."""

    max_steps: int = 300
    learning_rate: float = 3e-4  # TRL's 2e-5 suits billion-parameter models; a 3M model needs more
    batch_size: int = 32
    gradient_accumulation_steps: int = 1
    max_length: int = 128  # the tiny model's questions and answers are short
    completion_only_loss: bool = True  # learn the assistant's turns, not the user's question
    packing: bool = False
    warmup_steps: int = 10
    lr_scheduler_type: str = "cosine"
    weight_decay: float = 0.0
    seed: int = 0
    eval_every: int = 50  # steps between validation-loss points on the live plot
    logging_steps: int = 10
    # None: bf16 autocast where the hardware computes in bf16 natively, else fp32. On this course's
    # CPU (AVX-512 BF16) it made SFT 1.09× faster at the same accuracy (bench/bench_precision.py);
    # on a CPU without it, bf16 is emulated and slower.
    bf16: bool | None = None
    gradient_checkpointing: bool | None = None  # None: only for models over 100M parameters (see train.py)
    output_dir: str = str(RUNS_DIR / "sft")
    save_steps: int | None = None  # checkpoint every N steps (None: no checkpoints)
    live_plot: bool = True
    extra: dict = field(default_factory=dict)  # any other SFTConfig field, passed through

    def to_sft_config(self, has_eval: bool, gradient_checkpointing: bool = False):
        import torch
        from trl import SFTConfig

        bf16 = bf16_autocast_is_native() if self.bf16 is None else self.bf16

        return SFTConfig(
            output_dir=self.output_dir, max_steps=self.max_steps, learning_rate=self.learning_rate,
            per_device_train_batch_size=self.batch_size, per_device_eval_batch_size=self.batch_size,
            gradient_accumulation_steps=self.gradient_accumulation_steps, max_length=self.max_length,
            assistant_only_loss=self.completion_only_loss, packing=self.packing,
            warmup_steps=self.warmup_steps, lr_scheduler_type=self.lr_scheduler_type,
            weight_decay=self.weight_decay, seed=self.seed, data_seed=self.seed,
            logging_steps=self.logging_steps, bf16=bf16,
            # transformers refuses bf16 without a GPU unless told the run is on the CPU on purpose
            use_cpu=bf16 and not torch.cuda.is_available(),
            eval_strategy="steps" if has_eval else "no", eval_steps=self.eval_every,
            save_strategy="steps" if self.save_steps else "no", save_steps=self.save_steps or 500,
            report_to="none", include_num_input_tokens_seen="non_padding",
            dataset_num_proc=None, disable_tqdm=False, activation_checkpointing=gradient_checkpointing,
            **self.extra,
        )


@dataclass
class TrainResult:
    """What a training run gives back: the trained model and how the run went."""

    model: object
    seconds: float
    tokens_per_second: float
    peak_memory_mb: float
    history: list[dict]
    trainer: object = None

    def losses(self, key: str = "loss") -> list[float]:
        return [h[key] for h in self.history if key in h]


def _messages_only(dataset):
    """Keep the column TRL trains on; the evaluation metadata stays in the caller's copy."""
    if dataset is None:
        return None
    return dataset.select_columns(["messages"])


def train_sft(model, tokenizer, train_dataset, eval_dataset=None, settings: SFTSettings | None = None,
              peft_config=None, callbacks=(), resume_from_checkpoint=None) -> TrainResult:
    """Supervised fine-tuning with TRL's SFTTrainer on a ``messages`` dataset.

    With ``peft_config`` (a peft ``LoraConfig``) only the adapters train. A live plot of train and
    validation loss updates in the notebook while it runs.
    """
    from trl import SFTTrainer

    from labkit.plots import LivePlotCallback

    settings = settings or SFTSettings()
    plot = LivePlotCallback({"loss": ["loss", "eval_loss"]}, title="SFT: train and validation loss")
    trainer = SFTTrainer(
        model=model, args=settings.to_sft_config(eval_dataset is not None,
                                    use_gradient_checkpointing(model, settings.gradient_checkpointing)),
        train_dataset=_messages_only(train_dataset), eval_dataset=_messages_only(eval_dataset),
        processing_class=tokenizer, peft_config=peft_config,
        callbacks=[*([plot] if settings.live_plot else []), *callbacks],
    )
    return run_trainer(trainer, resume_from_checkpoint=resume_from_checkpoint)


def run_trainer(trainer, **train_arguments) -> TrainResult:
    """``trainer.train()``, timed, with its peak memory, as a TrainResult (the path every labkit trainer takes).

    Tokens per second count the tokens the trainer saw (0 where it counts none, e.g. the reward model).
    """
    from labkit.measure import measure

    device = "cuda" if str(trainer.model.device).startswith("cuda") else "cpu"
    with measure(device) as m:
        trainer.train(**train_arguments)
    tokens = trainer.state.num_input_tokens_seen
    # With bf16, accelerate wraps the model's forward in autocast; unwrap it so the trained model
    # answers in fp32, exactly as it will once saved and reloaded.
    model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    return TrainResult(model=model, seconds=m.seconds, tokens_per_second=tokens / m.seconds,
                       peak_memory_mb=m.peak_memory_mb, history=list(trainer.state.log_history),
                       trainer=trainer)


def settings_dict(settings) -> dict:
    return asdict(settings)
