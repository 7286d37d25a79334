"""Exports of the persona dataset: Mistral JSONL files, a Hugging Face dataset, an Axolotl config.

All of them take one ``PersonaHyperparameters`` (``hyperparameters.py``), so the managed run
(``mistral.run_mistral_job``), the Axolotl run and the notebook's LoRA run use the same data and
the same numbers.

>>> cfg = axolotl_config("train.jsonl", "validation.jsonl", "data/tiny", PersonaHyperparameters())
>>> cfg["datasets"][0]["path"], cfg["learning_rate"], cfg["max_steps"]
('train.jsonl', 0.005, 120)
"""

from __future__ import annotations

from pathlib import Path

from labkit.core.data.validate import find_problems, raise_for_problems
from labkit.core.files import atomic_write_text, write_jsonl
from labkit.lessons.l06_persona.dataset import Example
from labkit.lessons.l06_persona.hyperparameters import PersonaHyperparameters
from labkit.lessons.l06_persona.mistral import MISTRAL_RULES


def export_mistral_jsonl(train: list[Example], validation: list[Example], directory: str | Path,
                         tokenizer=None, max_tokens: int | None = None) -> tuple[Path, Path]:
    """Write ``train.jsonl`` and ``validation.jsonl`` and hold both to Mistral's rules; raise listing every bad line."""
    directory = Path(directory)
    paths = (write_jsonl([e.record() for e in train], directory / "train.jsonl"),
             write_jsonl([e.record() for e in validation], directory / "validation.jsonl"))
    raise_for_problems([problem for path in paths
                        for problem in find_problems(path, max_tokens, tokenizer, **MISTRAL_RULES)[1]])
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


def axolotl_config(train_path: str | Path, validation_path: str | Path, base_model: str,
                   hp: PersonaHyperparameters, output_dir: str = "outputs/persona-lora") -> dict:
    """An Axolotl LoRA config for the same data and hyperparameters (``axolotl train config.yaml``)."""
    def dataset(path) -> dict:
        return {"path": str(path), "ds_type": "json", "split": "train", "type": "chat_template",
                "field_messages": "messages",
                "message_property_mappings": {"role": "role", "content": "content"},
                "roles_to_train": ["assistant"]}

    return {
        "base_model": base_model,
        "chat_template": "tokenizer_default",  # the model's own template, as in the notebook
        "datasets": [dataset(train_path)],
        "test_datasets": [dataset(validation_path)],
        "val_set_size": 0,  # the validation file is given, not carved out
        "output_dir": output_dir,
        "sequence_len": hp.sequence_len,
        "sample_packing": False,
        "adapter": "lora",
        "lora_r": hp.lora_r,
        "lora_alpha": hp.lora_alpha,
        "lora_dropout": hp.lora_dropout,
        "lora_target_modules": list(hp.target_modules),
        "lora_modules_to_save": list(hp.modules_to_save),
        "micro_batch_size": hp.micro_batch_size,
        "gradient_accumulation_steps": hp.gradient_accumulation_steps,
        "max_steps": hp.max_steps,
        "learning_rate": hp.learning_rate,
        "lr_scheduler": hp.lr_scheduler,
        "warmup_ratio": hp.warmup_ratio,
        "optimizer": "adamw_torch",
        "seed": hp.seed,
    }


def write_axolotl_config(path: str | Path, train_path: str | Path, validation_path: str | Path,
                         base_model: str, hp: PersonaHyperparameters, **kwargs) -> Path:
    """Write ``axolotl_config`` as YAML, with a header saying how to run it."""
    import yaml

    header = f"# Axolotl LoRA config written by labkit.lessons.l06_persona.export; run: axolotl train {Path(path).name}\n"
    config = axolotl_config(train_path, validation_path, base_model, hp, **kwargs)
    return atomic_write_text(path, header + yaml.safe_dump(config, sort_keys=False))
