"""JSON over HTTP to one API, with retries and errors that say what to do.

Every web API labkit talks to goes through :class:`HttpClient`: the OpenAI-compatible chat
endpoint (:mod:`labkit.core.chat_client`) and Mistral's fine-tuning API (lesson 06). Rate limits
(HTTP 429), server errors (5xx) and lost connections are retried with exponential backoff; any
other failure raises :class:`ApiError` at once, with a hint for the learner.

The API key is read from the environment variable named ``api_key_env`` for each request. It is
never kept on the object, printed, logged or written: only the variable's name is.

>>> with_retries(lambda: "ok")
'ok'
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable

import httpx


class ApiError(RuntimeError):
    """A request failed for good: a bad request, a refused key, or retries used up."""


class RetryableError(ApiError):
    """A request that may succeed if tried again: a rate limit, a server error, a lost connection."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def with_retries(call: Callable[[], object], max_retries: int = 5, backoff: float = 1.0,
                 max_backoff: float = 60.0, sleep: Callable[[float], None] = time.sleep):
    """Run ``call``; on a ``RetryableError`` wait backoff·2^attempt (or Retry-After) and try again.

    >>> attempts = iter([RetryableError("HTTP 503"), "ok"])
    >>> def flaky():
    ...     outcome = next(attempts)
    ...     if isinstance(outcome, Exception):
    ...         raise outcome
    ...     return outcome
    >>> with_retries(flaky, sleep=lambda seconds: None)
    'ok'
    """
    for attempt in range(max_retries + 1):
        try:
            return call()
        except RetryableError as error:
            if attempt == max_retries:
                raise ApiError(f"gave up after {max_retries + 1} attempts: {error}") from None
            # Jitter spreads out clients that were rate-limited together.
            delay = error.retry_after or backoff * 2**attempt * (1 + 0.1 * random.random())
            sleep(min(delay, max_backoff))
    raise AssertionError("unreachable")


def _seconds(retry_after: str | None) -> float | None:
    """A Retry-After header in seconds, or None if absent or given as a date."""
    try:
        return float(retry_after) if retry_after else None
    except ValueError:
        return None


def raise_for_status(response: httpx.Response, where: str, api_key_env: str | None = None) -> None:
    """Raise ``RetryableError`` for 429 and 5xx, ``ApiError`` with a hint for other 4xx; pass 2xx/3xx."""
    status = response.status_code
    if status == 429 or status >= 500:
        raise RetryableError(f"HTTP {status} from {where}", retry_after=_seconds(response.headers.get("retry-after")))
    if status in (401, 403):
        if api_key_env is None:
            hint = "the server wants an API key: give the client api_key_env, the variable that holds it"
        elif os.environ.get(api_key_env):
            hint = f"check the API key variable {api_key_env}: it is set, but the server refused that key"
        else:
            hint = (f"check the API key variable {api_key_env}: it is not set. Set it in the shell you "
                    f"start Jupyter from, never in a notebook cell")
        raise ApiError(f"HTTP {status} from {where}: {hint}")
    if status == 404:
        raise ApiError(f"HTTP 404 from {where}: no such endpoint or model. Check the base URL (an "
                       f"OpenAI-compatible one usually ends in /v1) and the model name: {response.text[:300]}")
    if status >= 400:
        raise ApiError(f"HTTP {status} from {where}: the server rejected the request: {response.text[:300]}")


class HttpClient:
    """Requests to one API (``base_url``), JSON back, retried on 429, 5xx and lost connections.

    ``requests`` counts the requests actually sent, retries included.

    >>> HttpClient("http://127.0.0.1:8000/v1/", api_key_env="OPENAI_API_KEY")
    HttpClient(base_url='http://127.0.0.1:8000/v1', api_key_env='OPENAI_API_KEY')
    """

    def __init__(self, base_url: str, api_key_env: str | None = None, timeout: float = 120.0,
                 max_retries: int = 5, backoff: float = 1.0):
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env  # the variable's name, never its value
        self.timeout, self.max_retries, self.backoff = timeout, max_retries, backoff
        self.requests = 0

    def require_key(self) -> None:
        """Raise ``ApiError`` saying what to set if the API key variable is empty."""
        if self.api_key_env and not os.environ.get(self.api_key_env):
            raise ApiError(f"{self.api_key_env} is not set: set it in the shell you start Jupyter from "
                           f"(never in a notebook cell), then restart the kernel")

    def request(self, method: str, path: str, **kwargs) -> dict:
        """``method`` on ``{base_url}/{path}`` with httpx's ``json=``, ``data=`` or ``files=``; the JSON reply.

        Uploads must pass the file's bytes, not an open file: a retry sends them again.
        """
        url = f"{self.base_url}/{path.lstrip('/')}"
        return with_retries(lambda: self._send(method, url, kwargs), self.max_retries, self.backoff)

    def _send(self, method: str, url: str, kwargs: dict) -> dict:
        self.requests += 1
        headers = {"Accept": "application/json"}
        if self.api_key_env and (key := os.environ.get(self.api_key_env)):
            headers["Authorization"] = f"Bearer {key}"
        try:
            response = httpx.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except httpx.TransportError as error:  # refused, reset, timed out: worth another try
            raise RetryableError(f"{type(error).__name__} talking to {url}: is the server running, "
                                 f"and is the address right?") from None
        raise_for_status(response, f"{method} {url}", self.api_key_env)
        try:
            return response.json()
        except ValueError:
            raise ApiError(f"{method} {url} answered with something other than JSON: {response.text[:300]}") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key_env={self.api_key_env!r})"
