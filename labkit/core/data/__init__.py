"""Datasets: formats and converters, validation, splits, and the project's own instruction set."""

from labkit.core.data.formats import (
    alpaca_to_messages, detect_format, messages_to_alpaca, messages_to_prompt_completion,
    prompt_completion_to_messages, to_messages,
)
from labkit.core.data.instructions import load_instruction_set, make_instruction_set
from labkit.core.data.split import train_validation_split
from labkit.core.data.validate import DatasetValidationError, Problem, validate_jsonl

__all__ = [
    "alpaca_to_messages", "detect_format", "messages_to_alpaca", "messages_to_prompt_completion",
    "prompt_completion_to_messages", "to_messages", "load_instruction_set", "make_instruction_set",
    "train_validation_split", "DatasetValidationError", "Problem", "validate_jsonl",
]
