"""``labkit train CONFIG.yaml``: a lesson's SFT, reward-model or DPO training, run from a YAML file.

    labkit train configs/train/sft_tiny.yaml
    labkit train configs/train/sft_tiny.yaml max_steps=50 output_dir=build/runs/try
    labkit train --fields sft          # every field, its default and what it does
    accelerate launch --config_file configs/accelerate/ddp_cpu_2proc.yaml \\
        -m labkit.ui.train_cli configs/train/sft_tiny.yaml

One flat YAML mapping holds the run's own fields (:class:`TrainConfig`: what to train, on which
data, where to save) next to the trainer's settings: the same ``SFTSettings``, ``RewardSettings``
or ``DPOSettings`` dataclasses, and the same ``train_*`` functions, that the notebooks use.
A run killed part-way continues from its last complete checkpoint when started again.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import asdict
from pathlib import Path

from labkit.ui.train_config import (
    TRAINERS,
    ConfigError,
    TrainConfig,
    describe_fields,
    load_config,
)

SUMMARY_FILE = "train_summary.json"


# ---------------------------------------------------------------------------------------------
# Running


def last_complete_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The newest ``checkpoint-N`` folder whose trainer_state.json was fully written, or None.

    The Trainer writes trainer_state.json last; a run killed while saving leaves a folder without
    it (or with it cut short), which transformers' ``get_last_checkpoint`` would still pick.
    """
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    numbered = [(int(p.name.split("-")[1]), p) for p in folder.glob("checkpoint-*")
                if p.is_dir() and re.fullmatch(r"checkpoint-\d+", p.name)]
    for _, checkpoint in sorted(numbered, reverse=True):
        try:
            json.loads((checkpoint / "trainer_state.json").read_text())
        except (OSError, ValueError):
            continue
        return checkpoint
    return None


def _resume_from(run: TrainConfig) -> str | None:
    if run.resume == "never":
        return None
    if run.resume == "auto":
        checkpoint = last_complete_checkpoint(run.output_dir)
        return str(checkpoint) if checkpoint else None
    if not Path(run.resume, "trainer_state.json").is_file():
        raise ConfigError(f"resume: {run.resume!r} is not a checkpoint folder (no trainer_state.json in it)")
    return run.resume


def _prepare_distributed() -> None:
    """Make a multi-process launch on a machine without GPUs use DDP over gloo on the CPU.

    torchrun (and ``accelerate launch --multi_gpu``) set WORLD_SIZE but not ACCELERATE_USE_CPU; without
    it, transformers builds a non-distributed state and each process would train its own model.
    On a GPU machine each process is pinned to its own GPU before the model is loaded.
    """
    import torch

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    else:
        os.environ.setdefault("ACCELERATE_USE_CPU", "true")


def _data_profile(model: str) -> str:
    """The profile whose shipped data 'instructions' means: the model's own, or tiny for a folder."""
    from labkit.core.profiles import PROFILES

    return model if model in PROFILES else "tiny"


def _read_jsonl(path: Path) -> list[dict]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}:{number}: invalid JSON: {error.msg}") from None
    return records


def load_dataset_for(trainer: str, name: str, model: str, split: str, limit: int | None):
    """The dataset a config names: a shipped set by name (``split`` "train" or "heldout") or a JSONL file."""
    from datasets import Dataset

    if name == "instructions":
        from labkit.core.data.instructions import instruction_splits

        dataset = instruction_splits(_data_profile(model))["train" if split == "train" else "validation"]
    elif name == "preferences":
        from labkit.core.data.preferences import load_preference_set

        dataset = load_preference_set(split)
    else:
        path = Path(name)
        if not path.is_file():
            raise ConfigError(f"dataset {name!r}: not 'instructions', 'preferences' or an existing JSONL file")
        if trainer == "sft":
            from labkit.core.data import to_messages, validate_jsonl

            dataset = Dataset.from_list([to_messages(r) for r in validate_jsonl(path)])
        else:
            records = _read_jsonl(path)
            for number, record in enumerate(records, start=1):
                missing = [k for k in ("prompt", "chosen", "rejected") if not record.get(k)]
                if missing:
                    raise ConfigError(f"{path}:{number}: {', '.join(missing)}: missing or empty "
                                      f"(a {trainer} dataset needs prompt, chosen and rejected)")
            dataset = Dataset.from_list(records)
    needed = ["messages"] if trainer == "sft" else ["prompt", "chosen", "rejected"]
    missing = [c for c in needed if c not in dataset.column_names]
    if missing:
        raise ConfigError(f"dataset {name!r} has no {', '.join(missing)} column: trainer {trainer!r} "
                          f"needs {', '.join(needed)} ('instructions' suits sft, 'preferences' reward and dpo)")
    return dataset.select(range(min(limit, len(dataset)))) if limit else dataset


def _model_folder(model: str) -> str:
    from labkit.core.models import resolve_source

    try:
        return resolve_source(model)
    except FileNotFoundError as error:
        raise ConfigError(f"model: {error}. Reward and DPO start from an SFT model: train one first with "
                          "`labkit train configs/train/sft_tiny.yaml`") from None


def _lora_config(run: TrainConfig):
    if run.lora_r is None:
        return None
    from labkit.methods.lora import LoraSettings

    return LoraSettings(r=run.lora_r, lora_alpha=run.lora_alpha, target_modules="all-linear").config()


