"""Dynamic input embedding: base ids read the base table, hypertoken ids read the row's cache.

Id ``i < V`` is embedded by the base model's own input-embedding module (so any scaling it applies,
e.g. Gemma's ``sqrt(d)``, is kept); id ``V + k`` is row ``k`` of that batch row's hyper-embedding
buffer ``[B, S, d]`` (S >= the largest slot referenced). Both are gathered for the whole batch in one go
and merged with ``torch.where``. This module does not encode hypertokens, check that a slot is filled,
or know about generation; callers guarantee that every hyper id they pass has been encoded.
"""

from __future__ import annotations

import torch
from torch import nn


def embed_compressed_ids(
    ids: torch.Tensor,
    *,
    base_embedding: nn.Module,
    hyper_embeds: torch.Tensor | None,
    initial_vocab_size: int,
) -> torch.Tensor:
    """Embed compressed ids ``[B, T]`` -> ``[B, T, d]``.

    Args:
        ids: base ids (< V) and hypertoken ids (V + slot).
        base_embedding: the base model's input-embedding module.
        hyper_embeds: ``[B, S, d]`` per-row hypertoken vectors; may be None if ``ids`` holds no hypertoken.
        initial_vocab_size: V.
    """
    is_hyper = ids >= initial_vocab_size  # [B, T]
    base = base_embedding(ids.masked_fill(is_hyper, 0))  # [B, T, d]
    if hyper_embeds is None or hyper_embeds.shape[1] == 0:
        return base
    slots = (ids - initial_vocab_size).clamp(0, hyper_embeds.shape[1] - 1)  # [B, T]
    hyper = torch.gather(hyper_embeds, 1, slots.unsqueeze(-1).expand(-1, -1, hyper_embeds.shape[-1]))
    return torch.where(is_hyper.unsqueeze(-1), hyper.to(base.dtype), base)  # [B, T, d]
