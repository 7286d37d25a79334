"""Chat with a GGUF file through llama-cpp-python, and measure how often it answers as PyTorch does.

The chat template travels inside the file (``tokenizer.chat_template``, written by the converter
from the tokenizer's template); llama-cpp-python renders it with Jinja2, so llama.cpp sees the
prompt that ``tokenizer.apply_chat_template`` makes, and stops at the template's end-of-turn token.
Both sides decode greedily, so their answers can be compared string for string.

>>> llm = load_gguf("build/deploy/tiny-f16.gguf")  # doctest: +SKIP
>>> GGUFChat(llm).send("Where does Alma Ashby live?")  # doctest: +SKIP
'Alma Ashby lives in Corvale.'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from labkit.core.chat import Conversation


def load_gguf(path: str | os.PathLike, n_threads: int | None = None):
    """A ``llama_cpp.Llama`` for a GGUF file, with the context length the model was trained for."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ImportError("llama-cpp-python is not installed: run `make deploy-install` (it builds llama.cpp "
                          "from source once: 8 CPU-minutes)") from None
    if not Path(path).exists():
        raise FileNotFoundError(f"no GGUF file at {path}: export one with labkit.methods.gguf_export.export_gguf")
    # n_ctx=0: the context length stored in the file; seed only matters if sampling is switched on.
    return Llama(model_path=str(path), n_ctx=0, n_threads=n_threads or os.cpu_count(), seed=0, verbose=False)


def gguf_reply(llm, messages: list[dict], max_new_tokens: int = 32) -> str:
    """The model's greedy next assistant turn (temperature 0, no repetition penalty), stripped."""
    completion = llm.create_chat_completion(messages=messages, temperature=0.0, repeat_penalty=1.0,
                                            max_tokens=max_new_tokens)
    return completion["choices"][0]["message"]["content"].strip()


def prompt_token_ids(llm, tokenizer, messages: list[dict]) -> tuple[list[int], list[int]]:
    """The generation prompt for ``messages`` as token ids, tokenized by llama.cpp and by the Hugging
    Face tokenizer: equal lists mean the vocabulary, merges and special tokens came through intact."""
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return llm.tokenize(text.encode("utf-8"), add_bos=False, special=True), list(ids)


def agreement(replies: list[str], reference: list[str]) -> float:
    """Share of replies identical to the reference replies, in order.

    >>> agreement(["a", "b", "c", "d"], ["a", "b", "x", "d"])
    0.75
    """
    if len(replies) != len(reference):
        raise ValueError(f"{len(replies)} replies against {len(reference)} reference replies: compare the same questions")
    return sum(a == b for a, b in zip(replies, reference)) / max(1, len(reference))


@dataclass(frozen=True)
class Comparison:
    """A GGUF file's greedy answers next to the PyTorch model's, on the same conversations."""

    agreement: float  # share of identical answers
    gguf_replies: list[str]
    pytorch_replies: list[str]
    bytes: int  # the file's size

    def differences(self) -> list[tuple[int, str, str]]:
        """(index, GGUF reply, PyTorch reply) wherever the two differ."""
        return [(i, a, b) for i, (a, b) in enumerate(zip(self.gguf_replies, self.pytorch_replies)) if a != b]


def compare_with_pytorch(gguf_path: str | os.PathLike, pytorch_replies: list[str],
                         conversations: list[list[dict]], max_new_tokens: int = 32) -> Comparison:
    """Answer ``conversations`` with the GGUF file and compare with the PyTorch model's replies to them
    (``labkit.core.evaluate.generate_replies`` with the same ``max_new_tokens``)."""
    llm = load_gguf(gguf_path)
    try:
        replies = [gguf_reply(llm, messages, max_new_tokens) for messages in conversations]
    finally:
        llm.close()  # freed now: a Llama left to interpreter exit raises in its __del__
    return Comparison(agreement(replies, pytorch_replies), replies, list(pytorch_replies),
                      Path(gguf_path).stat().st_size)


class GGUFChat(Conversation):
    """One conversation with a GGUF model, like :class:`labkit.core.chat.Chat`: ``send`` a user turn,
    get the reply (greedy); the history grows, and ``chat_loop`` and the chat box accept it."""

    def __init__(self, llm, system_prompt: str | None = None, max_new_tokens: int = 48):
        super().__init__(system_prompt, max_new_tokens)
        self.llm = llm

    def reply_to(self, messages: list[dict]) -> str:
        return gguf_reply(self.llm, messages, self.max_new_tokens)
