"""DPO with LoRA: learn from preference pairs directly; the reference is the same model, adapter off.

DPO's implicit reward of a response y is β · (log π(y|x) − log π_ref(y|x)). With LoRA the weights
are W + BA, and B starts at zero, so disabling the adapter gives back exactly W: the reference
model for free, with no second copy of the weights in memory. ``tests/test_methods.py`` trains a
few steps and checks that held-out preference accuracy rises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from labkit.core.evaluate import completion_logprobs
from labkit.core.plots import Panel
from labkit.methods.lora import ALL_PROJECTIONS, LoraSettings
from labkit.methods.planner import plan_run, refuse_if_too_big, training_method
from labkit.methods.settings import TrainerSettings, use_gradient_checkpointing
from labkit.methods.trainer import TrainResult, run_trainer
from labkit.paths import RUNS_DIR

DPO_PLOT = {"implicit rewards": Panel("β · log(π / π_ref)", {"rewards/chosen": "chosen answers",
                                                              "rewards/rejected": "rejected answers"}),
            "margin": Panel("chosen − rejected", {"rewards/margins": "training batch"}),
            "pairs ranked right": Panel("share of the batch", {"rewards/accuracies": "training batch"})}


@dataclass
class DPOSettings(TrainerSettings):
    """DPO + LoRA settings. Where a default differs from TRL's, the comment says why."""

    recipe: ClassVar[str] = "dpo"

    max_steps: int = 40
    learning_rate: float = 2e-3  # TRL's 1e-6 is for full fine-tuning of large models; LoRA on 3M needs far more
    beta: float = 0.1  # how strongly the policy is held to the reference (higher: closer)
    # Weight of an SFT loss on the chosen answers added to DPO's (TRL's loss_type ["sigmoid", "sft"],
    # known as RPO). Plain DPO (0) can lower both answers' probabilities; on the tiny model its
    # text then falls apart. 0 gives plain DPO.
    sft_weight: float = 1.0
    batch_size: int = 16  # pairs per step
    lora_r: int = 16
    lora_alpha: int = 32
    target_modules: tuple[str, ...] = ALL_PROJECTIONS
    output_dir: str = str(RUNS_DIR / "dpo")

    def lora_config(self):
        return LoraSettings(r=self.lora_r, lora_alpha=self.lora_alpha, target_modules=self.target_modules).config()

    def to_dpo_config(self, gradient_checkpointing: bool = False):
        from trl import DPOConfig

        losses = {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, self.sft_weight]} if self.sft_weight else {}
        return DPOConfig(**self.trl_arguments(gradient_checkpointing), beta=self.beta, **losses,
                         max_length=self.max_length, **self.extra)


def train_dpo(model, tokenizer, train_dataset, settings: DPOSettings | None = None, callbacks=()) -> TrainResult:
    """DPO with TRL's DPOTrainer on prompt/chosen/rejected pairs, training a new LoRA adapter on ``model``.

    No ``ref_model`` is passed: TRL computes the reference log-probabilities with the adapter disabled.
    """
    from trl import DPOTrainer

    from labkit.core.plots import LivePlotCallback

    settings = settings or DPOSettings()
    plot = LivePlotCallback(DPO_PLOT, title=f"DPO (beta = {settings.beta})")
    lora = settings.lora_config()
    refuse_if_too_big(plan_run(model, settings, training_method(model, lora), "dpo", lora=lora))
    checkpointing = use_gradient_checkpointing(model, settings.gradient_checkpointing)
    trainer = DPOTrainer(model=model, args=settings.to_dpo_config(checkpointing),
                         train_dataset=train_dataset.select_columns(["prompt", "chosen", "rejected"]),
                         processing_class=tokenizer, peft_config=lora,
                         callbacks=settings.callbacks(plot, callbacks))
    return run_trainer(trainer)


def completion_logps(model, tokenizer, pairs) -> dict:
    """Summed log-probabilities of each pair's chosen and rejected response under ``model``."""
    return {k: completion_logprobs(model, tokenizer, pairs["prompt"], pairs[k]) for k in ("chosen", "rejected")}


def reference_logps(model, tokenizer, pairs) -> dict:
    """``completion_logps`` of the reference: the peft ``model`` with its adapter switched off."""
    with model.disable_adapter():
        return completion_logps(model, tokenizer, pairs)


def implicit_rewards(model, tokenizer, pairs, beta: float, reference: dict | None = None):
    """DPO's implicit rewards β·(log π − log π_ref) of each pair's chosen and rejected response.

    ``model`` is a peft model: the reference is the same model with its adapter disabled. Runs that share
    a reference (a sweep from one starting model) pass its ``reference_logps`` once instead of recomputing it.
    """
    policy = completion_logps(model, tokenizer, pairs)
    reference = reference or reference_logps(model, tokenizer, pairs)
    return beta * (policy["chosen"] - reference["chosen"]), beta * (policy["rejected"] - reference["rejected"])


def preference_accuracy(model, tokenizer, pairs, beta: float) -> tuple[float, float]:
    """Held-out preference accuracy (share of pairs whose chosen response has the higher implicit reward),
    and the mean margin."""
    chosen, rejected = implicit_rewards(model, tokenizer, pairs, beta)
    return (chosen > rejected).float().mean().item(), (chosen - rejected).mean().item()


def parameters_in_memory(*objects) -> int:
    """Numbers held by the given models' parameters (the weights), each storage counted once.

    >>> import torch
    >>> layer = torch.nn.Linear(2, 2)
    >>> parameters_in_memory(layer, layer)
    6
    """
    seen, total = set(), 0
    for obj in objects:
        if obj is None:
            continue
        for tensor in obj.parameters():  # buffers (e.g. rotary frequencies) are not weights
            key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tensor.numel())
            if key not in seen:
                seen.add(key)
                total += tensor.numel()
    return total
