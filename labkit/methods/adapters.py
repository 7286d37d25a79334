"""A LoRA adapter's life after training: saved alone, reloaded on its 4-bit base, merged for deployment.

Folders are written through :func:`labkit.core.files.atomic_write_folder`, so a kill mid-save leaves
the previous adapter whole.
"""

from __future__ import annotations

import os
from pathlib import Path

from transformers import TrainerCallback

from labkit.core.files import atomic_write_folder
from labkit.core.models import load_model, save_model


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


def save_adapter(model, folder: str | os.PathLike, tokenizer=None) -> Path:
    """Save only the LoRA adapter (safetensors), atomically; returns the folder.

    >>> save_adapter(peft_model, "build/runs/qlora-adapter")  # doctest: +SKIP
    """
    from peft import PeftModel

    if not isinstance(model, PeftModel):
        raise TypeError(f"save_adapter needs a peft model (get_peft_model or PeftModel.from_pretrained), "
                        f"got {type(model).__name__}; to save a whole model use labkit.core.models.save_model")
    def write(tmp: Path):
        model.save_pretrained(tmp, safe_serialization=True)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)

    return atomic_write_folder(folder, write)


def merged(model):
    """A trained model as one plain model that saves and reloads: a peft model's adapters folded into its
    weights; a 4-bit model dequantized to its compute dtype (a 4-bit profile loads it in 4-bit again).

    On a 4-bit base the merge goes through the 4-bit weights, which rounds the update to NF4's grid:
    fine for handing a model to the next lesson. Lesson 05 shows the careful route for deployment,
    merging into the dequantized base (:func:`merge_adapter`).
    """
    from peft import PeftModel

    if isinstance(model, PeftModel):
        model = model.merge_and_unload()
    quantization = getattr(model.config, "quantization_config", None)
    if quantization is not None:
        compute_dtype = quantization.bnb_4bit_compute_dtype
        model = model.dequantize(dtype=compute_dtype)
        model.config.dtype = compute_dtype
    return model


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
    return atomic_write_folder(folder, lambda tmp: save_model(model, tokenizer, tmp))
