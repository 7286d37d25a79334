"""The reward model: a causal LM's backbone with a one-number head, trained on preference pairs.

Its loss is Bradley–Terry, -log σ(r(chosen) − r(rejected)): it only cares that chosen scores higher.
``tests/test_methods.py`` trains one for a few steps and checks that its loss falls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from labkit.core.batching import forward_padded, render_chats
from labkit.methods.planner import plan_run, refuse_if_too_big, training_method
from labkit.methods.settings import TrainerSettings, use_gradient_checkpointing
from labkit.methods.trainer import TrainResult, run_trainer
from labkit.paths import RUNS_DIR


@dataclass
class RewardSettings(TrainerSettings):
    """Reward-model training settings. Where a default differs from TRL's, the comment says why."""

    recipe: ClassVar[str] = "reward"

    max_steps: int = 60
    learning_rate: float = 1e-3  # TRL's 1e-4 suits large models; the 3M backbone needs more
    batch_size: int = 32  # pairs per step (64 sequences: each chosen and each rejected)
    output_dir: str = str(RUNS_DIR / "reward")

    def to_reward_config(self, gradient_checkpointing: bool = False):
        from trl import RewardConfig

        return RewardConfig(**self.trl_arguments(gradient_checkpointing), max_length=self.max_length, **self.extra)


def reward_backbone(folder, quantization: str | None = None):
    """The causal LM in ``folder`` as a sequence classifier with one output: a fresh scalar head on its
    backbone (in 4 bits with ``quantization="4bit"``, for QLoRA)."""
    from transformers import AutoModelForSequenceClassification
    from trl.trainer.reward_trainer import suppress_seqcls_warning

    from labkit.core.env import pick_device
    from labkit.core.models import quantization_config

    device = pick_device()
    bnb = quantization_config(quantization, device)
    extra = dict(quantization_config=bnb, device_map={"": device if device != "mps" else "cpu"}) if bnb else {}
    with suppress_seqcls_warning():  # the LM head is dropped and a new head added: expected, not an error
        model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1, use_safetensors=True,
                                                                   **extra)
    return model if bnb else model.to(device)


def train_reward_model(folder, tokenizer, train_dataset, settings: RewardSettings | None = None,
                       callbacks=(), quantization: str | None = None, lora=None) -> TrainResult:
    """Train a reward model from the model in ``folder`` with TRL's RewardTrainer on prompt/chosen/rejected pairs.

    With ``lora`` (LoraSettings) only adapters and the new score head train: on a 4-bit backbone
    (``quantization="4bit"``) this is QLoRA, how a 7B reward model fits a 16 GB GPU.
    """
    from trl import RewardTrainer

    from labkit.core.plots import LivePlotCallback, Panel
    from labkit.methods.adapters import AdaptersInFloat32

    settings = settings or RewardSettings()
    plot = LivePlotCallback({"loss": Panel("−log σ(r chosen − r rejected)", {"loss": "training batch"}),
                             "pairs ranked right": Panel("share of the batch", {"accuracy": "training batch"}),
                             "reward margin": Panel("r(chosen) − r(rejected)", {"margin": "training batch"})},
                            title="reward model")
    model = reward_backbone(folder, quantization)
    peft_config = lora.config(task_type="SEQ_CLS", modules_to_save=["score"]) if lora else None
    refuse_if_too_big(plan_run(model, settings, training_method(model, peft_config), lora=peft_config))
    trainer = RewardTrainer(model=model, args=settings.to_reward_config(
                                use_gradient_checkpointing(model, settings.gradient_checkpointing)),
                            train_dataset=train_dataset.select_columns(["prompt", "chosen", "rejected"]),
                            processing_class=tokenizer, peft_config=peft_config,
                            callbacks=settings.callbacks(plot, callbacks))
    if quantization:  # the new score head trains in full (modules_to_save): fp32, as the norms before it
        trainer.add_callback(AdaptersInFloat32())
    return run_trainer(trainer)


def score(model, tokenizer, prompts: list, responses: list, batch_size: int = 64) -> list[float]:
    """The reward model's score for each (prompt, response); prompts and responses are text or message lists.

    The head reads the last real token of each right-padded sequence, as it did in training.
    """
    def as_messages(value, role):
        return value if isinstance(value, list) else [{"role": role, "content": value}]

    conversations = [as_messages(p, "user") + as_messages(r, "assistant")
                     for p, r in zip(prompts, responses, strict=True)]
    texts = render_chats(tokenizer, conversations)
    return [value for output, _ in forward_padded(model, tokenizer, texts, batch_size)
            for value in output.logits[:, 0].float().tolist()]


def pairwise_accuracy(model, tokenizer, pairs) -> float:
    """Share of pairs whose chosen response the reward model scores above the rejected one."""
    chosen = score(model, tokenizer, pairs["prompt"], pairs["chosen"])
    rejected = score(model, tokenizer, pairs["prompt"], pairs["rejected"])
    return sum(c > r for c, r in zip(chosen, rejected)) / max(1, len(chosen))
