"""Canonical parses: which codes can follow a phrase in the parse zip2zip scores and generates (the mask).

The parse is greedy: at each step the longest phrase that is an entry the head offers (else a base id). So
after the phrase ``p`` of code j, a code whose first base id ``t`` makes ``p + t`` an entry that was offered
when ``p`` was chosen can never follow: the parse would have taken ``p + t`` (or longer). The joint softmax
still gives such "impossible" codes mass; masking them (-inf) and renormalising gives a distribution over
exactly one code sequence per text.

The rule, from the reference encoder's timing (``codec.lzw``): the entry ``p_{j-1} + first(p_j)`` is created
*after* ``p_{j-1}`` is emitted, at code index j, so the encoder choosing ``p_j`` sees entries created at
``<= j`` and live at j, while the head choosing code j (input position j - 1) sees entries created at
``<= j - 1``, live at j - 1 and not hidden there (the lru victim). An extension ``p_j + t`` blocks ``t`` at
code j + 1 iff both saw it: created ``<= j - 1``, removed ``> j`` (a ``reset`` at j empties the encoder's
dictionary before it reads ``p_j``) and not hidden at j - 1. Being a subset of each, the rule never masks the
next code of an encoder stream (``lzw.compress``) nor of the scoring parse (``scoring.compress_segments``,
which is the encoder's output except that it never uses the "same-step" code the head does not offer).
Edge cases fall out: a phrase of M ids has no entry extending it (no entry is longer than M); disabled ids
are never inside entries; a full frozen codebook keeps blocking with the entries it has. Deliberate
boundaries (the context/continuation boundary in scoring, the prompt end in generation, a window start) are
passed as free positions and not masked.

Two implementations, tested equal: this module's ``impossible_code_mask`` for whole sequences (teacher forcing,
scoring; vectorised over positions and entries) and ``inference.canonical.CanonicalTracker`` for decoding one
step at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def phrase_ids(
    input_ids: torch.Tensor, table: torch.Tensor, *, initial_vocab_size: int, pad_token_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Base ids of each input column ``[B, T]`` -> (``[B, T, M]`` right-padded with the pad id, lengths ``[B, T]``).

    Column ``c < V`` is the base id c; column ``V + s`` is row s of ``table`` ``[B, S, M]``.
    Example (V=10): table row 0 = (1, 2, pad) -> column 10 gives ids (1, 2, pad) and length 2.
    """
    v = initial_vocab_size
    b, t = input_ids.shape
    m = table.shape[-1]
    is_hyper = input_ids >= v
    ids = torch.full((b, t, m), pad_token_id, dtype=torch.long, device=input_ids.device)
    ids[..., 0] = input_ids
    if table.shape[1] > 0:
        slots = (input_ids - v).clamp(0, table.shape[1] - 1)  # [B, T]
        rows = table.gather(1, slots.unsqueeze(-1).expand(b, t, m))  # [B, T, M]
        ids = torch.where(is_hyper.unsqueeze(-1), rows, ids)
    lengths = torch.where(is_hyper, (ids != pad_token_id).sum(-1), torch.ones_like(input_ids))
    return ids, lengths  # [B, T, M], [B, T]


def chooser_mask(
    offered: torch.Tensor,
    removal_positions: torch.Tensor | None = None,
    *,
    is_free: torch.Tensor | None = None,
) -> torch.Tensor:
    """Entries the parse could use when it chose the phrase at each position (see the module docstring).

    ``offered`` ``[B, T, S]`` is the head's slot mask (what input position t offers for code t + 1) without
    opened targets; the phrase at position j was chosen at j - 1, so row j is row j - 1 of ``offered``, minus
    versions removed at j (``removal_positions`` ``[B, S]``, lru and reset). Position 0 and ``is_free``
    ``[B, T]`` positions (deliberate boundaries) get no entries. Returns ``[B, T, S]`` bool.
    """
    out = torch.zeros_like(offered)
    out[:, 1:] = offered[:, :-1]
    if removal_positions is not None:
        positions = torch.arange(offered.shape[1], device=offered.device)
        out &= removal_positions[:, None, :] > positions[None, :, None]
    if is_free is not None:
        out &= ~is_free.unsqueeze(-1)
    return out


