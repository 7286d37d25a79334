"""QLoRA end to end: what 4-bit quantization keeps, how many bytes it saves, and how a trained
adapter is saved, reloaded and merged into a plain model for deployment.

>>> base = load_model("tiny", quantization="4bit")  # doctest: +SKIP
>>> quantized_layer_names(base)[:2]  # doctest: +SKIP
['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.k_proj']

The byte counts are read off the real tensors bitsandbytes makes, not computed from a formula:
``weight_bytes_by_precision`` quantizes each weight the way ``from_pretrained`` would, and
``tests/test_qlora.py`` checks its NF4 count against a model loaded in 4-bit.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from transformers import TrainerCallback

from labkit.models import load_model, save_model

# Why some modules stay in higher precision when the rest is 4-bit (shown in lesson 05).
KEPT_BECAUSE = {
    "Embedding": "a lookup table, not a matrix multiply: bitsandbytes only replaces nn.Linear",
    "Norm": "one scale per channel: a few thousand numbers that every activation passes through",
    "lm_head": "the output layer feeds the softmax directly, so transformers keeps it in full precision",
}
PRECISIONS = ("fp32", "bf16", "int8", "nf4", "nf4 + double quant")
NF4_BLOCKSIZE = 64  # bitsandbytes' default for 4-bit weights: one scale per 64 weights


@dataclass(frozen=True)
class ModuleSummary:
    """One group of modules of a (quantized) model: what they are and what they hold."""

    kind: str  # e.g. "q_proj" or "norm"
    layer_type: str  # the Python class, e.g. "Linear4bit"
    count: int
    parameters: int  # logical weights (a 4-bit weight counts as one, though it is half a byte)
    bytes: int
    storage: str  # how the weights are held, e.g. "nf4 in uint8 (2 per byte), …" or "float32"
    why: str = ""


def _is_4bit(module) -> bool:
    import bitsandbytes as bnb

    return isinstance(module, bnb.nn.Linear4bit)


def quantized_layer_names(model) -> list[str]:
    """Names of the modules held in 4-bit (``bitsandbytes.nn.Linear4bit``), in model order."""
    return [name for name, module in model.named_modules() if _is_4bit(module)]


def _tensor_bytes(tensor) -> int:
    return tensor.numel() * tensor.element_size()


def _quant_state_tensors(quant_state) -> list:
    """Every tensor a bitsandbytes QuantState holds: block scales, lookup tables, nested scales."""
    tensors = [quant_state.absmax, quant_state.code]
    if quant_state.nested:
        tensors += [quant_state.state2.absmax, quant_state.state2.code, quant_state.offset]
    return [t for t in tensors if t is not None]


def linear4bit_bytes(modules) -> int:
    """Bytes a set of Linear4bit layers really hold: packed weights plus their quantization state.

    Tensors shared between layers (bitsandbytes may share lookup tables) count once.
    """
    seen, total = set(), 0
    for module in modules:
        weight = module.weight
        for tensor in [weight.data, *_quant_state_tensors(weight.quant_state)]:
            key = (tensor.data_ptr(), tensor.numel())
            if key not in seen:
                seen.add(key)
                total += _tensor_bytes(tensor)
        if module.bias is not None:
            total += _tensor_bytes(module.bias)
    return total


def _group_name(name: str, module) -> str:
    last = name.rsplit(".", 1)[-1]
    return "norm" if "norm" in type(module).__name__.lower() else last


def _kept_because(kind: str, layer_type: str) -> str:
    if kind == "lm_head":
        return KEPT_BECAUSE["lm_head"]
    return next((text for key, text in KEPT_BECAUSE.items() if key in layer_type), "")


def summarize_quantization(model) -> list[ModuleSummary]:
    """Group a model's weight-holding modules by kind: which are 4-bit, which are not, and why.

    >>> for row in summarize_quantization(load_model("tiny", "4bit")): print(row.kind, row.layer_type)  # doctest: +SKIP
    """
    groups: dict[tuple[str, str], list] = {}
    for name, module in model.named_modules():
        if not list(module.parameters(recurse=False)):
            continue
        groups.setdefault((_group_name(name, module), type(module).__name__), []).append(module)
    rows = []
    seen_params = set()
    for (kind, layer_type), modules in groups.items():
        if layer_type == "Linear4bit":
            parameters = sum(m.in_features * m.out_features for m in modules)
            state = modules[0].weight.quant_state
            storage = f"{state.quant_type} in uint8 (2 per byte), scales per {state.blocksize}"
            rows.append(ModuleSummary(kind, layer_type, len(modules), parameters,
                                      linear4bit_bytes(modules), storage))
            continue
        params = [p for m in modules for p in m.parameters(recurse=False)]
        tied = all(id(p) in seen_params for p in params)  # e.g. lm_head sharing the embedding
        seen_params.update(id(p) for p in params)
        why = _kept_because(kind, layer_type)
        if tied:
            why = "tied to the input embedding: the same tensor, stored once"
        rows.append(ModuleSummary(kind, layer_type, len(modules),
                                  0 if tied else sum(p.numel() for p in params),
                                  0 if tied else sum(_tensor_bytes(p) for p in params),
                                  str(params[0].dtype).replace("torch.", ""), why))
    return rows


def quantizable_linears(model) -> dict[str, object]:
    """The nn.Linear layers ``from_pretrained(load_in_4bit=True)`` quantizes: all but lm_head.

    On a model already in 4-bit these are its Linear4bit layers (a subclass of nn.Linear).
    Call it before adding LoRA: the adapters' own A and B are nn.Linear too.
    """
    import torch

    head = model.get_output_embeddings()
    return {name: m for name, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and m is not head}


def _full_precision(weight):
    """A weight as fp32: dequantized first if it is a 4-bit bitsandbytes weight."""
    import bitsandbytes as bnb

    if type(weight).__name__ == "Params4bit":
        return bnb.functional.dequantize_4bit(weight.data, weight.quant_state).float()
    return weight.detach().float()


def quantized_bytes(weight, precision: str) -> int:
    """Bytes of one weight matrix stored in ``precision`` (one of PRECISIONS), measured by
    quantizing it with bitsandbytes and adding up the tensors that come out.

    >>> import torch
    >>> quantized_bytes(torch.zeros(256, 256), "bf16")
    131072
    """
    import bitsandbytes as bnb
    import torch

    weight = _full_precision(weight)
    if precision == "fp32":
        return _tensor_bytes(weight)
    if precision == "bf16":
        return _tensor_bytes(weight.to(torch.bfloat16))
    if precision == "int8":  # LLM.int8(): int8 weights plus one fp32 scale per output row
        int8_weight, row_scales, _ = bnb.functional.int8_vectorwise_quant(weight.half())
        return _tensor_bytes(int8_weight) + _tensor_bytes(row_scales)
    if precision in ("nf4", "nf4 + double quant"):
        packed, state = bnb.functional.quantize_4bit(
            weight, blocksize=NF4_BLOCKSIZE, quant_type="nf4",
            compress_statistics=precision == "nf4 + double quant")
        return _tensor_bytes(packed) + sum(_tensor_bytes(t) for t in _quant_state_tensors(state))
    raise ValueError(f"precision {precision!r}: choose from {', '.join(PRECISIONS)}")


def weight_bytes_by_precision(model, names=None) -> dict[str, int]:
    """Bytes of the quantizable linear weights in each precision, measured from real tensors.

    ``model`` is a full-precision model, or one loaded in 4-bit (each layer is dequantized in turn,
    so a 7B model never exists in full precision at once; sizes depend on shapes, not values).
    ``names`` restricts to some layers (default: the ones 4-bit loading quantizes). Embeddings,
    norms and lm_head are not included: they stay as they are.

    >>> sizes = weight_bytes_by_precision(load_model("tiny", quantization=None))  # doctest: +SKIP
    >>> sizes["nf4 + double quant"] / sizes["bf16"] < 0.3  # doctest: +SKIP
    True
    """
    layers = quantizable_linears(model)
    if names is not None:
        missing = sorted(set(names) - set(layers))
        if missing:
            raise KeyError(f"no quantizable linear layer named {missing[0]!r} in this model")
        layers = {name: layers[name] for name in names}
    return {precision: sum(quantized_bytes(m.weight, precision) for m in layers.values())
            for precision in PRECISIONS}


class AdaptersInFloat32(TrainerCallback):
    """Keep LoRA adapters in fp32 while training on a quantized base.

    TRL casts the adapters of a quantized model to bf16 (the QLoRA paper's GPU recipe). On a CPU
    the compute dtype is fp32, so bf16 adapters only lose precision; and in any case adapters
    trained in fp32 save and reload bit for bit (peft reloads adapters in fp32). They are a
    fraction of a percent of the weights, so the memory cost is negligible. The cast runs when
    training starts, before the optimizer creates its state.

    >>> train_sft(model, tokenizer, train_set, callbacks=[AdaptersInFloat32()])  # doctest: +SKIP
    """

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        import torch

        for parameter in model.parameters():
            if parameter.requires_grad and parameter.dtype != torch.float32:
                parameter.data = parameter.data.float()


def release_memory() -> None:
    """Hand freed memory back before a measurement, so it starts from live memory only.

    Python's gc, then glibc's ``malloc_trim`` on Linux (freed heap otherwise stays in the process's
    resident size and hides the next run's growth), or the CUDA cache on a GPU.
    """
    import ctypes
    import gc
    import sys

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:  # not glibc (e.g. Alpine's musl): nothing to trim
            pass


def run_dir(profile: str, max_steps: int, lora_r: int, seed: int) -> Path:
    """Where lesson 05 keeps a run (adapter/, merged/, trainer/): one folder per profile and
    settings, so a short test run never replaces the adapter a learner trained.

    >>> run_dir("tiny", 150, 16, 0).name
    '05_qlora-tiny-r16-150steps-seed0'
    """
    from labkit.train import RUNS_DIR

    return RUNS_DIR / f"05_qlora-{profile}-r{lora_r}-{max_steps}steps-seed{seed}"


def _replace_folder(tmp: Path, folder: Path) -> None:
    """Move a finished folder into place by renames (atomic), never by copying files: at every
    moment a complete copy is on disk, the old one (in ``folder``, or ``folder.old`` for the instant
    of the swap) or the new one."""
    backup = folder.with_name(folder.name + ".old")
    if backup.exists() and not folder.exists():
        backup.rename(folder)  # an earlier swap was interrupted: put the old copy back first
    if backup.exists():
        shutil.rmtree(backup)
    if folder.exists():
        folder.rename(backup)
    tmp.rename(folder)
    if backup.exists():
        shutil.rmtree(backup)


def save_adapter(model, folder: str | os.PathLike, tokenizer=None) -> Path:
    """Save only the LoRA adapter (safetensors), atomically; returns the folder.

    >>> save_adapter(peft_model, "build/runs/qlora-adapter")  # doctest: +SKIP
    """
    from peft import PeftModel

    if not isinstance(model, PeftModel):
        raise TypeError(f"save_adapter needs a peft model (get_peft_model or PeftModel.from_pretrained), "
                        f"got {type(model).__name__}; to save a whole model use labkit.models.save_model")
    folder = Path(folder)
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp, safe_serialization=True)
    if tokenizer is not None:
        tokenizer.save_pretrained(tmp)
    _replace_folder(tmp, folder)
    return folder


def adapter_megabytes(folder: str | os.PathLike) -> float:
    """Size of the adapter weights on disk in MB (1e6 bytes), as ``ls -l`` shows them."""
    weights = Path(folder) / "adapter_model.safetensors"
    if not weights.exists():
        raise FileNotFoundError(f"no adapter_model.safetensors in {folder}: save it with save_adapter")
    return weights.stat().st_size / 1e6


def load_adapter(profile: str | os.PathLike, adapter_folder: str | os.PathLike,
                 quantization: str | None = "4bit", device: str | None = None):
    """The base model (4-bit by default) with a saved adapter on top, ready to generate.

    >>> model = load_adapter("tiny", "build/runs/qlora-adapter")  # doctest: +SKIP
    """
    from peft import PeftModel

    if not (Path(adapter_folder) / "adapter_config.json").exists():
        raise FileNotFoundError(f"no adapter_config.json in {adapter_folder}: is this an adapter folder?")
    base = load_model(profile, quantization=quantization, device=device)
    return PeftModel.from_pretrained(base, str(adapter_folder), is_trainable=False)


def merge_adapter(profile: str | os.PathLike, adapter_folder: str | os.PathLike, device: str | None = None):
    """A plain model (no bitsandbytes, no peft) with the adapter merged into a dequantized base.

    The adapter learned corrections to the *4-bit* weights, so we merge it into those weights
    dequantized (``model.dequantize()``), not into the original full-precision ones: the original
    differs from what the adapter saw by the whole quantization error.

    The dequantized model is whole in the compute dtype (a 7B model: 14.5 GB in bf16); on a GPU
    without that much free memory, merge with ``device="cpu"``.
    """
    from peft import PeftModel

    base = load_model(profile, quantization="4bit", device=device)
    compute_dtype = base.config.quantization_config.bnb_4bit_compute_dtype
    base = base.dequantize(dtype=compute_dtype)
    merged = PeftModel.from_pretrained(base, str(adapter_folder)).merge_and_unload()
    merged.config.dtype = compute_dtype
    return merged


def save_merged(model, tokenizer, folder: str | os.PathLike) -> Path:
    """Save a merged model as plain safetensors, atomically; it loads with ``load_model(folder)``."""
    folder = Path(folder)
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    save_model(model, tokenizer, tmp)
    _replace_folder(tmp, folder)
    return folder


def logits_on(model, tokenizer, conversations: list[list[dict]]):
    """Logits (float32, on the CPU) for a batch of conversations rendered by the chat template.

    Used to compare two models on the same input: padding is on the right and masked.
    """
    import torch

    texts = [tokenizer.apply_chat_template(c, tokenize=False) for c in conversations]
    side = tokenizer.padding_side
    tokenizer.padding_side = "right"
    try:
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tokenizer.padding_side = side
    model.eval()
    with torch.no_grad():
        logits = model(**batch.to(model.device)).logits.float().cpu()
    return logits.masked_fill(~batch["attention_mask"].bool().cpu()[..., None], 0.0)


def max_abs_difference(logits_a, logits_b) -> float:
    """The largest absolute difference between two logit tensors of the same shape."""
    if logits_a.shape != logits_b.shape:
        raise ValueError(f"logits of different shapes: {tuple(logits_a.shape)} vs {tuple(logits_b.shape)}")
    return (logits_a - logits_b).abs().max().item()
