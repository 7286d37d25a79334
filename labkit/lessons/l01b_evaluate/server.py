"""Serve a saved model over an OpenAI-compatible HTTP API, for as long as a ``with`` block lasts.

``served(folder)`` starts ``transformers serve`` (it ships with transformers 5) in its own process on a
free port of 127.0.0.1, waits until it answers, and hands back the course's
:class:`~labkit.core.chat_client.ChatClient` for it. On leaving the block, even after an error, it stops
the server and everything the server started. Any OpenAI-compatible server (vLLM, llama.cpp, Ollama)
would do; this one needs nothing beyond transformers and runs offline.

>>> serve_command("build/judge", "127.0.0.1", 8123)[3:]
['serve', 'build/judge', '--host', '127.0.0.1', '--port', '8123', '--log-level', 'warning']
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from labkit.core.chat_client import ChatClient

HOST = "127.0.0.1"  # this machine only: nothing else can reach the server
STARTUP_SECONDS = 180  # importing torch and transformers in a fresh process takes a while on a busy CPU


class ServerError(RuntimeError):
    """The model server did not start, or died; the message holds the end of its log."""


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on right now (the operating system picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def serve_command(folder: str | Path, host: str, port: int) -> list[str]:
    """The command line that serves ``folder``: ``transformers serve FOLDER --host … --port …``.

    The model is named on the command line, so the server loads it once, before it answers.
    """
    return [sys.executable, "-m", "transformers.cli.transformers", "serve", str(folder),
            "--host", host, "--port", str(port), "--log-level", "warning"]


def _log_tail(log_path: Path, lines: int = 15) -> str:
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return "\n".join(text.splitlines()[-lines:]) or "(the log is empty)"


def wait_until_ready(process: subprocess.Popen, base_url: str, log_path: Path,
                     timeout: float = STARTUP_SECONDS) -> float:
    """Poll ``{base_url}/health`` until it answers 200; the seconds it took. Raise if the server dies first."""
    import httpx

    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if process.poll() is not None:
            raise ServerError(f"the model server exited with code {process.returncode} before it answered. "
                              f"Its log ({log_path}) ends:\n{_log_tail(log_path)}")
        try:
            if httpx.get(f"{base_url}/health", timeout=2.0).status_code == 200:
                return time.perf_counter() - start
        except httpx.TransportError:  # not listening yet
            pass
        time.sleep(0.25)
    raise ServerError(f"the model server did not answer {base_url}/health within {timeout:.0f} s. "
                      f"Its log ({log_path}) ends:\n{_log_tail(log_path)}")


def stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)  # its own group (start_new_session): it and its children only
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:  # it exited between the poll and the signal
        pass


@contextmanager
def served(folder: str | Path, log_path: str | Path, port: int | None = None, host: str = HOST,
           timeout: float = STARTUP_SECONDS):
    """Serve the model in ``folder`` inside the block; yields a ChatClient for it.

    ``log_path`` receives the server's output: read it when something goes wrong.
    """
    port = port or free_port(host)
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    base_url = f"http://{host}:{port}"
    # Offline: the model is a local folder, and nothing should try the Hub for it.
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with open(log_path, "w") as log:
        process = subprocess.Popen(serve_command(folder, host, port), stdout=log, stderr=subprocess.STDOUT,
                                   env=environment, start_new_session=True)
    try:
        wait_until_ready(process, base_url, log_path, timeout)
        # transformers serve answers only for the model it was started with, named as on its command line.
        yield ChatClient(f"{base_url}/v1", model=str(folder), api_key_env=None, max_retries=2)
    finally:
        stop(process)