def impossible_code_mask(
    input_ids: torch.Tensor,
    table: torch.Tensor,
    chooser: torch.Tensor,
    *,
    initial_vocab_size: int,
    pad_token_id: int,
) -> torch.Tensor:
    """``[B, T, V + S]`` bool, True for the columns no canonical parse can emit after input position t.

    ``input_ids`` ``[B, T]`` name columns (base ids or ``V + s``), ``table`` ``[B, S, M]`` their entries and
    ``chooser`` ``[B, T, S]`` the entries visible when each input's phrase was chosen (``chooser_mask``).
    A first id t is blocked at position j iff a chooser entry is the phrase at j plus t; every column starting
    with a blocked id (the base id itself, entries starting with it) is impossible.
    Example (V=10): inputs [1, 2, 1] create 10 = (1, 2) at 1, offered from position 1; the phrase (1,) at
    position 2 was chosen there, so code 3 cannot be base id 2 nor any entry starting with 2.
    """
    v = initial_vocab_size
    b, t = input_ids.shape
    s, m = table.shape[1], table.shape[2]
    blocked_base = torch.zeros((b, t, v), dtype=torch.bool, device=input_ids.device)  # [B, T, V]
    if s == 0:
        return blocked_base
    phrase, phrase_len = phrase_ids(input_ids, table, initial_vocab_size=v, pad_token_id=pad_token_id)
    entry_len = (table != pad_token_id).sum(-1)  # [B, S]
    is_child = chooser & (entry_len[:, None, :] == phrase_len[:, :, None] + 1)  # [B, T, S]
    for k in range(m - 1):  # entry k-th id equals the phrase's, wherever the phrase has a k-th id
        same = table[:, None, :, k] == phrase[:, :, None, k]  # [B, T, S]
        is_child &= same | (phrase_len[:, :, None] <= k)
    last_id = table.gather(-1, (entry_len - 1).clamp_min(0).unsqueeze(-1)).squeeze(-1)  # [B, S]
    last_id = last_id.clamp(0, v - 1)  # empty rows hold the pad id; they are never children
    blocked_base = blocked_base.to(torch.uint8).scatter_reduce_(
        -1, last_id[:, None, :].expand(b, t, s), is_child.to(torch.uint8), reduce="amax"
    )  # [B, T, V]
    first_id = table[..., 0].clamp(0, v - 1)  # [B, S]
    blocked_hyper = blocked_base.gather(-1, first_id[:, None, :].expand(b, t, s))  # [B, T, S]
    blocked_hyper &= (entry_len > 0).to(torch.uint8)[:, None, :]
    return torch.cat([blocked_base, blocked_hyper], dim=-1).bool()  # [B, T, V + S]


@dataclass(frozen=True)
class CanonicalScores:
    """Per scored position: log-probability of the target under the unmasked and the canonical softmax, and
    the unmasked mass on impossible codes (the canonical score is the unmasked one minus ``log(1 - mass)``)."""

    logprobs: torch.Tensor  # [n]
    canonical_logprobs: torch.Tensor  # [n]
    impossible_mass: torch.Tensor  # [n]


def canonical_scores(
    logits: torch.Tensor, targets: torch.Tensor, impossible: torch.Tensor
) -> CanonicalScores:
    """Both scores of ``targets`` ``[n]`` from one ``[n, W]`` logits and its ``[n, W']`` mask (``W' <= W``
    columns; wider logits columns are never masked), in float32.

    One log-softmax serves both: the impossible mass is summed over the (few) masked columns only, in float64,
    and the canonical score is the unmasked one minus ``log(1 - mass)``, so this costs little beyond the
    unmasked score.
    """
    logprobs = torch.log_softmax(logits.float(), dim=-1)  # [n, W]
    target_lp = logprobs.gather(-1, targets[:, None]).squeeze(-1)  # [n]
    rows, columns = impossible.nonzero(as_tuple=True)
    mass = torch.zeros(len(targets), dtype=torch.float64, device=logits.device)
    mass.index_add_(0, rows, logprobs[rows, columns].double().exp())  # [n]
    canonical = (target_lp.double() - torch.log1p(-mass)).float()
    return CanonicalScores(target_lp, canonical, mass.float())
