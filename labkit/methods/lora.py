"""The one place labkit builds a peft ``LoraConfig``: every lesson and the training CLI come here.

>>> config = LoraSettings(r=8, target_modules=("q_proj", "v_proj")).config()
>>> config.r, config.lora_alpha, sorted(config.target_modules)
(8, 16, ['q_proj', 'v_proj'])
"""

from __future__ import annotations

from dataclasses import dataclass

ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")
ALL_PROJECTIONS = ATTENTION_PROJECTIONS + ("gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LoraSettings:
    """LoRA's knobs: rank, scale, which layers, dropout, and whether the embedding table trains too."""

    r: int = 16
    lora_alpha: int | None = None  # None: 2 × r, so the update's scale α/r is 2 at every rank
    target_modules: tuple[str, ...] | str = ALL_PROJECTIONS  # or "all-linear" (peft picks every linear)
    lora_dropout: float = 0.0
    # Also train the token-embedding table in full (peft's modules_to_save), tied to the output head.
    # Needed when the training data uses tokens the base model hardly saw (the chat template's).
    train_embeddings: bool = False

    def config(self):
        """This setting as a peft ``LoraConfig`` for a causal LM."""
        from peft import LoraConfig

        targets = self.target_modules if isinstance(self.target_modules, str) else list(self.target_modules)
        return LoraConfig(r=self.r, lora_alpha=self.lora_alpha or 2 * self.r, target_modules=targets,
                          lora_dropout=self.lora_dropout, task_type="CAUSAL_LM",
                          modules_to_save=["embed_tokens"] if self.train_embeddings else None,
                          ensure_weight_tying=self.train_embeddings)
