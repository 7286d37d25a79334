"""A client for any OpenAI-compatible chat server, and a disk cache for its replies.

``ChatClient`` posts to ``{base_url}/chat/completions``: vLLM, llama.cpp, Ollama,
``transformers serve`` and Mistral's API all answer there. Retries and error messages come from
:class:`labkit.core.http_client.HttpClient`. ``ResponseCache`` keeps each reply on disk under a
hash of what shaped it (client, model, messages, sampling settings), so a rerun sends nothing.

>>> ChatClient("http://127.0.0.1:8000/v1", "tiny")  # `transformers serve` on this machine
ChatClient(model='tiny', base_url='http://127.0.0.1:8000/v1')
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from labkit.core.files import atomic_write_json
from labkit.core.http_client import ApiError, HttpClient


class ChatClient:
    """One model on an OpenAI-compatible server; ``complete(messages)`` returns the reply's text.

    ``base_url`` ends in ``/v1``; the key, if the server needs one, is read from ``api_key_env``.
    """

    def __init__(self, base_url: str, model: str, api_key_env: str | None = "OPENAI_API_KEY",
                 timeout: float = 120.0, max_retries: int = 5, backoff: float = 1.0):
        self.model = model
        self.http = HttpClient(base_url, api_key_env, timeout, max_retries, backoff)

    @property
    def requests(self) -> int:
        """Requests sent to the server so far, retries included."""
        return self.http.requests

    def complete(self, messages: list[dict], **settings) -> str:
        """The assistant's reply to ``messages``; ``settings`` are sampling fields (temperature, max_tokens…)."""
        reply = self.http.request("POST", "chat/completions",
                                  json={"model": self.model, "messages": messages, **settings})
        try:
            return reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ApiError(f"{self.http.base_url}/chat/completions sent no choices[0].message.content: "
                           f"{json.dumps(reply)[:300]}; is it an OpenAI-compatible server?") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self.http.base_url!r})"


class ResponseCache:
    """Replies on disk, one JSON file per request, keyed by a hash that holds no secret.

    >>> len(ResponseCache.key("mistral", "mistral-large-latest", [{"role": "user", "content": "hi"}], {}))
    64
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    @staticmethod
    def key(client: str, model: str, messages: list[dict], settings: dict) -> str:
        """The hash of everything that shapes a reply."""
        payload = {"client": client, "model": model, "messages": messages, "settings": settings}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        """The cached reply, or None if this request was never answered."""
        path = self._path(key)
        return json.loads(path.read_text(encoding="utf-8"))["response"] if path.exists() else None

    def put(self, key: str, record: dict) -> None:
        """Store ``record`` (which holds the reply under ``"response"``); a killed run leaves no half file."""
        atomic_write_json(self._path(key), record)
