"""Distillation of the base model into the compressed model: where the hard-label LM loss loses knowledge.

The teacher is the base model itself with the LoRA adapters disabled (peft's ``disable_adapter``; no second
copy in memory) or, with ``distill_teacher=<checkpoint>``, the base model under that uncompressed checkpoint's
adapter, loaded frozen beside the student's (a few MB): one extra no-grad forward over the uncompressed chunk
(decompressed from the batch). Its next-base-token distributions are turned into targets over the student's
joint vocabulary along the true text, one tree level per base id of the next code, read from LZW's greedy
longest-match rule:

* **first-token term** (level 0): KL(teacher's next-token distribution at the base position where the next
  code starts || the student's marginal over first tokens). The marginal sums the joint softmax by first
  token: base id ``t`` itself plus every live hypertoken whose first member is ``t`` (a scatter_add).
* **split term** (levels 1 .. M-1): given the true prefix ``P`` of the next code's text (``P`` = the true
  first token at level 1, the first two at level 2, ...), the codes that start with ``P`` are ``P`` alone
  and the live entries ``P + x (+ ...)``. LZW emits the longest live entry matching the text, so the code
  starts with ``P + x`` exactly when the next base token is ``x`` and ``P + x`` is live: the teacher gives
  group ``P + x`` the probability ``p_T(x | text up to P)`` and ``P`` alone the rest (every ``x`` whose
  ``P + x`` is not live). The student's group mass is the sum of its joint softmax over the live codes
  starting with ``P + x``, normalised over the codes starting with ``P``. The term is the KL between the
  two, summed over the levels whose node ``P`` is a live code: the chain rule's split of the code-level
  KL, with its expectation over the teacher's groups replaced by the group the text took (weight 1).

What is approximated: the split inside a group ``P + x`` for an ``x`` other than the true next token (e.g.
``(t, x)`` against ``(t, x, y)``) needs the teacher's forward over text that was not written, so it is not
distilled (the group is matched as a whole); only the true path is refined, with the teacher's forward
over the true text. "Live" is the model's visibility rule (``slot_mask_from_positions``: under ``freeze``,
entries created before the position, plus the target's own same-step column); the encoder also knew the
entry completed by the code just read, which the student is not offered, so that entry's text counts for
the teacher as ``P`` alone. Nothing here runs under a codebook policy other than ``freeze``
(``check_parallel_policy``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from zip2zip.modeling.checkpoint import ADAPTER_DIR, is_peft_model
from zip2zip.modeling.lora import ADAPTER_CONFIG, check_adapter_config, peft_deprecation_quieted
from zip2zip.modeling.model import Zip2ZipPreTrainedModel
from zip2zip.training.teacher_checkpoint import read_teacher_config

# summed statistics a distilling run's forward adds to the LM loss's (``loss._SUMS``)
DISTILLATION_SUMS = (
    "distill_first_kl_sum",
    "distill_split_kl_sum",
    "num_distill_positions",
    "distill_loss_sum",
)
# the adapter name a loaded teacher adapter gets beside the student's (``load_teacher_adapter``)
TEACHER_ADAPTER = "teacher"
# probabilities are clamped here before a log: a live code's softmax mass is never 0 in exact arithmetic
_TINY = 1e-30


@dataclass(frozen=True)
class DistillationWeights:
    """Weights of the two terms in the training loss, next to the LM loss's 1 and lambda's reconstruction."""

    first_token: float
    split: float

    def __post_init__(self) -> None:
        for name in ("first_token", "split"):
            if not getattr(self, name) >= 0:  # NaN fails too
                raise ValueError(f"distillation {name} weight={getattr(self, name)} must be >= 0")

    @property
    def is_active(self) -> bool:
        return self.first_token > 0 or self.split > 0


# ---- the batch's text ---------------------------------------------------------------------------------


@dataclass
class CodeText:
    """Where each compressed code's text lies in the decompressed chunk."""

    base_ids: torch.Tensor  # [B, N] the chunk's base ids, 0 after its end
    base_mask: torch.Tensor  # [B, N] 1 = real base id
    starts: torch.Tensor  # [B, T] base position where code t starts (N after the last real code)
    code_members: torch.Tensor  # [B, T, M] base ids of code t, -1 past its length


