"""Exact LoRA parameter accounting from a Hugging Face config alone: no weights, no model built.

LoRA freezes every base weight ``W`` (out × in) and learns a low-rank update next to it:
``W x + (alpha / r) · B A x`` with ``A`` (r × in) and ``B`` (out × r). Each targeted layer
therefore adds ``r · (in + out)`` trainable parameters, and nothing else changes.

>>> config = load_architecture_config("llama-2-7b")
>>> count_lora_parameters(config, rank=8, target_modules=["q_proj", "v_proj"])
4194304
>>> count_base_parameters(config)
6738415616

Why by hand: peft counts parameters only on a built model. Building a 7B model even on the
meta device needs torch and takes a while; a learner moving a slider wants the answer in
microseconds. The layer shapes below are read off each family's modeling file in transformers,
and ``tests/test_lora.py`` checks every count against peft on the real module tree.
The memory estimates built on these counts live in :mod:`labkit.methods.memory`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labkit.paths import ARCHITECTURE_CONFIGS_DIR, TINY_DIR

CONFIGS_DIR = ARCHITECTURE_CONFIGS_DIR
TINY_CONFIG = TINY_DIR / "config.json"

# The architectures the course compares, smallest first. Each is a file in data/configs/ (its
# ``_name_or_path`` says which Hub model the facts come from), except "tiny": data/tiny/.
ARCHITECTURES = ("tiny", "smollm2-135m", "gpt2", "qwen2.5-0.5b", "gemma-2b", "phi-3-mini",
                 "llama-2-7b", "mistral-7b", "llama-2-13b")

# What peft targets when `target_modules` is not given (peft's own default table), plus phi3,
# which peft has no default for.
DEFAULT_TARGETS = {"llama": ("q_proj", "v_proj"), "mistral": ("q_proj", "v_proj"),
                   "qwen2": ("q_proj", "v_proj"), "gemma": ("q_proj", "v_proj"),
                   "gpt2": ("c_attn",), "phi3": ("qkv_proj",)}

ATTN_IN, ATTN_OUT, MLP_IN, MLP_HIDDEN = "attention input", "attention output", "MLP input", "MLP hidden"


@dataclass(frozen=True)
class LinearLayer:
    """One kind of projection LoRA can wrap: its name, shape, and how many the model has."""

    name: str
    in_features: int
    out_features: int
    bias: bool
    count: int  # one per decoder layer
    # Which tensor it reads: projections reading the same one (q, k, v) share saved activations.
    reads: str = ""

    @property
    def parameters(self) -> int:
        """Weights (and bias) of all ``count`` copies."""
        return self.count * (self.in_features * self.out_features + self.bias * self.out_features)


@dataclass(frozen=True)
class LoraReport:
    """Everything a learner asks about one LoRA setup. Sizes on disk are decimal MB (1e6 bytes).

    ``base_total`` is the model before LoRA. ``peft_total`` is what peft prints as
    "all params": it counts the model *with* the adapters, so base_total + trainable.
    """

    name: str
    rank: int
    target_modules: tuple[str, ...]
    trainable: int
    base_total: int
    peft_total: int
    trainable_percent: float  # of the base model: the figure papers quote
    peft_trainable_percent: float  # of base + adapters: the figure peft prints
    adapter_bytes_fp32: int
    adapter_bytes_bf16: int

    @property
    def adapter_mb_fp32(self) -> float:
        return self.adapter_bytes_fp32 / 1e6

    @property
    def adapter_mb_bf16(self) -> float:
        return self.adapter_bytes_bf16 / 1e6

    def peft_line(self) -> str:
        """The line ``model.print_trainable_parameters()`` prints, character for character."""
        return (f"trainable params: {self.trainable:,d} || all params: {self.peft_total:,d} "
                f"|| trainable%: {self.peft_trainable_percent:.4f}")

    def __str__(self) -> str:
        return (f"{self.name}, r={self.rank}, targets {'+'.join(self.target_modules)}: "
                f"{self.trainable:,} trainable of {self.base_total:,} base parameters "
                f"({self.trainable_percent:.4f}%); adapter {self.adapter_mb_fp32:.2f} MB in fp32")


def config_path(name: str) -> Path:
    """Where the config for an architecture name lives, e.g. ``data/configs/gpt2.json``."""
    if name == "tiny":
        return TINY_CONFIG
    if name not in ARCHITECTURES:
        raise KeyError(f"no architecture {name!r}; known: {', '.join(ARCHITECTURES)} "
                       f"(configs in {CONFIGS_DIR})")
    return CONFIGS_DIR / f"{name}.json"


def load_architecture_config(name: str):
    """Load one of the course's architectures as a ``transformers.PretrainedConfig``.

    >>> load_architecture_config("mistral-7b").num_key_value_heads
    8

    Each call returns a fresh config (about 1 ms), so changing one never leaks into another.
    """
    from transformers import AutoConfig

    path = config_path(name)
    if not path.exists():
        hint = ("the tiny model is built by `python -m labkit.methods.pretrain`" if name == "tiny"
                else "restore it from git")
        raise FileNotFoundError(f"config for {name!r} not found at {path}: {hint}")
    config = AutoConfig.from_pretrained(path)
    config.name_or_path = name  # so reports say "llama-2-7b", not a file path
    return config


def _head_dim(config) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def linear_layers(config) -> tuple[LinearLayer, ...]:
    """The projections inside each decoder layer, with their shapes (what LoRA can target).

    >>> [layer.name for layer in linear_layers(load_architecture_config("gpt2"))]
    ['c_attn', 'c_proj', 'c_fc', 'c_proj']

    Names are the module names peft matches against ``target_modules``; GPT-2 has two
    ``c_proj`` (attention output and MLP output), and targeting ``c_proj`` wraps both.
    """
    family = config.model_type
    hidden, layers = config.hidden_size, config.num_hidden_layers
    if family == "gpt2":
        inner = config.n_inner or 4 * hidden
        return (LinearLayer("c_attn", hidden, 3 * hidden, True, layers, ATTN_IN),
                LinearLayer("c_proj", hidden, hidden, True, layers, ATTN_OUT),
                LinearLayer("c_fc", hidden, inner, True, layers, MLP_IN),
                LinearLayer("c_proj", inner, hidden, True, layers, MLP_HIDDEN))
    if family not in DEFAULT_TARGETS:
        raise ValueError(
            f"no layer layout for model_type {family!r}; supported: {', '.join(DEFAULT_TARGETS)}. "
            "Add its projection shapes to labkit.methods.lora_math.linear_layers (see the model's modeling file).")
    q_out = config.num_attention_heads * _head_dim(config)
    kv_out = config.num_key_value_heads * _head_dim(config)
    mlp = config.intermediate_size
    if family == "phi3":  # fused projections: one qkv, one gate+up
        return (LinearLayer("qkv_proj", hidden, q_out + 2 * kv_out, False, layers, ATTN_IN),
                LinearLayer("o_proj", q_out, hidden, False, layers, ATTN_OUT),
                LinearLayer("gate_up_proj", hidden, 2 * mlp, False, layers, MLP_IN),
                LinearLayer("down_proj", mlp, hidden, False, layers, MLP_HIDDEN))
    # Qwen2 always has biases on q, k, v; Llama and Gemma follow `attention_bias`/`mlp_bias`.
    qkv_bias = family == "qwen2" or bool(getattr(config, "attention_bias", False))
    o_bias = family != "qwen2" and bool(getattr(config, "attention_bias", False))
    mlp_bias = bool(getattr(config, "mlp_bias", False))
    return (LinearLayer("q_proj", hidden, q_out, qkv_bias, layers, ATTN_IN),
            LinearLayer("k_proj", hidden, kv_out, qkv_bias, layers, ATTN_IN),
            LinearLayer("v_proj", hidden, kv_out, qkv_bias, layers, ATTN_IN),
            LinearLayer("o_proj", q_out, hidden, o_bias, layers, ATTN_OUT),
            LinearLayer("gate_proj", hidden, mlp, mlp_bias, layers, MLP_IN),
            LinearLayer("up_proj", hidden, mlp, mlp_bias, layers, MLP_IN),
            LinearLayer("down_proj", mlp, hidden, mlp_bias, layers, MLP_HIDDEN))


def target_module_names(config) -> tuple[str, ...]:
    """The names you can pass as ``target_modules``, in layer order, without repeats.

    >>> target_module_names(load_architecture_config("phi-3-mini"))
    ('qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj')
    """
    return tuple(dict.fromkeys(layer.name for layer in linear_layers(config)))


def default_target_modules(config) -> tuple[str, ...]:
    """What peft targets when you give no ``target_modules`` (attention query and value)."""
    return DEFAULT_TARGETS[config.model_type]


def count_base_parameters(config) -> int:
    """All parameters of the model before LoRA; tied embeddings count once.

    >>> count_base_parameters(load_architecture_config("gpt2"))
    124439808

    embeddings + layers · (projections + norms) + final norm + lm_head (if not tied).
    GPT-2 adds learned position embeddings and LayerNorms with a bias (2 · hidden each).
    """
    hidden, vocab, layers = config.hidden_size, config.vocab_size, config.num_hidden_layers
    projections = sum(layer.parameters for layer in linear_layers(config))
    if config.model_type == "gpt2":
        norm = 2 * hidden
        embeddings = vocab * hidden + config.n_positions * hidden
    else:  # RMSNorm: one weight vector
        norm = hidden
        embeddings = vocab * hidden
    lm_head = 0 if config.tie_word_embeddings else vocab * hidden
    return embeddings + projections + layers * 2 * norm + norm + lm_head


def _check_targets(config, target_modules) -> tuple[str, ...]:
    if isinstance(target_modules, str):
        target_modules = (target_modules,)
    targets = tuple(target_modules)
    known = target_module_names(config)
    unknown = [name for name in targets if name not in known]
    if unknown or not targets:
        raise ValueError(f"target_modules {list(targets)} for {config.name_or_path or config.model_type}: "
                         f"{'unknown ' + ', '.join(unknown) if unknown else 'empty'}; "
                         f"choose from {', '.join(known)}")
    return targets


def count_lora_parameters(config, rank: int, target_modules) -> int:
    """Trainable parameters LoRA adds: the sum of ``rank · (in + out)`` over targeted layers.

    >>> count_lora_parameters(load_architecture_config("llama-2-7b"), 8, ["q_proj", "v_proj"])
    4194304

    That is 32 layers · 2 modules · 8 · (4096 + 4096). Biases stay frozen (peft's default
    ``bias="none"``), so they add nothing.
    """
    if rank < 1:
        raise ValueError(f"rank must be at least 1, got {rank}")
    targets = _check_targets(config, target_modules)
    return sum(layer.count * rank * (layer.in_features + layer.out_features)
               for layer in linear_layers(config) if layer.name in targets)


def lora_report(config, rank: int, target_modules) -> LoraReport:
    """Trainable count, both totals, percentages and adapter size for one LoRA setup.

    >>> print(lora_report(load_architecture_config("llama-2-7b"), 8, ["q_proj", "v_proj"]).peft_line())
    trainable params: 4,194,304 || all params: 6,742,609,920 || trainable%: 0.0622

    The adapter file (``adapter_model.safetensors``) holds A and B only: trainable × 4 bytes in
    fp32, × 2 in bf16, plus a header of a few kB that we leave out.
    """
    targets = _check_targets(config, target_modules)
    trainable = count_lora_parameters(config, rank, targets)
    base = count_base_parameters(config)
    return LoraReport(
        name=config.name_or_path or config.model_type, rank=rank, target_modules=targets,
        trainable=trainable, base_total=base, peft_total=base + trainable,
        trainable_percent=100 * trainable / base,
        peft_trainable_percent=100 * trainable / (base + trainable),
        adapter_bytes_fp32=4 * trainable, adapter_bytes_bf16=2 * trainable)
