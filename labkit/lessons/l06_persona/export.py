"""Exports of the persona dataset: Mistral JSONL files, a Hugging Face dataset, an Axolotl config.

The Axolotl config is built from the notebook's own ``SFTSettings`` and ``LoraSettings`` (the profile's
numbers), so the Axolotl run and the notebook's PEFT run train the same thing on the same files. The
YAML is written with a comment above every key saying what it does.

>>> from labkit.methods.lora import LoraSettings
>>> from labkit.methods.sft import SFTSettings
>>> cfg = axolotl_config("train.jsonl", "validation.jsonl", "data/tiny", SFTSettings(max_steps=120), LoraSettings())
>>> cfg["datasets"][0]["path"], cfg["max_steps"], cfg["adapter"]
('train.jsonl', 120, 'lora')
>>> set(cfg) <= set(AXOLOTL_KEYS)
True
"""

from __future__ import annotations

from pathlib import Path

from labkit.core.data.validate import FILE_RULES, find_problems, raise_for_problems
from labkit.core.files import atomic_write_text, write_jsonl
from labkit.lessons.l06_persona.dataset import Example
from labkit.methods.lora import LoraSettings
from labkit.methods.sft import SFTSettings

# What each key of the config does, written above it in the YAML (Axolotl's docs: docs.axolotl.ai/docs/config).
AXOLOTL_KEYS = {
    "base_model": "the model to fine-tune: a Hub id or a folder",
    "load_in_4bit": "load the base in 4-bit NF4 (QLoRA); only the adapters train in 16/32-bit",
    "chat_template": "tokenizer_default: render each conversation with the model's own chat template",
    "datasets": "the training file; type chat_template reads its 'messages', trains on the assistant turns",
    "test_datasets": "the validation file, read the same way; its loss is reported during training",
    "val_set_size": "0: the validation file is given, so none is carved out of the training file",
    "output_dir": "where the adapter and checkpoints are written",
    "sequence_len": "the longest example in tokens (the notebook dropped longer ones rather than cut them)",
    "sample_packing": "whether several short examples share one sequence (off, as in the notebook)",
    "adapter": "lora, or qlora on a 4-bit base: train small low-rank matrices, not the weights",
    "lora_r": "the rank r of each low-rank update",
    "lora_alpha": "the update is scaled by lora_alpha / lora_r",
    "lora_dropout": "dropout on the adapters' input, a little regularisation",
    "lora_target_modules": "the layers that get adapters",
    "lora_target_linear": "true: every linear layer gets an adapter (peft's 'all-linear')",
    "lora_modules_to_save": "modules trained in full next to the adapters (here the embedding table)",
    "micro_batch_size": "examples per forward pass on each GPU",
    "gradient_accumulation_steps": "forward passes per optimizer step: the batch is micro_batch_size × this",
    "max_steps": "optimizer steps to train for (Mistral's API calls them training_steps)",
    "learning_rate": "the peak learning rate",
    "lr_scheduler": "how the rate falls after warm-up",
    "warmup_steps": "steps over which the rate climbs from 0 to its peak",
    "optimizer": "AdamW, as TRL uses",
    "bf16": "auto: bf16 where the GPU has it natively, as the notebook decides",
    "seed": "the same seed, so a rerun draws the same batches",
}


def export_mistral_jsonl(train: list[Example], validation: list[Example], directory: str | Path,
                         tokenizer=None, max_tokens: int | None = None) -> tuple[Path, Path]:
    """Write ``train.jsonl`` and ``validation.jsonl`` and hold both to Mistral's rules; raise listing every bad line."""
    directory = Path(directory)
    paths = (write_jsonl([e.record() for e in train], directory / "train.jsonl"),
             write_jsonl([e.record() for e in validation], directory / "validation.jsonl"))
    raise_for_problems([problem for path in paths
                        for problem in find_problems(path, max_tokens, tokenizer, **FILE_RULES["mistral"])[1]])
    return paths


def to_hf_dataset(train: list[Example], validation: list[Example]):
    """A ``datasets.DatasetDict`` with ``train`` and ``validation``: ``messages`` plus ``strategy``.

    >>> to_hf_dataset([Example.pair("q", "a", "dialogue")], [])["train"].column_names
    ['messages', 'strategy', 'source']
    """
    from datasets import Dataset, DatasetDict

    def table(examples: list[Example]) -> Dataset:
        return Dataset.from_dict({"messages": [e.messages for e in examples],
                                  "strategy": [e.strategy for e in examples],
                                  "source": [e.source for e in examples]})

    return DatasetDict({"train": table(train), "validation": table(validation)})


def axolotl_config(train_path: str | Path, validation_path: str | Path, base_model: str, settings: SFTSettings,
                   lora: LoraSettings, quantization: str | None = None,
                   output_dir: str = "outputs/persona-lora") -> dict:
    """An Axolotl config for the same data, settings and LoRA as the notebook's run (``axolotl train``)."""
    def dataset(path) -> dict:
        return {"path": str(path), "ds_type": "json", "split": "train", "type": "chat_template",
                "field_messages": "messages",
                "message_property_mappings": {"role": "role", "content": "content"},
                "roles_to_train": ["assistant"]}

    four_bit = quantization == "4bit"
    targets = ({"lora_target_linear": True} if lora.target_modules == "all-linear"
               else {"lora_target_modules": list(lora.target_modules)})
    return {
        "base_model": base_model,
        **({"load_in_4bit": True} if four_bit else {}),
        "chat_template": "tokenizer_default",
        "datasets": [dataset(train_path)],
        "test_datasets": [dataset(validation_path)],
        "val_set_size": 0,
        "output_dir": output_dir,
        "sequence_len": settings.max_length,
        "sample_packing": settings.packing,
        "adapter": "qlora" if four_bit else "lora",
        "lora_r": lora.r,
        "lora_alpha": lora.lora_alpha or 2 * lora.r,
        "lora_dropout": lora.lora_dropout,
        **targets,
        **({"lora_modules_to_save": ["embed_tokens"]} if lora.train_embeddings else {}),
        "micro_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation_steps,
        "max_steps": settings.max_steps,
        "learning_rate": settings.learning_rate,
        "lr_scheduler": settings.lr_scheduler_type,
        "warmup_steps": settings.warmup_steps,
        "optimizer": "adamw_torch",
        "bf16": "auto",
        "seed": settings.seed,
    }


def commented_yaml(config: dict) -> str:
    """``config`` as YAML, each top-level key under a comment from ``AXOLOTL_KEYS``.

    >>> print(commented_yaml({"max_steps": 120}), end="")
    # optimizer steps to train for (Mistral's API calls them training_steps)
    max_steps: 120
    """
    import yaml

    return "".join(f"# {AXOLOTL_KEYS[key]}\n" + yaml.safe_dump({key: value}, sort_keys=False)
                   for key, value in config.items())


def write_axolotl_config(path: str | Path, config: dict) -> Path:
    """Write ``config`` as commented YAML, with a header saying how to run it."""
    header = f"# Axolotl config written by labkit lesson 06; run: axolotl train {Path(path).name}\n\n"
    return atomic_write_text(path, header + commented_yaml(config))
