"""Load, quantize and save models, safely: safetensors only, no remote code, offline-aware."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

from labkit.core.env import pick_device, supports_bf16
from labkit.core.profiles import PROFILES, get_profile

HUB_HOST = "huggingface.co"
HUB_PROBE_SECONDS = 3.0


class ProfileUnavailableError(RuntimeError):
    """A hub profile was asked for where the Hub cannot be reached and the model is not cached."""


class UnsafeCheckpointError(RuntimeError):
    """A pickle checkpoint was found where only safetensors are accepted."""


def hub_reachable(timeout: float = HUB_PROBE_SECONDS) -> bool:
    """True if a TCP connection to the Hub opens within ``timeout`` seconds.

    The probe runs in a thread because name resolution ignores socket timeouts.
    """
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    result = []

    def probe():
        try:
            socket.create_connection((HUB_HOST, 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _cached_snapshot(model_id: str) -> str | None:
    """The local snapshot folder of a Hub model if it was downloaded before, else None."""
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(model_id, local_files_only=True)
    except Exception:  # not cached: any of several hub errors
        return None


def resolve_source(name_or_path: str | os.PathLike) -> str:
    """Where to load from: a profile's folder or Hub id, or a local folder as given.

    Fails within seconds, naming the ``tiny`` profile, when a hub profile cannot be reached.
    """
    path = Path(name_or_path)
    if str(name_or_path) not in PROFILES:
        if path.is_dir():
            return str(path)
        raise FileNotFoundError(
            f"{name_or_path!r} is neither a profile ({', '.join(PROFILES)}) nor a model folder")
    profile = get_profile(str(name_or_path))
    if not profile.on_hub:
        if not Path(profile.model_id, "config.json").exists():
            raise FileNotFoundError(f"the {profile.name} model is missing from {profile.model_id}; "
                                    "rebuild it with `python -m labkit.methods.pretrain`")
        return profile.model_id
    cached = _cached_snapshot(profile.model_id)
    if cached:
        return cached
    if not hub_reachable():
        raise ProfileUnavailableError(
            f"profile {profile.name!r} needs {profile.model_id} from the Hugging Face Hub, which "
            f"cannot be reached from here and is not in the local cache. Use profile='tiny' "
            f"(the offline model that ships with labkit), or connect to the internet.")
    return profile.model_id


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
    """The tokenizer of a profile or model folder, with a pad token set.

    >>> load_tokenizer("tiny").pad_token
    '<|pad|>'
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_source(profile), trust_remote_code=False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def quantization_config(quantization: str | None, device: str):
    """A BitsAndBytesConfig for "8bit" or "4bit" (NF4, double quantization), or None."""
    import torch
    from transformers import BitsAndBytesConfig

    if quantization is None:
        return None
    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    if quantization == "4bit":
        compute_dtype = torch.bfloat16 if supports_bf16(device) else (
            torch.float16 if device == "cuda" else torch.float32)
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                  bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute_dtype)
    raise ValueError(f"quantization must be None, '8bit' or '4bit', not {quantization!r}")


def load_model(profile: str | os.PathLike = "tiny", quantization: str | None = "default",
               device: str | None = None, allow_pickle_checkpoint: bool = False):
    """Load a causal LM by profile name or folder, on the best device.

    ``quantization``: None, "8bit" or "4bit"; "default" takes the profile's own choice.
    Only safetensors weights are loaded unless ``allow_pickle_checkpoint=True``; remote code never runs.

    >>> load_model("tiny").config.model_type
    'llama'
    """
    import torch
    from transformers import AutoModelForCausalLM

    source = resolve_source(profile)
    _refuse_pickle(source, allow_pickle_checkpoint)
    if quantization == "default":
        quantization = PROFILES[str(profile)].default_quantization if str(profile) in PROFILES else None
    device = device or pick_device()
    dtype = torch.bfloat16 if supports_bf16(device) else (torch.float16 if device == "cuda" else torch.float32)
    kwargs = dict(dtype=dtype, trust_remote_code=False, use_safetensors=not allow_pickle_checkpoint)
    bnb = quantization_config(quantization, device)
    if bnb is not None:
        kwargs.update(quantization_config=bnb, device_map={"": device if device != "mps" else "cpu"})
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    if bnb is None:
        model.to(device)
    elif quantization == "4bit":
        _keep_4bit_layout(model)
    return model


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
