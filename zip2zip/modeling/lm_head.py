"""Dynamic LM head: logits over the joint vocabulary ``V + C``, one softmax over both parts.

Column layout (the one place it is defined; ids and columns coincide):

* column ``j`` for ``0 <= j < V``: base id ``j``, logit from the base model's own LM head;
* column ``V + k`` for ``0 <= k < C``: hypertoken ``V + k`` = entry k of that row's codebook, logit
  ``<hidden, u_k>`` where ``u_k`` is the output-side hyper-encoder vector of entry k;
* base-head rows ``>= V`` (padded embedding matrices, e.g. 32064 rows for a 32011-id tokenizer) are
  dropped, so no id outside the tokenizer can ever be emitted; with ``keep_extra_rows`` (the authors'
  layout, for their checkpoints) head row ``r >= V`` is column ``r + C`` instead, after the hypertoken
  slots, so the softmax normalises over the same columns as theirs;
* slots that do not exist yet for that row (and position, during training) are ``-inf``, so sampling
  can never pick them and the softmax never normalises over phantom slots.

Final-logit soft-capping (Gemma-2/3 ``final_logit_softcapping``) is applied to both parts alike.
Base logits come from the base head and hyper logits from a batched matmul against the ``[B, S, d]``
cache; the head weight is never re-concatenated.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

NEG_INF = float("-inf")
# entry_positions value of a slot that does not exist (compares greater than any position)


def base_logits(hidden: torch.Tensor, base_head: nn.Module, initial_vocab_size: int) -> torch.Tensor:
    """Logits of the V base ids only, ``[..., d] -> [..., V]``; padded head rows are not computed."""
    if type(base_head) is nn.Linear:
        bias = None if base_head.bias is None else base_head.bias[:initial_vocab_size]
        return F.linear(hidden, base_head.weight[:initial_vocab_size], bias)
    return base_head(hidden)[..., :initial_vocab_size]  # e.g. a LoRA-wrapped head


def joint_logits(
    hidden: torch.Tensor,
    *,
    base_head: nn.Module,
    hyper_unembeds: torch.Tensor | None,
    slot_mask: torch.Tensor | None,
    initial_vocab_size: int,
    max_codebook_size: int,
    logit_softcap: float | None = None,
    keep_extra_rows: bool = False,
) -> torch.Tensor:
    """Joint logits ``[B, T, V + C]`` for hidden states ``[B, T, d]`` (``[B, T, rows + C]`` when
    ``keep_extra_rows``, see the module docstring).

    Args:
        hyper_unembeds: ``[B, S, d]`` output-side vectors of slots ``0..S-1`` (S <= C); None when S = 0.
        slot_mask: bool, broadcastable to ``[B, T, S]``; True where the slot exists. Slots ``>= S`` are
            always ``-inf``.
        logit_softcap: ``cap * tanh(logit / cap)`` on every finite logit when set.
    """
    b, t, _ = hidden.shape
    v, c = initial_vocab_size, max_codebook_size
    rows = _head_rows(base_head) if keep_extra_rows else v
    out = hidden.new_empty((b, t, rows + c))  # [B, T, V + C (+ rows - V)]
    base = _softcap(base_logits(hidden, base_head, rows), logit_softcap)  # [B, T, rows]
    out[..., :v] = base[..., :v]
    out[..., v + c :] = base[..., v:]
    s = 0 if hyper_unembeds is None else hyper_unembeds.shape[1]
    if s > c:
        raise ValueError(f"{s} hypertoken vectors but max_codebook_size={c}")
    if s:
        assert hyper_unembeds is not None and slot_mask is not None
        hyper = torch.matmul(hidden, hyper_unembeds.transpose(1, 2).to(hidden.dtype))  # [B, T, S]
        out[..., v : v + s] = _softcap(hyper, logit_softcap).masked_fill(~slot_mask, NEG_INF)
    out[..., v + s : v + c] = NEG_INF
    return out


def _head_rows(base_head: nn.Module) -> int:
    weight = base_head.weight
    assert isinstance(weight, torch.Tensor)
    return int(weight.shape[0])


def slot_mask_from_counts(num_entries: torch.Tensor, num_slots: int) -> torch.Tensor:
    """``[B]`` entry counts -> ``[B, 1, S]`` mask: slot k exists iff ``k < num_entries``."""
    return (torch.arange(num_slots, device=num_entries.device) < num_entries[:, None]).unsqueeze(1)


def slot_mask_from_positions(
    entry_positions: torch.Tensor,
    seq_len: int,
    *,
    targets: torch.Tensor | None = None,
    initial_vocab_size: int | None = None,
) -> torch.Tensor:
    """Per-position availability for teacher forcing, ``[B, S]`` -> ``[B, T, S]``.

    Slot k is offered at position t iff its entry was completed by reading codes ``0..t``
    (``entry_positions[b, k] <= t``; slots that do not exist hold ``NO_POSITION``). The LZW "same-step"
    code (an entry completed by reading the very code that names it, ``entry_positions == t + 1``) is
    not offered in generation; when ``targets`` ``[B, T]`` (the id to predict at each position) is given,
    each hypertoken target's column is opened anyway so a teacher-forced stream containing that rare
    code never meets a ``-inf`` target (callers check that targets exist by ``t + 1``).
    Example: entry 0 completed at position 2 -> slot 0 is -inf at positions 0 and 1, offered from 2 on.
    """
    positions = torch.arange(seq_len, device=entry_positions.device)
    mask = entry_positions[:, None, :] <= positions[None, :, None]  # [B, T, S]
    return _open_targets(mask, targets, initial_vocab_size)


def version_mask_from_intervals(
    entry_positions: torch.Tensor,
    removal_positions: torch.Tensor,
    hidden_versions: torch.Tensor,
    *,
    targets: torch.Tensor | None = None,
    initial_vocab_size: int | None = None,
) -> torch.Tensor:
    """``slot_mask_from_positions`` for entry versions (``lru``, ``reset``; see ``codec.versions``):
    ``[B, N]`` intervals and ``[B, T]`` hidden versions -> ``[B, T, N]``.

    Version r is offered at position t iff ``entry_positions[r] <= t < removal_positions[r]`` and it is not
    ``hidden_versions[t]`` (-1: none), the lru victim whose id generation does not offer; targets as there.
    Example: a version created at 2 and removed at 5 is offered at positions 2, 3 and 4.
    """
    seq_len = hidden_versions.shape[1]
    positions = torch.arange(seq_len, device=entry_positions.device)[None, :, None]
    mask = (entry_positions[:, None, :] <= positions) & (
        removal_positions[:, None, :] > positions
    )  # [B, T, N]
    if mask.shape[-1] > 0:
        is_hidden = hidden_versions >= 0  # [B, T]
        index = hidden_versions.clamp(0, mask.shape[-1] - 1).unsqueeze(-1)  # [B, T, 1]
        mask.scatter_(-1, index, mask.gather(-1, index) & ~is_hidden.unsqueeze(-1))
    return _open_targets(mask, targets, initial_vocab_size)


def _open_targets(
    mask: torch.Tensor, targets: torch.Tensor | None, initial_vocab_size: int | None
) -> torch.Tensor:
    """Open each hypertoken target's column ``[B, T, S]`` (the same-step code, see ``slot_mask_from_positions``)."""
    if targets is not None and mask.shape[-1] > 0:
        if initial_vocab_size is None:
            raise ValueError("targets need initial_vocab_size to tell hypertoken ids from base ids")
        slots = targets - initial_vocab_size  # [B, T]
        is_hyper = (slots >= 0) & (slots < mask.shape[-1])
        index = slots.clamp(0, mask.shape[-1] - 1).unsqueeze(-1)  # [B, T, 1]
        mask.scatter_(-1, index, mask.gather(-1, index) | is_hyper.unsqueeze(-1))
    return mask


def _softcap(logits: torch.Tensor, cap: float | None) -> torch.Tensor:
    return logits if cap is None else torch.tanh(logits / cap) * cap
