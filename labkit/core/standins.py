"""Stand-in models: the architecture class of each hub profile, about two million random weights.

No model hub is reachable where the tests run, yet the hub code path (school, the model's own chat
template with generation markers added, added special tokens, a missing pad token, untied
embeddings, 4-bit loading) must be exercised. A stand-in is built offline, in seconds, into
``build/standins/<name>/``: the real model's class and config habits (tied or untied embeddings,
grouped-query attention, Qwen's attention biases) with small sizes, and a tokenizer with the real
one's conventions (:mod:`labkit.core.standin_tokenizers`). It checks mechanics, not accuracy.

>>> sorted(ARCHITECTURES)
['mistral', 'qwen', 'smol']
"""

from __future__ import annotations

import json
from pathlib import Path

from labkit.paths import BUILD_DIR, CORPUS_PATH

STANDINS_DIR = BUILD_DIR / "standins"
SEED = 0
# Small, but shaped like the real ones: grouped-query attention, MLP widths that are multiples of 64
# (bitsandbytes quantizes in blocks of 64).
SIZES = dict(hidden_size=192, intermediate_size=512, num_hidden_layers=4, num_attention_heads=6,
             num_key_value_heads=2, max_position_embeddings=512)
# name -> (transformers config class, what the real config says about embeddings and token ids)
ARCHITECTURES = {
    "smol": ("LlamaConfig", dict(tie_word_embeddings=True, rope_theta=100000.0)),
    "qwen": ("Qwen2Config", dict(tie_word_embeddings=True, rope_theta=1000000.0)),
    "mistral": ("MistralConfig", dict(tie_word_embeddings=False, sliding_window=4096)),
}


def standin_dir(name: str) -> Path:
    return STANDINS_DIR / name


def corpus_documents(limit: int = 4000) -> list[str]:
    """Texts to train a stand-in's tokenizer on: the course's own corpus."""
    with CORPUS_PATH.open(encoding="utf-8") as corpus:
        return [json.loads(line)["text"] for _, line in zip(range(limit), corpus)]


def build_standin(name: str, folder: Path | None = None) -> Path:
    """Build stand-in ``name`` ("smol", "qwen" or "mistral") into ``folder``; returns the folder."""
    import torch
    import transformers
    from filelock import FileLock

    from labkit.core.files import atomic_write_folder
    from labkit.core.standin_tokenizers import TOKENIZERS

    if name not in ARCHITECTURES:
        raise KeyError(f"no stand-in {name!r}; known: {', '.join(ARCHITECTURES)}")
    folder = folder or standin_dir(name)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):  # two kernels asking at once build it once
        if (folder / "config.json").exists():
            return folder
        tokenizer = TOKENIZERS[name](corpus_documents())
        config_class, habits = ARCHITECTURES[name]
        ids = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                   pad_token_id=tokenizer.pad_token_id)
        config = getattr(transformers, config_class)(vocab_size=len(tokenizer), **SIZES, **habits, **ids)
        torch.manual_seed(SEED)
        model = transformers.AutoModelForCausalLM.from_config(config)

        def write(tmp: Path):
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)

        return atomic_write_folder(folder, write)
