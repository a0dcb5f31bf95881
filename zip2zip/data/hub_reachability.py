"""Is the Hugging Face hub reachable? A fast, cached yes/no so offline runs never hang on a download.

Used by ``tokenizers`` (HF ids) and ``corpora`` (hub datasets). ``HF_HUB_OFFLINE=1`` (the hub's own
switch) answers "no" without touching the network; otherwise one TCP connect with a short timeout.
It deliberately does not check authentication or whether a given repository exists.
"""

from __future__ import annotations

import functools
import os
import socket
from urllib.parse import urlparse

_TIMEOUT_S = 3.0


@functools.cache
def hub_is_reachable(timeout_s: float = _TIMEOUT_S) -> bool:
    """True when the hub endpoint accepts a TCP connection within ``timeout_s`` and offline mode is off."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme != "http" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
