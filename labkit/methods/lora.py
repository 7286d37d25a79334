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
    # Or train only these tokens' rows of the input embeddings (peft's trainable_token_indices): the
    # chat template's role tokens that a base model never saw, at a fraction of the table's cost (3 rows,
    # not 32,000, on Mistral-7B). Input rows only: turns end with the EOS the model already produces.
    train_tokens: tuple[int, ...] = ()

    @classmethod
    def for_model(cls, profile: str, model, tokenizer, **overrides) -> "LoraSettings":
        """The profile's LoRA shape for this model, with whatever its chat template's tokens need.

        - Role tokens added to the vocabulary: their rows train (``train_tokens``), where input and
          output embeddings are separate; tied to the output head, peft would wrap the head too, which
          TRL's fused loss reads directly.
        - A model that never trained its template's tokens (``template_tokens_untrained``) with tied
          embeddings: the whole table trains (``train_embeddings``), or it could never learn to end a
          turn. ``train_embeddings=False`` in ``overrides`` turns that off.
        """
        from labkit.core.chat_template import ROLE_TOKENS

        added = [tokenizer.convert_tokens_to_ids(t) for t in ROLE_TOKENS if t in tokenizer.get_added_vocab()]
        untied = not model.config.tie_word_embeddings
        if overrides.get("train_embeddings") is None:
            overrides["train_embeddings"] = not untied and template_tokens_untrained(profile)
        tokens = tuple(added) if untied and not overrides["train_embeddings"] else ()
        return cls.for_profile(profile, train_tokens=tokens, **overrides)

    @classmethod
    def for_profile(cls, profile: str, **overrides) -> "LoraSettings":
        """The profile's LoRA shape, then ``overrides`` (None keeps the profile's value)."""
        from labkit.core.profiles import get_profile

        values = {**get_profile(profile).lora, **{k: v for k, v in overrides.items() if v is not None}}
        if isinstance(values.get("target_modules"), list):
            values["target_modules"] = tuple(values["target_modules"])
        return cls(**values)

    def config(self, task_type: str = "CAUSAL_LM", modules_to_save: list[str] | None = None):
        """This setting as a peft ``LoraConfig`` (for a causal LM, or ``task_type="SEQ_CLS"`` for a reward
        model, whose new score head trains in full: ``modules_to_save=["score"]``)."""
        from peft import LoraConfig

        targets = self.target_modules if isinstance(self.target_modules, str) else list(self.target_modules)
        tokens = {"embed_tokens": list(self.train_tokens)} if self.train_tokens else None
        saved = (modules_to_save or []) + (["embed_tokens"] if self.train_embeddings else [])
        return LoraConfig(r=self.r, lora_alpha=self.lora_alpha or 2 * self.r, target_modules=targets,
                          lora_dropout=self.lora_dropout, task_type=task_type, modules_to_save=saved or None,
                          ensure_weight_tying=self.train_embeddings, trainable_token_indices=tokens)


def template_tokens_untrained(profile: str) -> bool:
    """Whether the profile's model never trained its chat template's tokens (``<|user|>``, ``<|end|>``…):
    the tiny model, whose pre-training was plain text. Hub models' ChatML tokens are trained rows, or
    are added and get their rows trained (``LoraSettings.for_model``)."""
    from labkit.core.profiles import get_profile

    return get_profile(profile).source == "local"
