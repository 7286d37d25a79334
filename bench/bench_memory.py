"""Weight bytes per parameter in fp32, bf16, int8 and NF4, measured on loaded models.

    .venv/bin/python bench/bench_memory.py

The tiny model is loaded the way the lessons load it (labkit.core.models.load_model: bitsandbytes for int8
and for NF4 with double quantization), then every tensor it holds is added up: weights, buffers and
the quantization state (int8 row scales; NF4 block scales, their nested scales and lookup tables),
each storage once. Two figures per precision: the whole model (whose embedding, tied to the LM head,
and norms are never quantized) and the quantized linear layers alone. A 4096 × 4096 layer, the size of
a 7B model's attention projection, shows the large-model limit.
"""

from __future__ import annotations

import argparse

from benchlib import print_header, save_result

PRECISIONS = ("fp32", "bf16", "int8", "nf4")


def held_tensors(module) -> list:
    """Every tensor a module holds, including bitsandbytes' quantization state."""
    tensors = [*module.parameters(), *module.buffers()]
    for parameter in list(tensors):
        state = getattr(parameter, "quant_state", None)
        if state is not None:  # NF4: block scales and code book, nested ones with double quantization
            tensors += [state.absmax, state.code]
            if state.nested:
                tensors += [state.state2.absmax, state.state2.code, state.offset]
        scales = getattr(parameter, "SCB", None)
        if scales is not None:  # int8: one scale per output row
            tensors.append(scales)
    return [t for t in tensors if t is not None]


def tensor_bytes(tensors) -> int:
    """Bytes of the storages behind these tensors, each counted once (tied weights share one)."""
    seen, total = set(), 0
    for tensor in tensors:
        key = (tensor.untyped_storage().data_ptr(), tensor.untyped_storage().nbytes())
        if key not in seen:
            seen.add(key)
            total += tensor.untyped_storage().nbytes()
    return total


def load(precision: str):
    import torch

    from labkit.core.models import load_model

    if precision == "fp32":
        return load_model("tiny", quantization=None, device="cpu")
    if precision == "bf16":
        return load_model("tiny", quantization=None, device="cpu").to(torch.bfloat16)
    return load_model("tiny", quantization={"int8": "8bit", "nf4": "4bit"}[precision], device="cpu")


def quantized_layers(model) -> list:
    import bitsandbytes as bnb

    return [m for m in model.modules() if isinstance(m, (bnb.nn.Linear4bit, bnb.nn.Linear8bitLt))]


def tiny_model_row(precision: str, parameters: int, linear_parameters: int) -> dict:
    model = load(precision)
    whole = tensor_bytes([t for t in held_tensors(model)])
    layers = quantized_layers(model)
    if layers:
        linear_bytes = tensor_bytes([t for m in layers for t in held_tensors(m)])
        linear_count = sum(m.in_features * m.out_features for m in layers)
    else:  # fp32 / bf16: the same layers 4-bit loading would quantize
        import torch

        head = model.get_output_embeddings()
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m is not head]
        linear_bytes = tensor_bytes([t for m in linears for t in held_tensors(m)])
        linear_count = sum(m.weight.numel() for m in linears)
    assert linear_count == linear_parameters, (precision, linear_count, linear_parameters)
    return {"model_bytes": whole, "model_bytes_per_parameter": whole / parameters,
            "linear_bytes": linear_bytes, "linear_bytes_per_parameter": linear_bytes / linear_count}


def large_layer_row(precision: str, size: int = 4096) -> dict:
    """Bytes per parameter of one size × size weight, quantized with bitsandbytes (labkit.methods.quantization)."""
    import torch

    from labkit.methods.quantization import quantized_bytes

    weight = torch.randn(size, size) * 0.02
    name = {"fp32": "fp32", "bf16": "bf16", "int8": "int8", "nf4": "nf4 + double quant"}[precision]
    return {"bytes_per_parameter": quantized_bytes(weight, name) / weight.numel()}


def main(argv=None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    info = print_header("memory: weight bytes per parameter")

    reference = load("fp32")
    parameters = sum(p.numel() for p in reference.parameters())  # tied embedding / LM head once
    head = reference.get_output_embeddings()
    import torch

    linear_parameters = sum(m.weight.numel() for m in reference.modules()
                            if isinstance(m, torch.nn.Linear) and m is not head)
    print(f"tiny model: {parameters:,} parameters, {linear_parameters:,} of them in quantizable linear layers "
          f"({linear_parameters / parameters:.0%}); the rest (embedding = LM head, norms) stays in full precision")
    rows = {}
    print(f"{'precision':>9}  {'whole model':>22}  {'quantized linears':>22}  {'4096×4096 layer':>16}")
    for precision in PRECISIONS:
        rows[precision] = {**tiny_model_row(precision, parameters, linear_parameters),
                           "large_layer_bytes_per_parameter": large_layer_row(precision)["bytes_per_parameter"]}
        r = rows[precision]
        print(f"{precision:>9}  {r['model_bytes'] / 2**20:7.2f} MiB {r['model_bytes_per_parameter']:5.3f} B/param  "
              f"{r['linear_bytes'] / 2**20:7.2f} MiB {r['linear_bytes_per_parameter']:5.3f} B/param  "
              f"{r['large_layer_bytes_per_parameter']:10.4f} B/param", flush=True)
    save_result("memory", {"machine": info, "parameters": parameters, "linear_parameters": linear_parameters,
                           "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
