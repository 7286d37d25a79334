"""The YAML config of ``labkit train``: the run's own fields beside a trainer's settings, checked field by field.

>>> from labkit.paths import REPO_ROOT
>>> run, settings = load_config(REPO_ROOT / "configs/train/sft_tiny.yaml", ["max_steps=50"])
>>> settings.max_steps, run.output_dir
(50, 'build/runs/sft-tiny')

One flat YAML mapping holds :class:`TrainConfig` (what to train, on which data, where to save) and the
fields of the trainer's settings dataclass: ``SFTSettings``, ``RewardSettings`` or ``DPOSettings``,
the ones the notebooks use. Mistakes are reported with the file, the line and the field.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import re
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path

# trainer name -> (module, settings dataclass, training function)
TRAINERS = {
    "sft": ("labkit.methods.sft", "SFTSettings", "train_sft"),
    "reward": ("labkit.methods.reward", "RewardSettings", "train_reward_model"),
    "dpo": ("labkit.methods.dpo", "DPOSettings", "train_dpo"),
}
# Settings fields the run itself decides: where to write, and no notebook plot in a terminal.
RUN_OWNED_SETTINGS = ("output_dir", "live_plot")


class ConfigError(ValueError):
    """A training config that cannot be used; the message names the file, line and field."""


@dataclass
class TrainConfig:
    """What to train, on which data, and where the results go. The trainer's settings sit beside these."""

    trainer: str = field(default="sft", metadata={"help": "which training to run: sft, reward or dpo"})
    model: str = field(default="tiny", metadata={
        "help": "a profile name (tiny, smol, ...) or a model folder; reward and dpo start from an SFT model"})
    dataset: str = field(default="instructions", metadata={
        "help": "'instructions' (the shipped instruction set, train split), 'preferences' (the shipped "
                "preference pairs, train split), or a JSONL file"})
    validation: str | None = field(default=None, metadata={
        "help": "'instructions' or 'preferences' (their held-out split), a JSONL file, or null for none"})
    limit: int | None = field(default=None, metadata={"help": "train on the first N examples only (quick runs)"})
    validation_limit: int | None = field(default=None, metadata={"help": "evaluate on the first N examples only"})
    output_dir: str = field(default="build/runs/train", metadata={
        "help": "checkpoints (checkpoint-N/), the final model and train_summary.json go here"})
    lora_r: int | None = field(default=None, metadata={
        "help": "sft only: train a LoRA adapter of this rank on every linear layer instead of all weights "
                "(with a 4-bit profile such as mistral-7b this is QLoRA); null trains all weights"})
    lora_alpha: int | None = field(default=None, metadata={"help": "LoRA scale numerator; null means 2 × lora_r"})
    resume: str = field(default="auto", metadata={
        "help": "'auto': continue from the last complete checkpoint in output_dir if there is one; "
                "'never': start afresh; or a checkpoint folder"})


# ---------------------------------------------------------------------------------------------
# Reading a config: YAML → (TrainConfig, settings), with errors that point at the line


def settings_class(trainer: str):
    """The settings dataclass of a trainer: ``settings_class("sft")`` is ``labkit.methods.sft.SFTSettings``."""
    if trainer not in TRAINERS:
        raise ConfigError(f"trainer: {trainer!r} is not one of {', '.join(TRAINERS)}")
    module, name, _ = TRAINERS[trainer]
    return getattr(importlib.import_module(module), name)


def _key_lines(text: str) -> dict[str, int]:
    """Line number of each top-level key in a YAML mapping, for error messages."""
    import yaml

    node = yaml.compose(text)
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {key.value: key.start_mark.line + 1 for key, _ in node.value}


