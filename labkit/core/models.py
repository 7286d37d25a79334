"""Load, quantize and save models, safely: safetensors only, no remote code, offline-aware."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from labkit.core.env import mixed_precision, pick_device, weights_dtype
from labkit.core.hub import ProfileUnavailableError, hub_source
from labkit.core.profiles import PROFILES, get_profile

__all__ = ["ProfileUnavailableError", "UnsafeCheckpointError", "resolve_source", "load_tokenizer", "load_model",
           "load_if_saved", "base_model_key", "quantization_config", "fit_to_tokenizer", "save_model"]

class UnsafeCheckpointError(RuntimeError):
    """A pickle checkpoint was found where only safetensors are accepted."""


def resolve_source(name_or_path: str | os.PathLike) -> str:
    """Where to load from: a profile's folder, stand-in or Hub id; a Hub id (``owner/model``); or a folder.

    A stand-in is built on first use. Fails within seconds, naming the ``tiny`` profile, when a Hub
    model cannot be reached.
    """
    name = str(name_or_path)
    if name in PROFILES:
        profile = PROFILES[name]
        if profile.source == "standin":
            from labkit.core.standins import build_standin

            return str(build_standin(profile.model_id))
        if profile.source == "local":
            if not Path(profile.model_id, "config.json").exists():
                raise FileNotFoundError(f"the {profile.name} model is missing from {profile.model_id}; "
                                        "rebuild it with `python -m labkit.methods.pretrain`")
            return profile.model_id
        return profile.model_id if Path(profile.model_id).is_dir() else hub_source(profile.model_id, name)
    if Path(name).is_dir():
        return name
    if name.count("/") == 1 and not Path(name).exists():
        return hub_source(name)
    raise FileNotFoundError(f"{name!r} is neither a profile ({', '.join(PROFILES)}), a Hub id (owner/model) "
                            "nor a model folder")


def _refuse_pickle(source: str, allow_pickle_checkpoint: bool) -> None:
    folder = Path(source)
    if allow_pickle_checkpoint or not folder.is_dir():
        return  # hub downloads are restricted to safetensors by `use_safetensors=True`
    if not any(folder.glob("*.safetensors")) and any(folder.glob("*.bin")) | any(folder.glob("*.pt")):
        raise UnsafeCheckpointError(
            f"{folder} holds only pickle checkpoints (.bin/.pt), which can run arbitrary code "
            "when loaded. Convert it to safetensors, or pass allow_pickle_checkpoint=True "
            "if you trust where it came from.")


def load_tokenizer(profile: str | os.PathLike = "tiny"):
    """The tokenizer of a profile or model folder, prepared for training (labkit.core.chat_template):
    a chat template with generation markers, EOS at the end of a turn, a pad token of its own.

    >>> load_tokenizer("tiny").pad_token
    '<|pad|>'
    """
    from transformers import AutoTokenizer

    from labkit.core.chat_template import prepare_tokenizer

    return prepare_tokenizer(AutoTokenizer.from_pretrained(resolve_source(profile), trust_remote_code=False))


def quantization_config(quantization: str | None, device: str):
    """A BitsAndBytesConfig for "8bit" or "4bit" (NF4, double quantization), or None."""
    import torch
    from transformers import BitsAndBytesConfig

    if quantization is None:
        return None
    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    if quantization == "4bit":
        precision = mixed_precision(device) if device == "cuda" else "no"
        compute_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                  bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute_dtype)
    raise ValueError(f"quantization must be None, '8bit' or '4bit', not {quantization!r}")


def load_model(profile: str | os.PathLike = "tiny", quantization: str | None = "default",
               device: str | None = None, allow_pickle_checkpoint: bool = False, tokenizer=None,
               for_profile: str | None = None):
    """Load a causal LM by profile name, Hub id or folder, on the best device, ready for its tokenizer.

    ``quantization``: None, "8bit" or "4bit"; "default" takes the profile's own choice (``for_profile``
    names it when loading a lesson's saved model from a folder: a 4-bit profile's models load in 4-bit).
    If the prepared
    tokenizer (``tokenizer``, else the model's own) has tokens the model lacks (a chat template's
    special tokens), the embeddings grow to fit them. Only safetensors weights are loaded unless
    ``allow_pickle_checkpoint=True``; remote code never runs.

    >>> load_model("tiny").config.model_type
    'llama'
    """
    import json

    from transformers import AutoModelForCausalLM

    from labkit.core.model_size import estimate_parameters

    source = resolve_source(profile)
    _refuse_pickle(source, allow_pickle_checkpoint)
    config = json.loads(Path(source, "config.json").read_text()) if Path(source).is_dir() else None
    if quantization == "default":
        name = for_profile or str(profile)
        quantization = PROFILES[name].quantization if name in PROFILES else None
    device = device or pick_device()
    dtype = weights_dtype(device, estimate_parameters(config) if config else 10**10)
    kwargs = dict(dtype=dtype, trust_remote_code=False, use_safetensors=not allow_pickle_checkpoint)
    bnb = quantization_config(quantization, device)
    if bnb is not None:
        kwargs.update(quantization_config=bnb, device_map={"": device if device != "mps" else "cpu"})
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    if bnb is None:
        model.to(device)
    elif quantization == "4bit":
        _keep_4bit_layout(model)
    if tokenizer is None and has_tokenizer(source):
        tokenizer = load_tokenizer(source)
    if tokenizer is not None:
        fit_to_tokenizer(model, tokenizer)
    return model


@lru_cache(maxsize=None)
def base_model_key(profile: str) -> str:
    """What names a profile's base model in the lessons' cache keys, so a rebuilt base never reuses models
    trained from the old one: the digest of its weights where the course ships them (tiny), else its id.

    >>> len(base_model_key("tiny")), base_model_key("standin-smol")
    (12, 'standin-smol')
    """
    chosen = get_profile(profile)
    if chosen.source != "local":
        return chosen.model_id if chosen.source == "hub" else chosen.name
    digest = hashlib.sha1()
    for weights in sorted(Path(chosen.model_id).glob("*.safetensors")):
        digest.update(weights.read_bytes())
    return digest.hexdigest()[:12]


def load_if_saved(folder: str | os.PathLike, profile: str, what: str, log=print):
    """A lesson's saved model with its tokenizer, as ``(model, tokenizer, folder)``, or None if none is saved
    there yet. ``profile`` decides how it loads (a 4-bit profile's models load in 4 bits); ``what`` names it
    in the message, e.g. "the SFT model"."""
    folder = Path(folder)
    if not (folder / "config.json").exists():
        return None
    log(f"loading {what} from the cache: {folder}")
    tokenizer = load_tokenizer(folder)
    return load_model(folder, tokenizer=tokenizer, for_profile=profile), tokenizer, folder


def has_tokenizer(source: str) -> bool:
    """Whether a model source comes with a tokenizer (a Hub id or a saved folder does; bare weights do not)."""
    folder = Path(source)
    return not folder.is_dir() or any((folder / name).exists() for name in ("tokenizer.json", "tokenizer_config.json"))


def fit_to_tokenizer(model, tokenizer) -> None:
    """Grow the embeddings to the tokenizer's added tokens, and generate until its end of turn."""
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    for config in (model.config, model.generation_config):
        config.eos_token_id, config.pad_token_id = tokenizer.eos_token_id, tokenizer.pad_token_id


def _keep_4bit_layout(model) -> None:
    """Stop bitsandbytes (0.50) repacking 4-bit weights the first time they run without gradients.

    On CPUs with AVX-512 BF16 that repacking rewrites each layer's weights and scales in place:
    it rounds the block scales to bf16 (so evaluation computes differently from training), fails
    on layers whose output size is not a multiple of 32 (the tiny model's MLP is 688 wide), and
    its fast kernel needs the `kernels` package, absent offline. The plain path is used instead.
    """
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


def save_model(model, tokenizer, folder: str | os.PathLike) -> Path:
    """Save a model (or a LoRA adapter) and its tokenizer as safetensors."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
