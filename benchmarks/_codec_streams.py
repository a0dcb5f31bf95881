"""The id streams the codec benchmark times: the text as byte ids (V=256, always) and as the ids of one real
tokenizer (skipped, with the reason, when its asset is missing or it is a hub id while the hub is unreachable).
Apart from ``codec.py`` so the script shows what is timed, and this file what it is timed on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Stream:
    """One stream of base ids and the codec settings its vocabulary implies."""

    name: str
    ids: np.ndarray  # [num_ids] int64
    vocab_size: int
    pad_token_id: int
    disabled_ids: frozenset[int]


def load_streams(tokenizer: str, text: bytes) -> tuple[list[Stream], dict[str, Any], list[dict[str, str]]]:
    """The byte stream and the ``tokenizer`` stream of ``text``, the tokenizer's provenance (``assets``), and
    ``skipped`` if it could not be loaded."""
    streams = [Stream("bytes", np.frombuffer(text, np.uint8).astype(np.int64), 256, 0, frozenset())]
    assets: dict[str, Any] = {}
    skipped: list[dict[str, str]] = []
    try:
        from zip2zip.data.tokenizers import get_tokenizer

        tok = get_tokenizer(tokenizer)
    except ImportError as exc:  # MissingAssetError names the package to install
        skipped.append({"name": f"tokenizer:{tokenizer}", "reason": str(exc)})
    except ValueError as exc:  # a hub id while the hub is unreachable (main checked the name)
        skipped.append({"name": f"tokenizer:{tokenizer}", "reason": str(exc)})
    else:
        ids = np.array(tok.encode(text.decode("utf-8", errors="replace")), np.int64)
        streams.append(Stream(tok.name, ids, tok.vocab_size, tok.pad_token_id, tok.special_ids))
        assets[f"tokenizer:{tok.name}"] = tok.provenance
    return streams, assets, skipped
