"""Reconstruction decoder: recover a hypertoken's M member base ids from its hyper embedding.

The paper's auxiliary autoencoding loss: a small decoder ``f_psi: R^d -> V^M`` is trained, jointly with
the input-side hyper-encoder, to predict each member id of a hypertoken from the encoder's output, so
hyper embeddings keep what they stand for. Design here: for member slot m, ``h_m = MLP(h + p_m)``
(``p_m`` a learned slot embedding, one shared 2-layer MLP with a residual and a final norm), and the
logits over the V base ids are ``h_m @ E[:V]^T`` with ``E`` the base model's (frozen) input embedding,
so the decoder adds only ~3 d^2 parameters instead of an M x d x V output layer. Padding slots of an
entry (entries shorter than M) are not scored. This module does not pick which entries to score.
``slot_blind_accuracy`` is the reference a trained decoder must beat: the best accuracy without member
order (one id repeated in every slot), ~0.46 on SmolLM2's entries, where most entries hold distinct ids.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IGNORE_INDEX = -100


class ReconstructionDecoder(nn.Module):
    """``forward(hyper_embeds [N, d], base_embedding_weight [V, d]) -> logits [N, M, V]``."""

    def __init__(self, hidden_size: int, max_subtokens: int, *, eps: float = 1e-5) -> None:
        super().__init__()
        self.max_subtokens = max_subtokens
        self.slot_embedding = nn.Parameter(torch.randn(max_subtokens, hidden_size) * 0.02)
        self.norm_in = nn.LayerNorm(hidden_size, eps=eps)
        self.mlp_in = nn.Linear(hidden_size, 2 * hidden_size)
        self.mlp_out = nn.Linear(2 * hidden_size, hidden_size)
        self.norm_out = nn.LayerNorm(hidden_size, eps=eps)

    def forward(self, hyper_embeds: torch.Tensor, base_embedding_weight: torch.Tensor) -> torch.Tensor:
        x = hyper_embeds.unsqueeze(1) + self.slot_embedding.to(hyper_embeds.dtype)  # [N, M, d]
        x = x + self.mlp_out(F.gelu(self.mlp_in(self.norm_in(x))))
        return F.linear(self.norm_out(x), base_embedding_weight.detach())  # [N, M, V]


def reconstruction_targets(member_ids: torch.Tensor, pad_token_id: int) -> torch.Tensor:
    """Pad-filled entry rows ``[N, M]`` -> targets with padding set to ``IGNORE_INDEX``.

    Example (pad 0): ``[[5, 7, 0]] -> [[5, 7, -100]]``. The pad id is never a member (it is disabled in
    the codec), so every pad in a row is padding.
    """
    return member_ids.masked_fill(member_ids == pad_token_id, IGNORE_INDEX)


def select_entries(num_entries: int, max_entries: int | None, device: torch.device) -> torch.Tensor:
    """Indices of the entries to score: all, or ``max_entries`` evenly spaced ones (deterministic, no RNG).

    Example: ``select_entries(10, 4) -> [0, 3, 6, 9]``.
    """
    if max_entries is None or num_entries <= max_entries:
        return torch.arange(num_entries, device=device)
    return torch.linspace(0, num_entries - 1, max_entries, device=device).round().long()


def slot_blind_accuracy(member_ids: torch.Tensor, pad_token_id: int) -> float | None:
    """Best reconstruction accuracy of a decoder that predicts one id for every slot of an entry.

    Such a decoder may know which ids an entry holds but not their order; at best it repeats the entry's
    most frequent member: per entry, that member's count over the entry's length, pooled over entries.
    A trained decoder below this level has not learned member order. ``member_ids`` ``[N, M]``
    pad-filled; padding is not scored. Example (pad 0): ``[[5, 7, 0], [5, 5, 8]]`` -> (1 + 2) / (2 + 3)
    = 0.6. None when there is no real member.
    """
    real = member_ids != pad_token_id  # [N, M]
    same = (
        (member_ids[:, :, None] == member_ids[:, None, :]) & real[:, :, None] & real[:, None, :]
    )  # [N, M, M]
    best = same.sum(-1).amax(-1)  # [N] count of each entry's most frequent member
    total = int(real.sum())
    return int(best.sum()) / total if total else None
