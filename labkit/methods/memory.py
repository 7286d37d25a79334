"""Training-memory estimates from a config alone: full fine-tuning vs LoRA vs QLoRA, and the
objectives built on them (SFT, RLHF, DPO).

>>> from labkit.methods.lora_math import load_architecture_config
>>> estimate = estimate_training_memory(load_architecture_config("llama-2-7b"), "full", dtype="mixed")
>>> round(estimate.weights / 2**30, 1), round(estimate.optimizer_state / 2**30, 1)
(12.6, 75.3)

Weights, gradients and optimizer state are exact byte counts for the recipe described in
``estimate_training_memory``. Activations are an estimate: they depend on the kernels used.
``tests/test_lora.py`` checks the total against the peak memory measured on the tiny model.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.methods.lora_math import (count_base_parameters, count_lora_parameters, default_target_modules,
                         linear_layers)

METHODS = ("full", "lora", "qlora")
DTYPES = ("fp32", "bf16", "mixed")
# Bytes per element: (weights, gradients, AdamW state per trainable parameter, activations).
# "mixed" is bf16 compute with an fp32 master copy kept by the optimizer, as in the ZeRO paper:
# 2 + 2 + (4 master + 4 + 4 moments) = the classic 16 bytes per parameter.
BYTES = {"fp32": (4, 4, 8, 4), "bf16": (2, 2, 4, 2), "mixed": (2, 2, 12, 2)}
ADAPTER_BYTES = (4, 4, 8)  # peft keeps adapters in fp32 even on a bf16 base (autocast_adapter_dtype)
NF4_BLOCK = 64  # bitsandbytes quantizes 4-bit weights in blocks of 64 with one scale each


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes held during a training step, by kind. ``activations`` is an estimate."""

    method: str
    weights: int
    gradients: int
    optimizer_state: int
    activations: int
    trainable: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer_state + self.activations

    def __str__(self) -> str:
        parts = ", ".join(f"{name} {format_bytes(getattr(self, name))}"
                          for name in ("weights", "gradients", "optimizer_state", "activations"))
        return f"{self.method}: {format_bytes(self.total)} ({parts}; activations estimated)"


def format_bytes(n: float) -> str:
    """Binary units, as GPU tools print memory: ``format_bytes(3 * 2**30)`` → ``'3.00 GiB'``."""
    if abs(n) < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if abs(n) < 1024 or unit == "GiB":
            break
    return f"{n:.2f} {unit}"


def quantized_weight_bytes(parameters: int, double_quant: bool = True) -> float:
    """Bytes of NF4 weights: half a byte each, plus one scale per block of 64.

    >>> quantized_weight_bytes(64, double_quant=False)
    36.0

    Without double quantization each scale is fp32 (4/64 byte per weight); with it the
    scales are 8-bit, plus one fp32 per 256 scales (the QLoRA paper's 0.127 bits per weight).
    """
    scales = 1 / NF4_BLOCK + 4 / (NF4_BLOCK * 256) if double_quant else 4 / NF4_BLOCK
    return parameters * (0.5 + scales)


