"""Teachers: who rewrites narration and writes question/answer pairs for the persona dataset.

A teacher does two jobs (the ``Teacher`` protocol): ``rewrite_first_person`` and
``question_answers``. ``RuleBasedTeacher`` does them offline with rules and templates. The chat
teachers ask a language model, with the careful prompts below, through

- ``OpenAICompatibleTeacher``: any ``/v1/chat/completions`` server (vLLM, llama.cpp, Ollama,
  ``transformers serve``, Mistral's own API);
- ``MistralTeacher``: the ``mistralai`` client (optional: ``pip install mistralai``);
- ``LocalTransformersTeacher``: a model already loaded in this process.

Every chat call is cached on disk, keyed by (teacher, model, prompt, sampling settings), so a
rerun makes zero calls. Errors, HTTP 429 and 5xx are retried with exponential backoff.
API keys are read from the environment at call time only; they are never stored on the object,
printed, logged, cached or written: the cache key and the cache files hold no key.

>>> RuleBasedTeacher().rewrite_first_person("Nell smiled.", NELL)
'I smiled.'
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable, Protocol

from labkit.paths import CACHE_DIR
from labkit.lessons.l06_persona.corpus import NELL, Character

DEFAULT_CACHE_DIR = CACHE_DIR / "teachers"

# The prompts follow the method: rewrite faithfully, add nothing, answer only from the passage.
REWRITE_SYSTEM = (
    "You are a careful literary assistant. You change the narrative voice of passages from "
    "third person to first person. You never add events, feelings, details or opinions that "
    "are not in the passage, and you never leave anything out."
)
REWRITE_USER = """Rewrite the passage below from {name}'s first-person point of view, as if {name} were telling it.
- Keep the same events, in the same order, and the same tense.
- Change only what the change of voice requires: {name} becomes "I", "{subject}" becomes "I", "{object}" becomes "me", "{determiner}" becomes "my".
- Other people stay in the third person.
- Do not add information that is not in the passage.
Reply with the rewritten passage only.

Passage:
{passage}"""
QA_SYSTEM = (
    "You write training data for a character model. You only use information that is stated in "
    "the passage you are given, and you always answer as the character, in the first person."
)
QA_USER = """Here is a passage from a story about {name}.
Write {n} questions that someone might ask {name} about this passage, and {name}'s answer to each.
- Answer in the first person, in {name}'s voice: {voice}.
- Use only information stated in the passage. Do not invent names, places, events or feelings.
- Keep each answer to one to three sentences.
Reply with JSON only: a list of objects with the keys "question" and "answer".

Passage:
{passage}"""


class Teacher(Protocol):
    """What the persona strategies need from a teacher."""

    name: str
    model: str

    def rewrite_first_person(self, passage: str, character: Character) -> str: ...

    def question_answers(self, passage: str, character: Character, n: int = 3) -> list[tuple[str, str]]: ...


class TeacherError(RuntimeError):
    """A teacher call failed for good (bad request, bad key, or retries used up)."""


class RetryableError(TeacherError):
    """A call that may succeed if tried again: a rate limit, a server error, a lost connection."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RuleBasedTeacher:
    """The offline teacher: ``rewrite.to_first_person`` and ``synth.template_question_answers``."""

    name = "rules"
    model = "rules-v1"

    def rewrite_first_person(self, passage: str, character: Character) -> str:
        from labkit.lessons.l06_persona.rewrite import to_first_person

        return to_first_person(passage, character)

    def question_answers(self, passage: str, character: Character, n: int = 3) -> list[tuple[str, str]]:
        from labkit.lessons.l06_persona.synth import template_question_answers

        return template_question_answers(passage, character)[:n]

    def __repr__(self) -> str:
        return "RuleBasedTeacher()"


class TeacherCache:
    """Responses on disk, one JSON file per prompt, keyed by a hash that holds no secret.

    >>> len(TeacherCache.key("mistral", "mistral-large-latest", [{"role": "user", "content": "hi"}], {}))
    64
    """

    def __init__(self, directory: str | Path = DEFAULT_CACHE_DIR):
        self.directory = Path(directory)

    @staticmethod
    def key(teacher: str, model: str, messages: list[dict], settings: dict) -> str:
        payload = {"teacher": teacher, "model": model, "messages": messages, "settings": settings}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        path = self._path(key)
        return json.loads(path.read_text())["response"] if path.exists() else None

    def put(self, key: str, record: dict) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # atomic: a killed run leaves no half file
        tmp.write_text(json.dumps(record, indent=1))
        tmp.replace(path)