def _train(run: TrainConfig, settings, train_dataset, eval_dataset, resume_from):
    """Call the notebook's own training function for ``run.trainer``; returns its TrainResult."""
    from labkit.core.models import load_model, load_tokenizer
    from labkit.methods.sft import train_sft

    folder = _model_folder(run.model)
    tokenizer = load_tokenizer(folder)
    if run.trainer == "sft":
        return train_sft(load_model(run.model), tokenizer, train_dataset, eval_dataset, settings,
                         peft_config=_lora_config(run), resume_from_checkpoint=resume_from)
    if resume_from:
        print(f"note: the {run.trainer} trainer keeps no checkpoints; starting afresh", file=sys.stderr)
    if run.trainer == "reward":
        from labkit.methods.reward import train_reward_model

        return train_reward_model(folder, tokenizer, train_dataset, settings)
    from labkit.methods.dpo import train_dpo

    return train_dpo(load_model(folder), tokenizer, train_dataset, settings)


def _evaluate(run: TrainConfig, result, eval_dataset) -> dict:
    """Held-out numbers for the summary: validation loss (sft), pairwise or preference accuracy.

    Every process computes them on the whole validation set: the same answer on each, and sharded
    models (FSDP, ZeRO-3) need all processes in every forward pass. The loss is token-weighted over the
    assistant's tokens, so it does not depend on how the set is batched or split across processes
    (the Trainer's eval_loss averages per-batch means, which does).
    """
    import math

    if eval_dataset is None:
        return {}
    tokenizer = result.trainer.processing_class
    if run.trainer == "sft":
        from labkit.core.evaluate import perplexity

        val_perplexity = perplexity(result.model, tokenizer, eval_dataset)
        return {"val_loss": math.log(val_perplexity), "val_perplexity": val_perplexity}
    if run.trainer == "reward":
        from labkit.methods.reward import pairwise_accuracy

        return {"pairwise_accuracy": pairwise_accuracy(result.model, tokenizer, eval_dataset)}
    from labkit.methods.dpo import preference_accuracy

    accuracy, margin = preference_accuracy(result.model, tokenizer, eval_dataset, beta=result.trainer.args.beta)
    return {"preference_accuracy": accuracy, "mean_margin": margin}


def train_from_config(run: TrainConfig, settings) -> dict:
    """Train as configured, save the model to ``run.output_dir``, and return the run's summary."""
    from transformers import set_seed

    _prepare_distributed()
    set_seed(settings.seed)  # before any model is built: the reward head is freshly initialised
    resume_from = _resume_from(run)
    train_dataset = load_dataset_for(run.trainer, run.dataset, run.model, "train", run.limit)
    eval_dataset = (load_dataset_for(run.trainer, run.validation, run.model, "heldout", run.validation_limit)
                    if run.validation else None)
    result = _train(run, settings, train_dataset, eval_dataset, resume_from)
    trainer = result.trainer
    evaluation = _evaluate(run, result, eval_dataset)
    trainer.save_model(run.output_dir)  # weights (or a LoRA adapter) and tokenizer; main process only
    losses = result.losses("loss")
    summary = {
        "trainer": run.trainer, "model": run.model, "output_dir": run.output_dir,
        "world_size": trainer.accelerator.num_processes, "global_step": trainer.state.global_step,
        "resumed_from": resume_from, "seconds": round(result.seconds, 2),
        "tokens_per_second": round(result.tokens_per_second, 1) or None,  # None: the trainer does not count
        "final_train_loss": losses[-1] if losses else None, **evaluation,
        "train_losses": [[h["step"], h["loss"]] for h in result.history if "loss" in h],
        "config": asdict(run), "settings": asdict(settings),
    }
    if trainer.accelerator.is_main_process:
        Path(run.output_dir, SUMMARY_FILE).write_text(json.dumps(summary, indent=1))
    return summary


# ---------------------------------------------------------------------------------------------
# Command line (``labkit train`` and ``python -m labkit.ui.train_cli``)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="a YAML training config, e.g. configs/train/sft_tiny.yaml")
    parser.add_argument("overrides", nargs="*", metavar="FIELD=VALUE",
                        help="change a field of the config for this run, e.g. max_steps=50")
    parser.add_argument("--fields", metavar="TRAINER", choices=list(TRAINERS),
                        help="list every field a config for TRAINER (sft, reward, dpo) can set, and exit")


def run_command(args: argparse.Namespace) -> int:
    """``labkit train``: errors in the config are printed without a traceback."""
    from labkit.core.data.validate import DatasetValidationError
    from labkit.core.models import ProfileUnavailableError

    try:
        if args.fields:
            print(describe_fields(args.fields))
            return 0
        if not args.config:
            raise ConfigError("give a config file, e.g. labkit train configs/train/sft_tiny.yaml")
        run, settings = load_config(args.config, args.overrides)
        summary = train_from_config(run, settings)
    except (ConfigError, DatasetValidationError, ProfileUnavailableError) as error:
        print(f"labkit train: {error}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) == 0:
        shown = {k: v for k, v in summary.items() if k not in ("config", "settings", "train_losses")}
        print(json.dumps(shown, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labkit train", description=__doc__.split("\n\n")[0].replace("``", ""),
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Examples:\n" + __doc__.split("\n\n")[1])
    add_arguments(parser)
    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