def _coerce(value, annotation, where: str):
    """``value`` as the field's type; YAML reads ``1e-3`` as a string, so numbers in strings are accepted."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if annotation in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        if annotation is int:
            if not number.is_integer():
                raise ConfigError(f"{where}: expected a whole number, got {value!r}")
            return int(number)
        return number
    if annotation is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: expected a single value, got {value!r}")
        return str(value)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return origin(value)
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return value
    return value


def _unknown_key_error(key: str, where: str, known: list[str], trainer: str) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"{where}: unknown field {key!r} for trainer {trainer!r}{hint} "
                       f"(see them all with: labkit train --fields {trainer})")


def build_config(values: dict, source: str = "config", lines: dict[str, int] | None = None):
    """Split a flat mapping into a ``TrainConfig`` and the trainer's settings, checking every field.

    >>> run, settings = build_config({"trainer": "sft", "max_steps": 5})
    >>> settings.max_steps
    5
    """
    lines = lines or {}

    def where(key: str) -> str:
        return f"{source}:{lines[key]}: {key}" if key in lines else f"{source}: {key}"

    run_types, run_fields = typing.get_type_hints(TrainConfig), {f.name for f in fields(TrainConfig)}
    trainer = str(values.get("trainer", TrainConfig.trainer))
    try:
        settings_cls = settings_class(trainer)
    except ConfigError as error:
        raise ConfigError(f"{where('trainer')}: {str(error).split(': ', 1)[1]}") from None
    settings_types = typing.get_type_hints(settings_cls)
    settings_fields = [f.name for f in fields(settings_cls) if f.name not in RUN_OWNED_SETTINGS]
    run_values, settings_values = {}, {}
    for key, value in values.items():
        # A name both define (DPO's lora_r) belongs to the trainer's settings.
        if key in settings_fields:
            settings_values[key] = _coerce(value, settings_types[key], where(key))
        elif key in run_fields:
            run_values[key] = _coerce(value, run_types[key], where(key))
        else:
            raise _unknown_key_error(key, where(key), sorted(run_fields | set(settings_fields)), trainer)
    run = TrainConfig(**run_values)
    if run.lora_r is not None and run.trainer != "sft":
        raise ConfigError(f"{where('lora_r')}: only the sft trainer takes lora_r here")
    if run.resume not in ("auto", "never") and not Path(run.resume).is_dir():
        raise ConfigError(f"{where('resume')}: 'auto', 'never' or an existing checkpoint folder, not {run.resume!r}")
    settings = settings_cls(**settings_values)
    settings = replace(settings, output_dir=run.output_dir, live_plot=False)
    return run, settings


def _parse_override(text: str) -> tuple[str, object]:
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {text!r}: write it as FIELD=VALUE, e.g. max_steps=50")
    return key.strip(), yaml.safe_load(raw) if raw.strip() else None


def load_config(path: str | os.PathLike, overrides: list[str] = ()):
    """Read a YAML training config (plus ``FIELD=VALUE`` overrides); returns (TrainConfig, settings)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file (examples are in configs/train/)")
    text = path.read_text(encoding="utf-8")
    try:
        values = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: not valid YAML: {getattr(error, 'problem', error)}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of field: value, got {type(values).__name__}")
    lines = _key_lines(text)
    for text_override in overrides:
        key, value = _parse_override(text_override)
        values[key] = value
        lines.pop(key, None)
    return build_config(values, str(path), lines)


def _comment_help(cls) -> dict[str, str]:
    """Help for settings fields from their source comments (``name: type = default  # why``)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    found = re.findall(r"^\s+(\w+):[^#\n]*#\s*(.+)$", source, flags=re.MULTILINE)
    return dict(found)


def describe_fields(trainer: str) -> str:
    """Every field a config for ``trainer`` may set, with its default and help, as text."""
    cls = settings_class(trainer)
    rows = [("# run", "", "")]
    for f in fields(TrainConfig):
        if f.name not in {g.name for g in fields(cls)} - set(RUN_OWNED_SETTINGS):
            default = trainer if f.name == "trainer" else f.default
            rows.append((f.name, repr(default), f.metadata.get("help", "")))
    comments = _comment_help(cls)
    rows.append((f"# {cls.__name__} ({TRAINERS[trainer][0]})", "", ""))
    for f in fields(cls):
        if f.name in RUN_OWNED_SETTINGS:
            continue
        default = f.default if f.default is not MISSING else f.default_factory()
        rows.append((f.name, repr(default), f.metadata.get("help", comments.get(f.name, ""))))
    width = max(len(name) for name, _, _ in rows)
    default_width = min(18, max(len(default) for _, default, _ in rows))
    return "\n".join(f"{name:<{width}}  {default:<{default_width}}  {help_text}".rstrip()
                     for name, default, help_text in rows)
