"""What 4-bit quantization keeps, and how many bytes it saves, read off the real tensors.

The byte counts are read off the real tensors bitsandbytes makes, not computed from a formula:
``weight_bytes_by_precision`` quantizes each weight the way ``from_pretrained`` would, and
``tests/test_qlora.py`` checks its NF4 count against a model loaded in 4-bit.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    Tensors shared between layers (bitsandbytes may share lookup tables) count once. Biases (Qwen's
    q, k, v have them) stay in 16 bits and are not counted, as in ``weight_bytes_by_precision``.
    """
    seen, total = set(), 0
    for module in modules:
        weight = module.weight
        for tensor in [weight.data, *_quant_state_tensors(weight.quant_state)]:
            key = (tensor.data_ptr(), tensor.numel())
            if key not in seen:
                seen.add(key)
                total += _tensor_bytes(tensor)
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

    >>> from labkit.core.models import load_model
    >>> [(row.kind, row.layer_type) for row in summarize_quantization(load_model("tiny", "4bit"))][:2]
    [('embed_tokens', 'Embedding'), ('q_proj', 'Linear4bit')]
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

    >>> from labkit.core.models import load_model
    >>> sizes = weight_bytes_by_precision(load_model("tiny", quantization=None))
    >>> round(sizes["nf4 + double quant"] / sizes["bf16"], 2)
    0.26
    """
    layers = quantizable_linears(model)
    if names is not None:
        missing = sorted(set(names) - set(layers))
        if missing:
            raise KeyError(f"no quantizable linear layer named {missing[0]!r} in this model")
        layers = {name: layers[name] for name in names}
    return {precision: sum(quantized_bytes(m.weight, precision) for m in layers.values())
            for precision in PRECISIONS}