def code_text(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, codebook_table: torch.Tensor, *, v: int, pad: int
) -> CodeText:
    """Decompress a batch of chunks. Example (V=10, entry 0 = (1, 2)): codes [3, 10, 4] -> base ids
    [3, 1, 2, 4], starts [0, 1, 3]."""
    b, t = input_ids.shape
    m = codebook_table.shape[-1]
    members = input_ids.new_full((b, t, m), -1)
    members[..., 0] = input_ids
    if codebook_table.shape[1]:
        slots = (input_ids - v).clamp(0, codebook_table.shape[1] - 1)
        table = codebook_table.masked_fill(codebook_table == pad, -1)
        hyper = table.gather(1, slots[..., None].expand(b, t, m))  # [B, T, M]
        members = torch.where((input_ids >= v)[..., None], hyper, members)
    members = members.masked_fill(attention_mask[..., None] == 0, -1)  # [B, T, M]
    lengths = (members >= 0).sum(-1)  # [B, T]
    starts = lengths.cumsum(-1) - lengths
    n = max(int(lengths.sum(-1).max()), 1) if b else 1
    starts = starts.masked_fill(attention_mask == 0, n)
    real = members >= 0
    base_ids = input_ids.new_zeros((b, n))
    base_mask = input_ids.new_zeros((b, n))
    rows = torch.arange(b, device=input_ids.device)[:, None, None].expand_as(members)
    columns = starts[..., None] + torch.arange(m, device=input_ids.device)
    base_ids[rows[real], columns[real]] = members[real]
    base_mask[rows[real], columns[real]] = 1
    return CodeText(base_ids, base_mask, starts, members)


