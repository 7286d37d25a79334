"""The Hugging Face Hub, when it can be reached: find a model there or in the local cache, or say why not.

Offline (or with ``HF_HUB_OFFLINE=1``) every request fails within seconds, naming the ``tiny``
profile that works without the Hub.
"""

from __future__ import annotations

import os
import socket
import threading

HUB_HOST = "huggingface.co"
HUB_PROBE_SECONDS = 3.0


class ProfileUnavailableError(RuntimeError):
    """A hub profile was asked for where the Hub cannot be reached and the model is not cached."""


def hub_reachable(timeout: float = HUB_PROBE_SECONDS) -> bool:
    """True if a TCP connection to the Hub opens within ``timeout`` seconds.

    The probe runs in a thread because name resolution ignores socket timeouts.
    """
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    result = []

    def probe():
        try:
            socket.create_connection((HUB_HOST, 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _cached_snapshot(model_id: str) -> str | None:
    """The local snapshot folder of a Hub model if it was downloaded before, else None."""
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(model_id, local_files_only=True)
    except Exception:  # not cached: any of several hub errors
        return None


def hub_source(model_id: str, profile: str | None = None) -> str:
    """A Hub model's local snapshot if cached, else its id when the Hub answers; fails fast naming tiny."""
    cached = _cached_snapshot(model_id)
    if cached:
        return cached
    if not hub_reachable():
        who = f"profile {profile!r} needs {model_id}" if profile else f"{model_id} is"
        raise ProfileUnavailableError(
            f"{who} from the Hugging Face Hub, which cannot be reached from here and is not in the "
            f"local cache. Use profile='tiny' (the offline model that ships with labkit), or connect "
            f"to the internet.")
    return model_id
