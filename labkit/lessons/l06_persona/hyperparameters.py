"""The persona run's hyperparameters, in one place: the notebook's LoRA run, the Axolotl config and
the Mistral job all read them from ``PersonaHyperparameters``.

>>> settings = PersonaHyperparameters(max_steps=40).sft_settings("build/runs/persona")
>>> settings.max_steps, settings.learning_rate, settings.warmup_steps, settings.lr_scheduler_type
(40, 0.005, 2, 'cosine')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from labkit.methods.lora import LoraSettings
from labkit.methods.sft import SFTSettings


@dataclass
class PersonaHyperparameters:
    """The fine-tuning knobs every route shares. Defaults suit the tiny model with LoRA."""

    learning_rate: float = 5e-3  # a 3M-parameter model; Mistral's API default for 7B models is 1e-4
    max_steps: int = 120  # optimizer steps (Mistral's API calls them training_steps)
    micro_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    # Trained in full next to the adapters. The novella's words are mostly tokens the tiny model
    # almost never saw in pre-training, and LoRA alone cannot move their embeddings.
    modules_to_save: list[str] = field(default_factory=lambda: ["embed_tokens"])
    sequence_len: int = 256  # the tiny model's context
    warmup_ratio: float = 0.05
    lr_scheduler: str = "cosine"
    seed: int = 0

    @property
    def warmup_steps(self) -> int:
        """``warmup_ratio`` of the run, in steps (at least one)."""
        return max(1, round(self.warmup_ratio * self.max_steps))

    def lora_config(self):
        """These settings as a peft ``LoraConfig``, for the notebook's run."""
        return LoraSettings(r=self.lora_r, lora_alpha=self.lora_alpha, target_modules=tuple(self.target_modules),
                            lora_dropout=self.lora_dropout, train_embeddings="embed_tokens" in self.modules_to_save
                            ).config()

    def sft_settings(self, output_dir: str | Path) -> SFTSettings:
        """These settings for ``train_sft``, writing the trainer's files to ``output_dir``."""
        return SFTSettings(max_steps=self.max_steps, learning_rate=self.learning_rate,
                           batch_size=self.micro_batch_size,
                           gradient_accumulation_steps=self.gradient_accumulation_steps,
                           max_length=self.sequence_len, warmup_steps=self.warmup_steps,
                           lr_scheduler_type=self.lr_scheduler, seed=self.seed,
                           eval_every=max(10, self.max_steps // 3), output_dir=str(output_dir))