def next_code_windows(text: CodeText, num_ids: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For position t (which predicts code t + 1): the base position where that code starts ``[B, T]``, and
    the ``num_ids`` base ids of the text from there ``[B, T, num_ids]`` (-1 past the chunk's end)."""
    b, n = text.base_ids.shape
    starts = torch.cat([text.starts[:, 1:], text.starts.new_full((b, 1), n)], dim=1)  # [B, T]
    positions = starts[..., None] + torch.arange(num_ids, device=starts.device)  # [B, T, num_ids]
    inside = positions < n
    safe = positions.clamp(max=n - 1).flatten(1)
    ids = text.base_ids.gather(1, safe).view_as(positions)
    real = text.base_mask.gather(1, safe).view_as(positions).bool() & inside
    return starts, ids.masked_fill(~real, -1)


# ---- teacher and student distributions ---------------------------------------------------------------


def load_teacher_adapter(model: Zip2ZipPreTrainedModel, checkpoint: Path) -> None:
    """Make the LoRA adapter of the uncompressed ``checkpoint`` (same base model, e.g. the control trained on
    the same data) the teacher: loaded frozen beside the student's adapter and switched on only for the
    teacher's forward. Why: the base model with LoRA off has not seen the training domain, and the student
    passes it on held-out text within ~100 CPU steps; a teacher fine-tuned on that domain does not have this
    ceiling."""
    base = model.base_model
    if not is_peft_model(base):
        raise ValueError("a teacher adapter needs a student with LoRA adapters (the teacher is switched in)")
    teacher, ours = read_teacher_config(checkpoint), model.config
    if (teacher.base_model_name_or_path, teacher.base_gguf_file) != (
        ours.base_model_name_or_path,
        ours.base_gguf_file,
    ):
        raise ValueError(
            f"distill_teacher={str(checkpoint)!r} adapts {teacher.base_model_name_or_path!r}, but the student "
            f"adapts {ours.base_model_name_or_path!r}: the teacher must share the student's base model"
        )
    folder = checkpoint / ADAPTER_DIR
    check_adapter_config(folder / ADAPTER_CONFIG)
    with peft_deprecation_quieted():
        base.load_adapter(str(folder), adapter_name=TEACHER_ADAPTER, is_trainable=False)  # type: ignore[operator]


@contextlib.contextmanager
def teacher_active(model: Zip2ZipPreTrainedModel) -> Iterator[None]:
    """The teacher's weights for the duration: the loaded teacher adapter (``load_teacher_adapter``) if any,
    else the base model alone (peft's ``disable_adapter``; nothing to disable without LoRA)."""
    base: Any = model.base_model
    if not is_peft_model(base):
        yield
    elif TEACHER_ADAPTER in base.peft_config:
        student = base.active_adapter
        base.set_adapter(TEACHER_ADAPTER, inference_mode=True)
        try:
            yield
        finally:
            base.set_adapter(student)  # peft: the student's adapter trainable again, the teacher's frozen
    else:
        with base.disable_adapter():
            yield


@torch.no_grad()
def teacher_hidden(model: Zip2ZipPreTrainedModel, text: CodeText) -> torch.Tensor:
    """The teacher's (``teacher_active``) final hidden states over the uncompressed chunk ``[B, N, d]``."""
    with teacher_active(model):
        embeds = model.input_embeddings(text.base_ids)  # [B, N, d]
        position_ids = (text.base_mask.cumsum(-1) - 1).clamp_min(0)
        return model.run_decoder(embeds, attention_mask=text.base_mask, position_ids=position_ids)


@torch.no_grad()
def teacher_log_probs(
    model: Zip2ZipPreTrainedModel, hidden: torch.Tensor, positions: torch.Tensor
) -> torch.Tensor:
    """Next-base-token log-probabilities of the teacher at base ``positions`` ``[B, T]`` -> ``[B, T, V]``
    (positions are clamped into the chunk; callers mask what lies outside)."""
    v = model.compression.initial_vocab_size
    index = positions.clamp(0, hidden.shape[1] - 1)
    picked = hidden.gather(1, index[..., None].expand(-1, -1, hidden.shape[-1]))  # [B, T, d]
    with teacher_active(model):
        logits = model.logits(picked, None, None)[..., :v]
    return torch.log_softmax(logits.float(), dim=-1)


def first_token_marginal(probs: torch.Tensor, codebook_table: torch.Tensor, *, v: int) -> torch.Tensor:
    """The student's probability of each first base token ``[B, T, V]`` from its joint softmax ``[B, T, V + C]``.

    Base id t's own column plus every hypertoken column whose entry starts with t (columns of slots that are
    not live hold 0). Example: p(5) = 0.2, p(entry (5, 7)) = 0.1 -> marginal(5) = 0.3.
    """
    b, t, _ = probs.shape
    s = codebook_table.shape[1]
    marginal = probs[..., :v]
    if s == 0:
        return marginal
    first = codebook_table[..., 0].clamp(0, v - 1)[:, None, :].expand(b, t, s)  # [B, T, S]
    return marginal.scatter_add(-1, first, probs[..., v : v + s])


def first_token_kl(
    probs: torch.Tensor, teacher: torch.Tensor, codebook_table: torch.Tensor, *, v: int
) -> torch.Tensor:
    """KL(teacher's next base token ``[B, T, V]`` (log-probs) || the student's first-token marginal) ``[B, T]``."""
    marginal = first_token_marginal(probs, codebook_table, v=v)
    return (teacher.exp() * (teacher - marginal.clamp_min(_TINY).log())).sum(-1)


# ---- the loss terms ----------------------------------------------------------------------------------


def distillation_sums(
    model: Zip2ZipPreTrainedModel,
    logits: torch.Tensor,
    *,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    codebook_table: torch.Tensor,
    slot_mask: torch.Tensor,
    scored: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """Summed first-token and split KLs (nats) over the ``scored`` positions ``[B, T]`` of one micro-batch.

    ``logits`` ``[B, T, V + C]`` and ``slot_mask`` ``[B, T, S]`` are the student's, as the LM loss used them.
    Returns ``distill_first_kl_sum`` and ``distill_split_kl_sum`` (differentiable w.r.t. the student only)
    and ``num_distill_positions``.
    """
    comp = model.compression
    v, m = comp.initial_vocab_size, codebook_table.shape[-1]
    text = code_text(input_ids, attention_mask, codebook_table, v=v, pad=comp.pad_token_id)
    hidden = teacher_hidden(model, text)  # [B, N, d]
    starts, window = next_code_windows(text, m)  # [B, T], [B, T, M]
    scored = scored & (window[..., 0] >= 0)
    log_probs = torch.log_softmax(logits.float(), dim=-1)  # [B, T, V + C]
    probs = log_probs.exp()
    teacher0 = teacher_log_probs(model, hidden, starts - 1)  # [B, T, V]
    first_kl = first_token_kl(probs, teacher0, codebook_table, v=v)  # [B, T]
    split_kl = torch.zeros_like(first_kl)
    for level in range(1, m):
        teacher = teacher_log_probs(model, hidden, starts + level - 1)
        split_kl = split_kl + _level_kl(
            probs, teacher, codebook_table, window, slot_mask, level=level, v=v, pad=comp.pad_token_id
        )
    zero = first_kl.new_zeros(())
    return {
        "distill_first_kl_sum": torch.where(scored, first_kl, zero).sum(),
        "distill_split_kl_sum": torch.where(scored, split_kl, zero).sum(),
        "num_distill_positions": scored.sum(),
    }


def _level_kl(
    probs: torch.Tensor,
    teacher: torch.Tensor,
    codebook_table: torch.Tensor,
    window: torch.Tensor,
    slot_mask: torch.Tensor,
    *,
    level: int,
    v: int,
    pad: int,
) -> torch.Tensor:
    """KL at one tree level ``[B, T]``: the true prefix ``P = window[..., :level]``, teacher's next-token
    log-probabilities after it ``[B, T, V]``; the choice between ``P`` alone and each live ``P + x`` group
    (see the module docstring). 0 where ``P`` is not a live code."""
    b, t, _ = probs.shape
    s, m = codebook_table.shape[1], codebook_table.shape[2]
    if s == 0:
        return probs.new_zeros((b, t))
    lengths = (codebook_table != pad).sum(-1)[:, None, :]  # [B, 1, S]
    in_entry = torch.arange(m, device=probs.device) < lengths[..., None]  # [B, 1, S, M]
    equal = (codebook_table[:, None] == window[:, :, None]) & in_entry  # [B, T, S, M]
    match = equal.long().cumprod(-1).sum(-1)  # [B, T, S] leading members equal to the true text
    p_slot = probs[..., v : v + s]  # [B, T, S]
    prefix_in_chunk = window[..., level - 1] >= 0  # [B, T]
    if level == 1:  # P is a base id: always offered
        node_p = probs[..., :v].gather(-1, window[..., :1].clamp(0, v - 1)).squeeze(-1)
        node_live = prefix_in_chunk
    else:
        node = slot_mask & (lengths == level) & (match >= level)
        node_p = (p_slot * node).sum(-1)
        node_live = prefix_in_chunk & node.any(-1)
    under = slot_mask & (match >= level) & (lengths > level)  # [B, T, S] live codes P + x + ...
    child = under & (lengths == level + 1)  # the group heads P + x
    group = torch.zeros_like(p_slot).scatter_add(
        -1, _group_heads(codebook_table, lengths[:, 0], level)[:, None, :].expand(b, t, s), p_slot * under
    )  # [B, T, S] student mass of each group, at its head's slot
    next_id = codebook_table[:, None, :, level].clamp(0, v - 1).expand(b, t, s)
    t_child = torch.where(child, teacher.gather(-1, next_id).exp(), 0.0)  # [B, T, S]
    t_alone = (1 - t_child.sum(-1)).clamp_min(0)  # every x whose P + x is not live
    log_z = (node_p + group.sum(-1)).clamp_min(_TINY).log()
    kl = torch.xlogy(t_alone, t_alone) - t_alone * (node_p.clamp_min(_TINY).log() - log_z)
    kl = kl + (
        torch.xlogy(t_child, t_child) - t_child * (group.clamp_min(_TINY).log() - log_z[..., None])
    ).sum(-1)
    return torch.where(node_live, kl, 0.0)


def _group_heads(codebook_table: torch.Tensor, lengths: torch.Tensor, level: int) -> torch.Tensor:
    """For each slot, the slot of its first ``level + 1`` members as an entry (itself when none): ``[B, S]``.

    LZW's codebook is prefix-closed (an entry is an emitted code plus one id), so every entry longer than
    ``level + 1`` has its head."""
    prefix = codebook_table[..., : level + 1]  # [B, S, level + 1]
    same = (prefix[:, :, None] == prefix[:, None, :]).all(-1) & (
        lengths[:, None, :] == level + 1
    )  # [B, S, S]
    own = torch.arange(codebook_table.shape[1], device=codebook_table.device).expand_as(lengths)
    return torch.where(same.any(-1), same.long().argmax(-1), own)


def weighted_distillation(
    weights: DistillationWeights, sums: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The loss to add (weighted mean KLs over the scored positions) and the detached sums to log, with
    ``distill_loss_sum`` (the weighted sum) so the logged total loss is the optimised one."""
    num = sums["num_distill_positions"].clamp_min(1)
    weighted_sum = (
        weights.first_token * sums["distill_first_kl_sum"] + weights.split * sums["distill_split_kl_sum"]
    )
    logged = {k: value.detach().float() for k, value in sums.items()}
    logged["distill_loss_sum"] = weighted_sum.detach().float()
    return weighted_sum / num, logged


def summarize_distillation(sums: dict[str, float]) -> dict[str, float | None]:
    """Logged means per scored position (nats): ``first_token_kl``, ``split_kl`` and their weighted sum
    ``distillation_loss``; empty when the run does not distil."""
    if "num_distill_positions" not in sums:
        return {}
    num = sums["num_distill_positions"]

    def mean(key: str) -> float | None:
        return sums[key] / num if num > 0 else None

    return {
        "first_token_kl": mean("distill_first_kl_sum"),
        "split_kl": mean("distill_split_kl_sum"),
        "distillation_loss": mean("distill_loss_sum"),
    }