def with_retries(call: Callable[[], str], max_retries: int = 5, backoff: float = 1.0,
                 max_backoff: float = 60.0, sleep: Callable[[float], None] = time.sleep) -> str:
    """Run ``call``; on a ``RetryableError`` wait backoff·2^attempt (or Retry-After) and try again.

    >>> with_retries(lambda: "ok")
    'ok'
    """
    for attempt in range(max_retries + 1):
        try:
            return call()
        except RetryableError as error:
            if attempt == max_retries:
                raise TeacherError(f"gave up after {max_retries + 1} attempts: {error}") from None
            # Jitter spreads out clients that were rate-limited together.
            delay = error.retry_after or backoff * 2**attempt * (1 + 0.1 * random.random())
            sleep(min(delay, max_backoff))
    raise AssertionError("unreachable")


def parse_question_answers(reply: str) -> list[tuple[str, str]]:
    """Pairs from a teacher's reply: a JSON list of {question, answer}, or "Q: … A: …" lines.

    >>> parse_question_answers('[{"question": "Why?", "answer": "Because."}]')
    [('Why?', 'Because.')]
    """
    match = re.search(r"\[.*\]", reply, flags=re.DOTALL)
    if match:
        try:
            items = json.loads(match.group(0))
            pairs = [(str(i.get("question", "")).strip(), str(i.get("answer", "")).strip())
                     for i in items if isinstance(i, dict)]
            return [(q, a) for q, a in pairs if q and a]
        except json.JSONDecodeError:
            pass
    found = re.findall(r"Q(?:uestion)?\s*\d*[:.]\s*(.+?)\s*\n\s*A(?:nswer)?\s*\d*[:.]\s*(.+?)(?=\n\s*Q|\Z)",
                       reply, flags=re.DOTALL)
    return [(q.strip(), a.strip()) for q, a in found if q.strip() and a.strip()]


class ChatTeacher(ABC):
    """Shared by the model-backed teachers: prompts, cache, retries and call counts.

    Subclasses implement ``_complete(messages) -> str`` for one uncached request.
    """

    name = "chat"

    def __init__(self, model: str, cache_dir: str | Path | None = DEFAULT_CACHE_DIR,
                 temperature: float = 0.0, max_tokens: int = 512, max_retries: int = 5,
                 backoff: float = 1.0):
        self.model = model
        self.cache = TeacherCache(cache_dir) if cache_dir is not None else None
        self.settings = {"temperature": temperature, "max_tokens": max_tokens}
        self.max_retries, self.backoff = max_retries, backoff
        self.calls = 0  # requests actually sent, retries included
        self.cache_hits = 0

    @abstractmethod
    def _complete(self, messages: list[dict]) -> str:
        """One uncached request to the teacher; raise RetryableError on errors worth retrying."""

    def _counted(self, messages: list[dict]) -> str:
        self.calls += 1
        return self._complete(messages)

    def chat(self, messages: list[dict]) -> str:
        """One chat completion, from the cache if this exact prompt was asked before."""
        key = TeacherCache.key(self.name, self.model, messages, self.settings)
        if self.cache is not None and (cached := self.cache.get(key)) is not None:
            self.cache_hits += 1
            return cached
        reply = with_retries(lambda: self._counted(messages), self.max_retries, self.backoff)
        if self.cache is not None:
            self.cache.put(key, {"teacher": self.name, "model": self.model, "settings": self.settings,
                                 "messages": messages, "response": reply})
        return reply

    def rewrite_first_person(self, passage: str, character: Character) -> str:
        p = character.pronouns
        user = REWRITE_USER.format(name=character.name, subject=p.subject, object=p.object,
                                   determiner=p.determiner, passage=passage)
        return self.chat([{"role": "system", "content": REWRITE_SYSTEM},
                          {"role": "user", "content": user}]).strip()

    def question_answers(self, passage: str, character: Character, n: int = 3) -> list[tuple[str, str]]:
        user = QA_USER.format(name=character.name, n=n, voice=character.voice or "as in the passage",
                              passage=passage)
        reply = self.chat([{"role": "system", "content": QA_SYSTEM}, {"role": "user", "content": user}])
        return parse_question_answers(reply)[:n]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"


def _raise_for_status(status: int, body: str, where: str, retry_after: str | None = None) -> None:
    if status == 429 or status >= 500:
        wait = float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None
        raise RetryableError(f"HTTP {status} from {where}", retry_after=wait)
    if status >= 400:
        hint = " (check the API key variable)" if status in (401, 403) else ""
        raise TeacherError(f"HTTP {status} from {where}{hint}: {body[:300]}")