def activation_elements_per_token(config, frozen_base: bool, target_modules=(), rank: int = 0) -> int:
    """Elements autograd keeps per token for the backward pass (the activation estimate).

    >>> from labkit.methods.lora_math import load_architecture_config
    >>> activation_elements_per_token(load_architecture_config("llama-2-7b"), frozen_base=False)
    2927104

    Per decoder layer, with hidden size h and MLP size f, assuming a fused attention kernel
    (SDPA/flash: no seq × seq matrix is kept):
      - full fine-tuning: 11h + 4f. Each norm keeps its input and normalised output (2 · 2h);
        the inputs of attention, o_proj and the MLP (3h); attention keeps q, k, v, output (4h);
        a gated MLP keeps gate, activation, up and their product (4f; GPT-2's MLP keeps 2f).
      - frozen base (LoRA, QLoRA): a frozen linear needs no input to compute its weight's
        gradient, so only 7h + 3f remain (2h norms, 4h attention, 3f MLP, or 1f for GPT-2),
        plus, per targeted module, its input (shared by q/k/v and by gate/up) and r for lora_B.
    After the layers: the final norm and lm_head input (3h; h when frozen) and the logits
    plus their log-softmax (2 · vocab). Measured on the tiny model this is within 10%.
    """
    h, f, vocab = config.hidden_size, _mlp_size(config), config.vocab_size
    gated = config.model_type != "gpt2"
    if not frozen_base:
        per_layer = 11 * h + (4 if gated else 2) * f
        return config.num_hidden_layers * per_layer + 3 * h + 2 * vocab
    targeted = [layer for layer in linear_layers(config) if layer.name in set(target_modules)]
    # LoRA's A keeps its input; projections reading the same tensor (q, k, v) share it.
    kept_inputs = sum({layer.reads: layer.in_features for layer in targeted}.values())
    per_layer = 7 * h + (3 if gated else 1) * f + kept_inputs + rank * len(targeted)
    return config.num_hidden_layers * per_layer + h + 2 * vocab


def estimate_training_memory(config, method: str = "lora", rank: int = 8, target_modules=None,
                             batch_size: int = 1, seq_len: int = 512, dtype: str = "fp32",
                             gradient_checkpointing: bool = False,
                             double_quant: bool = True) -> MemoryEstimate:
    """Memory of one AdamW training step for ``method`` in "full", "lora", "qlora".

    >>> from labkit.methods.lora_math import load_architecture_config
    >>> estimate = estimate_training_memory(load_architecture_config("llama-2-7b"), "lora", dtype="bf16")
    >>> format_bytes(estimate.weights), format_bytes(estimate.optimizer_state), format_bytes(estimate.total)
    ('12.57 GiB', '32.00 MiB', '14.69 GiB')

    With P base parameters, T trainable, and (w, g, o) bytes per weight, gradient and
    optimizer state for ``dtype`` (fp32: 4, 4, 8; bf16: 2, 2, 4; mixed: 2, 2, 12):
      - full:  weights P·w, gradients P·g, optimizer P·o (AdamW's two moments).
      - lora:  weights P·w + T·4; gradients T·4; optimizer T·8 (adapters stay fp32).
      - qlora: like lora, but every projection weight is NF4 (see ``quantized_weight_bytes``);
        embeddings, norms and lm_head stay in ``dtype``.
      - activations: batch · seq · ``activation_elements_per_token`` · activation bytes; with
        gradient checkpointing, one hidden state per layer plus one layer recomputed.
    The total adds all four as if they peaked together. They do not quite: gradients appear
    while activations are being freed, so the total is an upper bound by at most the gradients
    (on the tiny model: +15 % for full fine-tuning at 4 × 128 tokens, +5 % at 8 × 256).
    """
    if method not in METHODS:
        raise ValueError(f"method {method!r}: choose from {', '.join(METHODS)}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r}: choose from {', '.join(DTYPES)}")
    weight_bytes, grad_bytes, optim_bytes, act_bytes = BYTES[dtype]
    base = count_base_parameters(config)
    tokens = batch_size * seq_len
    if method == "full":
        per_token = activation_elements_per_token(config, frozen_base=False)
        return MemoryEstimate(method, base * weight_bytes, base * grad_bytes, base * optim_bytes,
                              _activations(config, per_token, tokens, act_bytes, gradient_checkpointing),
                              trainable=base)
    targets = tuple(target_modules or default_target_modules(config))
    trainable = count_lora_parameters(config, rank, targets)
    frozen = _frozen_weight_bytes(config, method, dtype, double_quant)
    adapter_weight, adapter_grad, adapter_optim = ADAPTER_BYTES
    per_token = activation_elements_per_token(config, True, targets, rank)
    return MemoryEstimate(method, frozen + trainable * adapter_weight, trainable * adapter_grad,
                          trainable * adapter_optim,
                          _activations(config, per_token, tokens, act_bytes, gradient_checkpointing),
                          trainable=trainable)


