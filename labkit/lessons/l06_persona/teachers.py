"""Teachers: who rewrites narration and writes question/answer pairs for the persona dataset.

A teacher does the two jobs of the ``Teacher`` protocol (``prompts.py``). ``RuleBasedTeacher``
does them offline with rules and templates. The chat teachers ask a language model, with the
prompts in ``prompts.py``:

- ``OpenAICompatibleTeacher``: any ``/v1/chat/completions`` server (vLLM, llama.cpp, Ollama,
  ``transformers serve``), through :class:`labkit.core.chat_client.ChatClient`;
- ``MistralTeacher``: Mistral's API, the same client pointed at ``api.mistral.ai``;
- ``LocalTransformersTeacher``: a model already loaded in this process.

Every chat call is cached on disk (:class:`labkit.core.chat_client.ResponseCache`), so a rerun
makes zero calls. HTTP errors worth another try are retried by the client. API keys are read from
the environment at call time only; they are never stored on the object, printed, cached or written.

>>> from labkit.lessons.l06_persona.corpus import NELL
>>> RuleBasedTeacher().rewrite_first_person("Nell smiled.", NELL)
'I smiled.'
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from labkit.core.chat_client import ChatClient, ResponseCache
from labkit.core.models import load_model, load_tokenizer
from labkit.lessons.l06_persona.corpus import Character
from labkit.lessons.l06_persona.mistral import MISTRAL_API_URL, MISTRAL_KEY_ENV
from labkit.lessons.l06_persona.prompts import (
    Teacher,
    parse_question_answers,
    question_answer_messages,
    rewrite_messages,
)
from labkit.lessons.l06_persona.rewrite import to_first_person
from labkit.lessons.l06_persona.synth import template_question_answers
from labkit.paths import CACHE_DIR

DEFAULT_CACHE_DIR = CACHE_DIR / "teachers"
DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"  # `transformers serve` on this machine


class RuleBasedTeacher:
    """The offline teacher: ``rewrite.to_first_person`` and ``synth.template_question_answers``."""

    name = "rules"
    model = "rules-v1"

    def rewrite_first_person(self, passage: str, character: Character) -> str:
        return to_first_person(passage, character)

    def question_answers(self, passage: str, character: Character, n: int = 3) -> list[tuple[str, str]]:
        return template_question_answers(passage, character)[:n]

    def __repr__(self) -> str:
        return "RuleBasedTeacher()"


class ChatTeacher(ABC):
    """Shared by the model-backed teachers: the prompts, the cache and the call counts.

    Subclasses implement ``_complete(messages) -> str`` for one uncached request, and ``calls``.
    """

    name = "chat"

    def __init__(self, model: str, cache_dir: str | Path | None = DEFAULT_CACHE_DIR,
                 temperature: float = 0.0, max_tokens: int = 512):
        self.model = model
        self.cache = ResponseCache(cache_dir) if cache_dir is not None else None
        self.settings = {"temperature": temperature, "max_tokens": max_tokens}
        self.cache_hits = 0

    @property
    @abstractmethod
    def calls(self) -> int:
        """Requests actually sent to the model, retries included."""

    @abstractmethod
    def _complete(self, messages: list[dict]) -> str:
        """One uncached request to the model."""

    def chat(self, messages: list[dict]) -> str:
        """One chat completion, from the cache if this exact prompt was asked before."""
        key = ResponseCache.key(self.name, self.model, messages, self.settings)
        if self.cache is not None and (cached := self.cache.get(key)) is not None:
            self.cache_hits += 1
            return cached
        reply = self._complete(messages)
        if self.cache is not None:
            self.cache.put(key, {"client": self.name, "model": self.model, "settings": self.settings,
                                 "messages": messages, "response": reply})
        return reply

    def rewrite_first_person(self, passage: str, character: Character) -> str:
        return self.chat(rewrite_messages(passage, character)).strip()

    def question_answers(self, passage: str, character: Character, n: int = 3) -> list[tuple[str, str]]:
        return parse_question_answers(self.chat(question_answer_messages(passage, character, n)))[:n]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"


class OpenAICompatibleTeacher(ChatTeacher):
    """Any server with ``POST {base_url}/chat/completions`` in the OpenAI format.

    ``base_url`` ends in ``/v1``; the key, if the server needs one, is read from ``api_key_env``.

    >>> OpenAICompatibleTeacher("http://127.0.0.1:11434/v1", "llama3.2")  # Ollama
    OpenAICompatibleTeacher(model='llama3.2', base_url='http://127.0.0.1:11434/v1')
    """

    name = "openai-compatible"

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", timeout: float = 120.0,
                 max_retries: int = 5, backoff: float = 1.0, **kwargs):
        super().__init__(model, **kwargs)
        self.client = ChatClient(base_url, model, api_key_env, timeout, max_retries, backoff)

    @property
    def calls(self) -> int:
        return self.client.requests

    def _complete(self, messages: list[dict]) -> str:
        return self.client.complete(messages, **self.settings)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self.client.http.base_url!r})"


class MistralTeacher(OpenAICompatibleTeacher):
    """Mistral's API: its chat endpoint speaks the OpenAI format, with the key in ``MISTRAL_API_KEY``.

    >>> MistralTeacher("mistral-large-latest")  # needs MISTRAL_API_KEY only when it is called
    MistralTeacher(model='mistral-large-latest')
    """

    name = "mistral"

    def __init__(self, model: str = "mistral-large-latest", api_key_env: str = MISTRAL_KEY_ENV,
                 base_url: str = MISTRAL_API_URL, **kwargs):
        super().__init__(base_url, model, api_key_env, **kwargs)

    def _complete(self, messages: list[dict]) -> str:
        self.client.http.require_key()  # say what to set, rather than send a request bound to fail
        return super()._complete(messages)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"


class LocalTransformersTeacher(ChatTeacher):
    """A chat model already in memory (greedy decoding through its chat template).

    >>> teacher = LocalTransformersTeacher(model, tokenizer)  # doctest: +SKIP
    """

    name = "local-transformers"

    def __init__(self, model, tokenizer, **kwargs):
        super().__init__(str(getattr(model, "name_or_path", "") or type(model).__name__), **kwargs)
        self.hf_model, self.tokenizer = model, tokenizer
        self.generations = 0

    @property
    def calls(self) -> int:
        return self.generations

    def _complete(self, messages: list[dict]) -> str:
        import torch

        self.generations += 1
        inputs = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                    return_tensors="pt", return_dict=True)
        with torch.no_grad():
            output = self.hf_model.generate(**inputs, max_new_tokens=self.settings["max_tokens"],
                                            do_sample=False, pad_token_id=self.tokenizer.pad_token_id)
        return self.tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def make_teacher(kind: str = "rules", model: str = "", base_url: str = DEFAULT_BASE_URL,
                 profile: str = "tiny", **kwargs) -> Teacher:
    """A teacher from the notebook's parameters: ``kind`` is rules, openai, mistral or local.

    ``model`` names the model for openai and mistral; local loads ``profile``'s model here.

    >>> make_teacher("rules").name
    'rules'
    """
    if kind == "rules":
        return RuleBasedTeacher()
    if kind == "openai":
        if not model:
            raise ValueError("teacher 'openai' needs teacher_model: the name the server serves the model under "
                             "(its /v1/models lists them)")
        return OpenAICompatibleTeacher(base_url, model, **kwargs)
    if kind == "mistral":
        return MistralTeacher(model or "mistral-large-latest", **kwargs)
    if kind == "local":
        return LocalTransformersTeacher(load_model(profile), load_tokenizer(profile), **kwargs)
    raise ValueError(f"unknown teacher {kind!r}; choose from local, mistral, openai, rules")
