"""Supervised fine-tuning with TRL's SFTTrainer, on a ``messages`` dataset, with a live loss plot.

>>> settings = SFTSettings(max_steps=10)
>>> settings.completion_only_loss, settings.lr_scheduler_type
(True, 'cosine')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from labkit.methods.lora import LoraSettings
from labkit.methods.planner import is_quantized, plan_run, refuse_if_too_big, training_method
from labkit.methods.settings import TrainerSettings, use_gradient_checkpointing
from labkit.methods.trainer import TrainResult, run_trainer
from labkit.paths import RUNS_DIR


@dataclass
class SFTSettings(TrainerSettings):
    """Supervised fine-tuning settings. Where a default differs from TRL's, the comment says why."""

    recipe: ClassVar[str] = "sft"

    max_steps: int = 300
    learning_rate: float = 3e-4  # TRL's 2e-5 suits billion-parameter models; a 3M model needs more
    completion_only_loss: bool = True  # learn the assistant's turns, not the user's question
    packing: bool = False
    warmup_steps: int = 10
    lr_scheduler_type: str = "cosine"
    logging_steps: int = 10
    eval_every: int = 50  # steps between validation-loss points on the live plot
    save_steps: int | None = None  # checkpoint every N steps (None: no checkpoints)
    output_dir: str = str(RUNS_DIR / "sft")

    def to_sft_config(self, has_eval: bool, gradient_checkpointing: bool = False):
        from trl import SFTConfig

        arguments = self.trl_arguments(gradient_checkpointing)
        arguments.update(
            per_device_eval_batch_size=self.batch_size, max_length=self.max_length,
            assistant_only_loss=self.completion_only_loss, packing=self.packing,
            eval_strategy="steps" if has_eval else "no", eval_steps=self.eval_every,
            save_strategy="steps" if self.save_steps else "no", save_steps=self.save_steps or 500,
            include_num_input_tokens_seen="non_padding", dataset_num_proc=None,
        )
        # extra wins over the shared fields: extra=tracking_arguments(...) turns report_to on for one run
        return SFTConfig(**{**arguments, **self.extra})


def training_columns(dataset):
    """Keep the column TRL trains on (``messages`` for chats, ``text`` for plain text, as at school);
    the evaluation metadata stays in the caller's copy."""
    if dataset is None:
        return None
    return dataset.select_columns(["messages"] if "messages" in dataset.column_names else ["text"])


def train_sft(model, tokenizer, train_dataset, eval_dataset=None, settings: SFTSettings | None = None,
              peft_config=None, callbacks=(), resume_from_checkpoint=None) -> TrainResult:
    """Supervised fine-tuning with TRL's SFTTrainer on a ``messages`` dataset.

    With ``peft_config`` (a peft ``LoraConfig``) only the adapters train. A live plot of train and
    validation loss updates in the notebook while it runs.
    """
    from trl import SFTTrainer

    from labkit.core.plots import LivePlotCallback

    settings = settings or SFTSettings()
    peft_config = _fitting_peft_config(model, settings, peft_config)
    plot = LivePlotCallback(title="SFT: train and validation loss")
    checkpointing = use_gradient_checkpointing(model, settings.gradient_checkpointing)
    trainer = SFTTrainer(
        model=model, args=settings.to_sft_config(eval_dataset is not None, checkpointing),
        train_dataset=training_columns(train_dataset), eval_dataset=training_columns(eval_dataset),
        processing_class=tokenizer, peft_config=peft_config, callbacks=settings.callbacks(plot, callbacks),
    )
    return run_trainer(trainer, resume_from_checkpoint=resume_from_checkpoint)


def _fitting_peft_config(model, settings: SFTSettings, peft_config):
    """The plan before training: full fine-tuning that cannot fit switches to LoRA, saying so; what
    still cannot fit stops here, before the first step."""
    method = training_method(model, peft_config)
    if method == "full" and is_quantized(model):
        print("switching to QLoRA (LoRA r=16 on every projection): 4-bit weights cannot be trained directly")
        return LoraSettings().config()
    plan = plan_run(model, settings, method, lora=peft_config)
    if plan and not plan.fits and method == "full" and plan.fitting_method == "lora":
        lora = LoraSettings()
        print(f"switching to LoRA (r={lora.r} on every projection): full fine-tuning cannot fit this device")
        return lora.config()
    refuse_if_too_big(plan)
    return peft_config