def _activations(config, per_token: int, tokens: int, act_bytes: int, checkpointing: bool) -> int:
    if checkpointing:
        layers = config.num_hidden_layers
        head = 2 * config.vocab_size + 3 * config.hidden_size
        one_layer = (per_token - head) // layers
        per_token = layers * config.hidden_size + one_layer + head
    return tokens * per_token * act_bytes


def _mlp_size(config) -> int:
    if config.model_type == "gpt2":
        return config.n_inner or 4 * config.hidden_size
    return config.intermediate_size


OBJECTIVES = ("sft", "rlhf", "dpo")


def estimate_method_memory(config, method: str, train_with: str = "full", rank: int = 8,
                           target_modules=None, batch_size: int = 1, seq_len: int = 512,
                           dtype: str = "mixed", gradient_checkpointing: bool = False,
                           double_quant: bool = True) -> MemoryEstimate:
    """Peak memory of a method: "full", "lora", "qlora", or an objective trained ``train_with``.

    >>> from labkit.methods.lora_math import load_architecture_config
    >>> config = load_architecture_config("llama-2-7b")
    >>> dpo = estimate_method_memory(config, "dpo", train_with="lora")
    >>> dpo.activations == 2 * estimate_method_memory(config, "sft", train_with="lora").activations
    True

    - sft: one model on prompt + completion: the same as ``train_with`` alone. SFT changes the
      data and the loss mask, not the memory.
    - dpo: the policy sees chosen and rejected together (2 · batch sequences). The reference is
      a frozen copy of the weights under full fine-tuning; with LoRA/QLoRA it is the base with
      the adapters switched off (peft's ``disable_adapter``), so no copy.
    - rlhf, PPO family (TRL's RLOO/GRPO): the policy, a frozen reward model of the same size,
      the reference (as in DPO), and the KV cache for generating samples:
      2 · layers · kv_heads · head_dim · tokens values. Classic PPO adds a trained value model
      (a fourth model, not counted here; TRL 1.x's maintained trainers drop it).
    """
    if method in METHODS:
        train_with = method
    elif method not in OBJECTIVES:
        raise ValueError(f"method {method!r}: choose from {', '.join(METHODS + OBJECTIVES)}")
    sequences = 2 * batch_size if method == "dpo" else batch_size
    policy = estimate_training_memory(config, train_with, rank=rank, target_modules=target_modules,
                                      batch_size=sequences, seq_len=seq_len, dtype=dtype,
                                      gradient_checkpointing=gradient_checkpointing,
                                      double_quant=double_quant)
    label = method if method in METHODS else f"{method} ({train_with})"
    extra_weights, extra_activations = 0, 0
    frozen_copy = _frozen_weight_bytes(config, train_with, dtype, double_quant)
    if method in ("dpo", "rlhf") and train_with == "full":
        extra_weights += frozen_copy  # the reference model
    if method == "rlhf":
        extra_weights += frozen_copy  # the reward model
        head_dim = config.hidden_size // config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or head_dim
        kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        extra_activations = (2 * config.num_hidden_layers * kv_heads * head_dim
                             * batch_size * seq_len * BYTES[dtype][3])
    return MemoryEstimate(label, policy.weights + extra_weights, policy.gradients,
                          policy.optimizer_state, policy.activations + extra_activations,
                          trainable=policy.trainable)


def _frozen_weight_bytes(config, train_with: str, dtype: str, double_quant: bool) -> int:
    """A frozen copy of the model in the form it is trained in (NF4 projections for QLoRA)."""
    base = count_base_parameters(config)
    if train_with != "qlora":
        return base * BYTES[dtype][0]
    projections = sum(layer.count * layer.in_features * layer.out_features
                      for layer in linear_layers(config))
    return int(quantized_weight_bytes(projections, double_quant) + (base - projections) * BYTES[dtype][0])
