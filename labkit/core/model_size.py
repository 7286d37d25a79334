"""How big a model is, from its ``config.json`` alone (no weights read): for profiles of any Hub id or folder.

The named profiles (tiny, smol, qwen-0.5b, mistral-7b) were chosen and documented by hand; "bring your
own base model" takes the recipes of the named profile nearest its size:

>>> size_class(135e6), size_class(5e8), size_class(7.2e9)
('smol', 'qwen-0.5b', 'mistral-7b')
"""

from __future__ import annotations

import json
from pathlib import Path

# (largest parameter count, the named profile whose recipes suit that size)
SIZE_CLASSES = ((300e6, "smol"), (3e9, "qwen-0.5b"), (float("inf"), "mistral-7b"))


def size_class(parameters: float) -> str:
    """The named profile whose recipes suit a model of this many parameters."""
    return next(name for limit, name in SIZE_CLASSES if parameters <= limit)


def estimate_parameters(config: dict) -> int:
    """Parameters of a decoder-only transformer from its config: attention, MLP, embeddings.

    Rough on purpose (it ignores biases and norms): it only chooses a size class.

    >>> estimate_parameters({"hidden_size": 576, "num_hidden_layers": 30, "intermediate_size": 1536,
    ...                      "vocab_size": 49152, "num_attention_heads": 9, "num_key_value_heads": 3,
    ...                      "tie_word_embeddings": True}) // 1_000_000
    134
    """
    hidden, layers = config["hidden_size"], config["num_hidden_layers"]
    heads = config.get("num_attention_heads", 1)
    kv_heads = config.get("num_key_value_heads", heads)
    head_dim = config.get("head_dim") or hidden // heads
    attention = hidden * head_dim * (2 * heads + 2 * kv_heads)
    mlp = 3 * hidden * config.get("intermediate_size", 4 * hidden)
    embeddings = config["vocab_size"] * hidden * (1 if config.get("tie_word_embeddings", False) else 2)
    return layers * (attention + mlp) + embeddings


def read_config(name_or_path: str) -> dict:
    """The model's config.json: from the folder, or from the Hub (cached, or downloaded if reachable)."""
    folder = Path(name_or_path)
    if folder.is_dir():
        path = folder / "config.json"
        if not path.exists():
            raise FileNotFoundError(f"{folder} has no config.json: is it a model folder?")
        return json.loads(path.read_text())
    from labkit.core.hub import hub_source

    source = Path(hub_source(name_or_path))  # fails fast, naming tiny, when the Hub is out of reach
    if source.is_dir():
        return json.loads((source / "config.json").read_text())
    from huggingface_hub import hf_hub_download

    return json.loads(Path(hf_hub_download(name_or_path, "config.json")).read_text())
