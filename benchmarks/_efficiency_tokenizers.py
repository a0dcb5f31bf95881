"""The efficiency benchmark's tokenizers: each loaded or skipped with the reason, and what the result records of
it. A missing optional asset (or a hub id while the hub is unreachable) must not lose the other tokenizers'
cells, but any other failure is a bug and must stop the run; this file keeps that rule in one place.
"""

from __future__ import annotations

from typing import Any

from zip2zip.data.hub_reachability import hub_is_reachable
from zip2zip.data.tokenizers import TOKENIZERS, MissingAssetError, Tokenizer, get_tokenizer


def load_tokenizer(name: str, skipped: list[dict[str, str]]) -> Tokenizer | None:
    """The tokenizer, or None (said in ``skipped``) if its files are missing or it is a hub id while the hub
    is unreachable; any other failure is a bug, so it raises."""
    try:
        return get_tokenizer(name)
    except MissingAssetError as exc:
        skipped.append({"name": f"tokenizer:{name}", "reason": str(exc)})
    except ValueError as exc:
        if name in TOKENIZERS or hub_is_reachable():
            raise
        skipped.append({"name": f"tokenizer:{name}", "reason": str(exc)})
    return None


def tokenizer_assets(tok: Tokenizer) -> dict[str, Any]:
    """What the result records of a tokenizer: its provenance and the ids that shape the codec."""
    return {
        **tok.provenance,
        "vocab_size": tok.vocab_size,
        "num_special_ids": len(tok.special_ids),
        "pad_token_id": tok.pad_token_id,
    }
