"""The three instruction formats learners meet, and converters between them.

- Alpaca: ``{"instruction", "input", "output"}``
- prompt/completion: ``{"prompt", "completion"}``
- chat: ``{"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}``

>>> alpaca_to_messages({"instruction": "Add 2 and 3.", "input": "", "output": "5"})
{'messages': [{'role': 'user', 'content': 'Add 2 and 3.'}, {'role': 'assistant', 'content': '5'}]}
"""

from __future__ import annotations

ROLES = ("system", "user", "assistant")
# Alpaca's instruction and input become one user turn, separated by a blank line: the way the
# Alpaca prompt shows them. Converting back splits at the first blank line.
INPUT_SEPARATOR = "\n\n"


def detect_format(record: dict) -> str:
    """Which of the three formats a record is in: "messages", "alpaca" or "prompt_completion"."""
    if "messages" in record:
        return "messages"
    if "instruction" in record or "output" in record:
        return "alpaca"
    if "prompt" in record or "completion" in record:
        return "prompt_completion"
    raise ValueError(f"unknown format: expected 'messages', 'instruction'/'output' or "
                     f"'prompt'/'completion' fields, got {sorted(record)}")


def _with_system(turns: list[dict], system: str | None) -> list[dict]:
    return ([{"role": "system", "content": system}] if system else []) + turns


def alpaca_to_messages(record: dict, system: str | None = None) -> dict:
    """Alpaca → chat messages (one user turn, one assistant turn)."""
    user = record["instruction"]
    if record.get("input"):
        user += INPUT_SEPARATOR + record["input"]
    turns = [{"role": "user", "content": user}, {"role": "assistant", "content": record["output"]}]
    return {"messages": _with_system(turns, system)}


def messages_to_alpaca(record: dict) -> dict:
    """Single-turn chat messages → Alpaca (the system prompt, if any, is dropped)."""
    user, assistant = _single_turn(record["messages"])
    instruction, _, input_text = user.partition(INPUT_SEPARATOR)
    return {"instruction": instruction, "input": input_text, "output": assistant}


def prompt_completion_to_messages(record: dict, system: str | None = None) -> dict:
    """prompt/completion → chat messages."""
    turns = [{"role": "user", "content": record["prompt"]},
             {"role": "assistant", "content": record["completion"]}]
    return {"messages": _with_system(turns, system)}


def messages_to_prompt_completion(record: dict, conversational: bool = False) -> dict:
    """Chat messages → prompt/completion.

    ``conversational=True`` gives TRL's conversational prompt-completion form: the prompt is the
    list of turns before the last, the completion the last assistant turn.
    """
    messages = record["messages"]
    if conversational:
        return {"prompt": messages[:-1], "completion": messages[-1:]}
    user, assistant = _single_turn(messages)
    return {"prompt": user, "completion": assistant}


def to_messages(record: dict, system: str | None = None) -> dict:
    """Any of the three formats → chat messages."""
    kind = detect_format(record)
    if kind == "messages":
        return {"messages": record["messages"]}
    if kind == "alpaca":
        return alpaca_to_messages(record, system)
    return prompt_completion_to_messages(record, system)


def _single_turn(messages: list[dict]) -> tuple[str, str]:
    turns = [m for m in messages if m["role"] != "system"]
    if len(turns) != 2 or turns[0]["role"] != "user" or turns[1]["role"] != "assistant":
        raise ValueError("only a single user → assistant exchange converts to this format; "
                         f"got roles {[m['role'] for m in messages]}")
    return turns[0]["content"], turns[1]["content"]