class OpenAICompatibleTeacher(ChatTeacher):
    """Any server with ``POST {base_url}/chat/completions`` in the OpenAI format.

    ``base_url`` ends in ``/v1``; the key, if the server needs one, is read from ``api_key_env``.

    >>> OpenAICompatibleTeacher("http://127.0.0.1:11434/v1", "llama3.2")  # Ollama
    OpenAICompatibleTeacher(model='llama3.2', base_url='http://127.0.0.1:11434/v1')
    """

    name = "openai-compatible"

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY",
                 timeout: float = 120.0, **kwargs):
        super().__init__(model, **kwargs)
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env  # the variable's name, never its value
        self.timeout = timeout

    def _complete(self, messages: list[dict]) -> str:
        import httpx

        headers = {"Content-Type": "application/json"}
        if key := os.environ.get(self.api_key_env):
            headers["Authorization"] = f"Bearer {key}"
        url = f"{self.base_url}/chat/completions"
        try:
            response = httpx.post(url, headers=headers, timeout=self.timeout,
                                  json={"model": self.model, "messages": messages, **self.settings})
        except httpx.TransportError as error:  # refused, reset, timed out: worth another try
            raise RetryableError(f"{type(error).__name__} talking to {url}") from None
        _raise_for_status(response.status_code, response.text, url, response.headers.get("retry-after"))
        try:
            return response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise TeacherError(f"unexpected reply from {url}: {response.text[:300]}") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r})"


class MistralTeacher(ChatTeacher):
    """Mistral's API through the official ``mistralai`` client (installed separately).

    >>> MistralTeacher("mistral-large-latest")  # needs MISTRAL_API_KEY only when it is called
    MistralTeacher(model='mistral-large-latest')
    """

    name = "mistral"

    def __init__(self, model: str = "mistral-large-latest", api_key_env: str = "MISTRAL_API_KEY", **kwargs):
        super().__init__(model, **kwargs)
        self.api_key_env = api_key_env

    def _client(self):
        try:
            from mistralai.client import Mistral  # mistralai >= 2
        except ImportError:
            try:
                from mistralai import Mistral  # mistralai 1.x
            except ImportError:
                raise TeacherError("MistralTeacher needs the mistralai package: pip install mistralai") from None
        if not os.environ.get(self.api_key_env):
            raise TeacherError(f"set {self.api_key_env} in the environment to use MistralTeacher")
        # A callable, so the key is fetched per request and never kept on this object.
        return Mistral(api_key=lambda: os.environ.get(self.api_key_env))

    def _complete(self, messages: list[dict]) -> str:
        try:
            reply = self._client().chat.complete(model=self.model, messages=messages, **self.settings)
        except TeacherError:
            raise
        except Exception as error:  # the client's own errors carry the HTTP status
            status = getattr(error, "status_code", None)
            if status is None:
                raise RetryableError(f"{type(error).__name__} from the Mistral API") from None
            _raise_for_status(status, str(getattr(error, "body", ""))[:300], "the Mistral API")
            raise
        return reply.choices[0].message.content


class LocalTransformersTeacher(ChatTeacher):
    """A chat model already in memory (greedy decoding through its chat template).

    >>> teacher = LocalTransformersTeacher(model, tokenizer)  # doctest: +SKIP
    """

    name = "local-transformers"

    def __init__(self, model, tokenizer, **kwargs):
        super().__init__(str(getattr(model, "name_or_path", "") or type(model).__name__), **kwargs)
        self.hf_model, self.tokenizer = model, tokenizer

    def _complete(self, messages: list[dict]) -> str:
        import torch

        inputs = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                    return_tensors="pt", return_dict=True)
        with torch.no_grad():
            output = self.hf_model.generate(**inputs, max_new_tokens=self.settings["max_tokens"],
                                            do_sample=False, pad_token_id=self.tokenizer.pad_token_id)
        return self.tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"


def make_teacher(kind: str = "rules", **kwargs) -> Teacher:
    """A teacher by name, for the notebook's ``teacher`` parameter: rules, openai, mistral, local.

    >>> make_teacher("rules").name
    'rules'
    """
    kinds = {"rules": RuleBasedTeacher, "openai": OpenAICompatibleTeacher, "mistral": MistralTeacher,
             "local": LocalTransformersTeacher}
    if kind not in kinds:
        raise ValueError(f"unknown teacher {kind!r}; choose from {sorted(kinds)}")
    return kinds[kind](**kwargs)
