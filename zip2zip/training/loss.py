"""Compressed-space LM loss + lambda * reconstruction loss, and one optimizer step. No trainer framework.

Loss (paper, Section "Training"): causal cross-entropy over the joint vocabulary (V base ids + C
hypertoken slots) of LZW-compressed chunks, where position t's softmax offers only the hypertokens that
exist after reading codes 0..t (``entry_positions <= t``; what generation will see, unlike the upstream
code which offers the whole final codebook everywhere). A target that is the LZW same-step code (its entry
completes on reading that very code) gets its column opened so it is never a -inf target
(``lm_head.slot_mask_from_positions``). Under ``lru`` and ``reset`` the chunks list entry versions
(``data.chunking``): each version is its own column, offered from its creation up to its removal (the
model's pass over versions, as in scoring), so position t sees exactly the entries live there. Plus
``reconstruction_weight`` (lambda, 0.1 in the paper) times the cross-entropy of a small decoder rebuilding
each entry's (each version's) member base ids from its input-side hyper embedding (``reconstruction.py``),
padding ignored. With ``canonical_loss`` the LM term is the masked softmax's NLL instead (codes the greedy
parse cannot produce after the previous phrase get -inf, ``modeling.canonical_mask``; an encoder stream's
target is never one of them); the logged ``lm_loss`` stays the unmasked NLL so runs with and without it
compare, and ``canonical_lm_loss`` (the masked softmax's NLL per code) is logged beside it on every step of
such a run and on every held-out pass of a compressed run, with or without the option.

What is logged, from summed numerators and denominators (so micro-batches aggregate exactly):
``lm_loss`` (nats per scored code), ``base_loss`` / ``hypertoken_loss`` (the same split by target kind),
``nll_per_base_token`` (summed code NLL over the base ids those targets stand for: comparable across
compression on/off), ``reconstruction_loss`` and ``reconstruction_accuracy`` (argmax == member, per real
member id). With compression off (C = 0) this is plain causal LM training through the same code path.

``train_step`` clips gradients per optimizer parameter group (each group's own ``max_grad_norm``): the
hyper-encoders' gradient norms are ~100x LoRA's, so one global clip would rescale LoRA's step by a factor
set by the encoders. The pre-clip norm of every group is returned for the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zip2zip.codec.lzw_codec import NO_POSITION
from zip2zip.codec.versions import NO_VERSION
from zip2zip.modeling.canonical_mask import chooser_mask, impossible_code_mask
from zip2zip.modeling.lm_head import slot_mask_from_positions, version_mask_from_intervals
from zip2zip.modeling.model import IGNORE_INDEX, Zip2ZipPreTrainedModel, check_parallel_policy
from zip2zip.modeling.reconstruction import (
    ReconstructionDecoder,
    reconstruction_targets,
    select_entries,
    slot_blind_accuracy,
)
from zip2zip.training.distillation import (
    DISTILLATION_SUMS,
    DistillationWeights,
    distillation_sums,
    summarize_distillation,
    weighted_distillation,
)

if TYPE_CHECKING:
    from accelerate import Accelerator

# summed statistics returned by a forward pass; ratios of them are what gets logged
_SUMS = (
    "lm_nll_sum",
    "num_targets",
    "base_nll_sum",
    "num_base_targets",
    "hyper_nll_sum",
    "num_hyper_targets",
    "num_target_base_ids",
    "recon_nll_sum",
    "recon_correct",
    "num_recon_members",
)


class Scheduler(Protocol):
    """A learning-rate scheduler as a training step and a checkpoint use it: a torch ``LRScheduler``, or
    the wrapper ``accelerate`` puts around one (which is not an ``LRScheduler`` subclass)."""

    def step(self) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...


@dataclass
class TrainBatch:
    """One right-padded micro-batch of compressed chunks (row b has its own codebook; under ``lru`` and
    ``reset`` its entry versions, with the two version tensors set)."""

    input_ids: torch.Tensor  # [B, T] compressed ids, pad-filled
    attention_mask: torch.Tensor  # [B, T] 1 = real code
    codebook_table: torch.Tensor  # [B, S, M] entry members, pad-filled
    entry_positions: torch.Tensor  # [B, S] code index completing each entry; NO_POSITION where empty
    removal_positions: torch.Tensor | None = None  # [B, S] code index removing each version
    hidden_versions: torch.Tensor | None = None  # [B, T] version hidden after each code; NO_VERSION if none

    def to(self, device: torch.device | str) -> TrainBatch:
        return TrainBatch(*(t.to(device) for t in self.as_tuple()))

    def as_tuple(self) -> tuple[torch.Tensor, ...]:
        """The module's positional arguments: the version tensors only when set."""
        head = (self.input_ids, self.attention_mask, self.codebook_table, self.entry_positions)
        if self.removal_positions is None or self.hidden_versions is None:
            return head
        return (*head, self.removal_positions, self.hidden_versions)

    @property
    def num_codes(self) -> int:
        return int(self.attention_mask.sum())


def collate_chunks(
    chunks: Sequence[tuple[np.ndarray, ...]], *, pad_token_id: int, max_subtokens: int
) -> TrainBatch:
    """``(ids [n], table [k, M], entry_positions [k])`` per chunk (then ``removal_positions [k]`` and
    ``hidden_versions [n]`` under lru and reset: ``ChunkArrays``) -> a right-padded ``TrainBatch``."""
    if not chunks:
        raise ValueError("cannot collate an empty list of chunks")
    b = len(chunks)
    t = max(len(chunk[0]) for chunk in chunks)
    s = max(len(chunk[1]) for chunk in chunks)
    ids = torch.full((b, t), pad_token_id, dtype=torch.long)
    mask = torch.zeros((b, t), dtype=torch.long)
    table = torch.full((b, s, max_subtokens), pad_token_id, dtype=torch.long)
    positions = torch.full((b, s), NO_POSITION, dtype=torch.long)
    for row, (chunk_ids, chunk_table, chunk_positions, *_) in enumerate(chunks):
        n, k = len(chunk_ids), len(chunk_table)
        ids[row, :n] = torch.tensor(np.asarray(chunk_ids, dtype=np.int64))
        mask[row, :n] = 1
        if k:
            table[row, :k] = torch.tensor(np.asarray(chunk_table, dtype=np.int64).reshape(k, max_subtokens))
            positions[row, :k] = torch.tensor(np.asarray(chunk_positions, dtype=np.int64))
    if len(chunks[0]) == 3:
        return TrainBatch(ids, mask, table, positions)
    removed = torch.full((b, s), NO_POSITION, dtype=torch.long)
    hidden = torch.full((b, t), NO_VERSION, dtype=torch.long)
    for row, (chunk_ids, chunk_table, _, chunk_removed, chunk_hidden) in enumerate(chunks):
        removed[row, : len(chunk_table)] = torch.tensor(np.asarray(chunk_removed, dtype=np.int64))
        hidden[row, : len(chunk_ids)] = torch.tensor(np.asarray(chunk_hidden, dtype=np.int64))
    return TrainBatch(ids, mask, table, positions, removed, hidden)


def next_code_targets(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Target at position t = code t + 1; ``IGNORE_INDEX`` after the last real code. ``[B, T] -> [B, T]``."""
    labels = input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)
    return torch.cat([labels[:, 1:], labels.new_full((labels.shape[0], 1), IGNORE_INDEX)], dim=1)


class Zip2ZipTrainingModule(nn.Module):
    """The model + reconstruction decoder as one module, so DDP/accelerate see every trained parameter.

    ``forward`` returns the differentiable ``loss`` (mean LM loss + lambda * mean reconstruction loss of
    this micro-batch) and the summed statistics of ``_SUMS`` (detached).
    """

    def __init__(
        self,
        model: Zip2ZipPreTrainedModel,
        decoder: ReconstructionDecoder | None,
        *,
        reconstruction_weight: float,
        max_reconstruction_entries: int | None = 256,
        distillation: DistillationWeights | None = None,
        canonical_loss: bool = False,
    ) -> None:
        super().__init__()
        if reconstruction_weight < 0:
            raise ValueError(f"reconstruction_weight={reconstruction_weight} must be >= 0 (paper: 0.1)")
        if reconstruction_weight > 0 and decoder is None:
            raise ValueError("reconstruction_weight > 0 needs a ReconstructionDecoder (or pass weight 0)")
        self.model = model
        self.decoder = decoder
        self.reconstruction_weight = reconstruction_weight
        self.max_reconstruction_entries = max_reconstruction_entries
        self.distillation = distillation if distillation is not None and distillation.is_active else None
        self.canonical_loss = canonical_loss

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        codebook_table: torch.Tensor,
        entry_positions: torch.Tensor,
        removal_positions: torch.Tensor | None = None,
        hidden_versions: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        model = self.model
        comp = model.compression
        if removal_positions is None:
            check_parallel_policy(comp)
        v = comp.initial_vocab_size
        targets = next_code_targets(input_ids, attention_mask)  # [B, T]
        position_ids = (attention_mask.long().cumsum(-1) - 1).clamp_min(0)
        hyper_in, hyper_out = model.encode_codebook(codebook_table)  # [B, S, d] each
        hidden = model.run_decoder(
            model.embed(input_ids, hyper_in), attention_mask=attention_mask, position_ids=position_ids
        )
        if removal_positions is None or hidden_versions is None:
            slot_mask = slot_mask_from_positions(
                entry_positions, input_ids.shape[1], targets=targets, initial_vocab_size=v
            )  # [B, T, S]
            logits = model.logits(hidden, hyper_out, slot_mask)  # [B, T, V + C]
        else:
            slot_mask = version_mask_from_intervals(
                entry_positions, removal_positions, hidden_versions, targets=targets, initial_vocab_size=v
            )  # [B, T, N]
            logits = model.logits(
                hidden, hyper_out, slot_mask, num_hyper_columns=codebook_table.shape[1]
            )  # [B, T, V + N]
        nll = F.cross_entropy(
            logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="none"
        ).view_as(targets)  # [B, T]
        scored = targets != IGNORE_INDEX
        is_hyper = scored & (targets >= v)
        is_base = scored & ~is_hyper
        num_targets = scored.sum()
        lm_loss = nll.sum() / num_targets.clamp_min(1)
        stats = {
            "lm_nll_sum": nll.sum(),
            "num_targets": num_targets,
            "base_nll_sum": nll[is_base].sum(),
            "num_base_targets": is_base.sum(),
            "hyper_nll_sum": nll[is_hyper].sum(),
            "num_hyper_targets": is_hyper.sum(),
            "num_target_base_ids": _target_base_ids(targets, codebook_table, v, comp.pad_token_id),
        }
        loss = lm_loss
        canonical_nll = None
        # held-out passes of a compressed run report the canonical NLL too, so runs with and without
        # ``canonical_loss`` compare on both numbers
        if self.canonical_loss or (not self.training and comp.max_codebook_size > 0):
            offered = (
                slot_mask_from_positions(entry_positions, input_ids.shape[1])
                if removal_positions is None or hidden_versions is None
                else version_mask_from_intervals(entry_positions, removal_positions, hidden_versions)
            )  # [B, T, S]: what the head offers, no target opened
            chooser = chooser_mask(offered, removal_positions)
            canonical_nll = self._canonical_nll(logits, input_ids, codebook_table, chooser, targets)
            if self.canonical_loss:
                loss = canonical_nll.sum() / num_targets.clamp_min(1)
        if self.distillation is not None:  # teacher = this model without LoRA (distillation.py)
            distill_loss, distill_stats = weighted_distillation(
                self.distillation,
                distillation_sums(
                    model,
                    logits,
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    codebook_table=codebook_table,
                    slot_mask=slot_mask,
                    scored=scored,
                ),
            )
            loss = loss + distill_loss
            stats.update(distill_stats)
        recon = self._reconstruction(codebook_table, hyper_in)
        if recon is not None:
            recon_nll_sum, correct, count = recon
            loss = loss + self.reconstruction_weight * recon_nll_sum / count.clamp_min(1)
            stats.update(recon_nll_sum=recon_nll_sum, recon_correct=correct, num_recon_members=count)
        else:
            zero = nll.new_zeros(())
            stats.update(recon_nll_sum=zero, recon_correct=zero, num_recon_members=zero)
        out = {k: v_.detach().float() for k, v_ in stats.items()}
        if canonical_nll is not None:
            out["canonical_nll_sum"] = canonical_nll.detach().float().sum()
        out["loss"] = loss
        return out

    def _canonical_nll(
        self,
        logits: torch.Tensor,
        input_ids: torch.Tensor,
        codebook_table: torch.Tensor,
        chooser: torch.Tensor,
        targets: torch.Tensor,
    ) -> torch.Tensor:
        """``[B, T]`` NLL of ``targets`` under the softmax without the impossible codes (0 where ignored);
        ``chooser`` ``[B, T, S]``: the entries each position's phrase was chosen among (``chooser_mask``)."""
        comp = self.model.compression
        impossible = impossible_code_mask(
            input_ids,
            codebook_table,
            chooser,
            initial_vocab_size=comp.initial_vocab_size,
            pad_token_id=comp.pad_token_id,
        )  # [B, T, V + S]
        width = impossible.shape[-1]
        masked = torch.cat(
            [logits[..., :width].masked_fill(impossible, float("-inf")), logits[..., width:]], -1
        )
        return F.cross_entropy(
            masked.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="none"
        ).view_as(targets)  # [B, T]

    def _reconstruction(
        self, codebook_table: torch.Tensor, hyper_in: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        if self.decoder is None:
            return None
        pad = self.model.compression.pad_token_id
        filled, keep = scored_entries(codebook_table, pad, self.max_reconstruction_entries)
        members = codebook_table[filled][keep]  # [N, M]
        embeds = hyper_in[filled][keep]  # [N, d]
        if members.shape[0] == 0:
            return None
        v = self.model.compression.initial_vocab_size
        logits = self.decoder(embeds, self.model.input_embeddings.weight[:v])  # [N, M, V]
        targets = reconstruction_targets(members, pad)  # [N, M]
        nll = F.cross_entropy(
            logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="sum"
        )
        real = targets != IGNORE_INDEX
        correct = ((logits.argmax(-1) == targets) & real).sum()
        return nll, correct.float(), real.sum().float()


def scored_entries(
    codebook_table: torch.Tensor, pad_token_id: int, max_entries: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which entries of a micro-batch the reconstruction loss scores: ``(filled [B, S], keep [N])``.

    ``codebook_table[filled][keep]`` are the scored entries' members ``[N, M]``: the filled slots of all
    rows, flattened, thinned to ``max_entries`` evenly spaced ones (``select_entries``).
    """
    filled = codebook_table[..., 0] != pad_token_id  # [B, S]
    keep = select_entries(int(filled.sum()), max_entries, codebook_table.device)
    return filled, keep


def slot_blind_reconstruction_accuracy(
    batches: Sequence[TrainBatch], *, pad_token_id: int, max_entries: int | None
) -> float | None:
    """``reconstruction.slot_blind_accuracy`` over the entries ``evaluate`` scores in ``batches``.

    The level a decoder reaches by naming an entry's members without their order (repeating one member in
    every slot); reconstruction accuracy above it needs member order. None when no entry is scored.
    """
    members = []
    for batch in batches:
        filled, keep = scored_entries(batch.codebook_table, pad_token_id, max_entries)
        members.append(batch.codebook_table[filled][keep])  # [N, M]
    if not members:
        return None
    return slot_blind_accuracy(torch.cat(members), pad_token_id)


def _target_base_ids(targets: torch.Tensor, table: torch.Tensor, v: int, pad: int) -> torch.Tensor:
    """Base ids the scored targets stand for: 1 per base id, the entry length per hypertoken."""
    scored = targets != IGNORE_INDEX
    is_hyper = scored & (targets >= v)
    num = (scored & ~is_hyper).sum()
    if table.shape[1] and bool(is_hyper.any()):
        lengths = (table != pad).sum(-1)  # [B, S]
        slots = (targets - v).clamp(0, table.shape[1] - 1)
        num = num + lengths.gather(1, slots)[is_hyper].sum()
    return num


@dataclass
class StepStats:
    """Logged ratios of one optimizer step (or one validation pass); ``None`` where a denominator is 0."""

    loss: float
    lm_loss: float
    base_loss: float | None
    hypertoken_loss: float | None
    nll_per_base_token: float | None
    reconstruction_loss: float | None
    reconstruction_accuracy: float | None
    num_codes: int
    num_base_tokens: int
    sums: dict[str, float]
    grad_norms: dict[str, float] = field(default_factory=dict)  # group name -> pre-clip norm (train only)
    distillation: dict[str, float | None] = field(default_factory=dict)  # term -> mean (distilling runs only)
    canonical_lm_loss: float | None = None  # NLL per code under the canonical mask (when computed)

    def to_dict(self) -> dict[str, Any]:
        skipped = (
            "sums",
            "grad_norms",
            "distillation",
            *(() if self.canonical_lm_loss is not None else ("canonical_lm_loss",)),
        )
        out = {k: v for k, v in self.__dict__.items() if k not in skipped}
        out.update(self.distillation)
        if self.grad_norms:
            out["grad_norms"] = dict(self.grad_norms)
        return out


def summarize(sums: dict[str, float], *, reconstruction_weight: float, num_codes: int) -> StepStats:
    """Turn summed statistics (``_SUMS``) into the logged ratios."""

    def ratio(num: str, den: str) -> float | None:
        return sums[num] / sums[den] if sums[den] > 0 else None

    lm = ratio("lm_nll_sum", "num_targets")
    recon = ratio("recon_nll_sum", "num_recon_members")
    lm_value = lm if lm is not None else float("nan")
    distillation = summarize_distillation(sums)
    return StepStats(
        loss=lm_value
        + reconstruction_weight * (recon or 0.0)
        + (distillation.get("distillation_loss") or 0.0),
        lm_loss=lm_value,
        base_loss=ratio("base_nll_sum", "num_base_targets"),
        hypertoken_loss=ratio("hyper_nll_sum", "num_hyper_targets"),
        nll_per_base_token=ratio("lm_nll_sum", "num_target_base_ids"),
        reconstruction_loss=recon,
        reconstruction_accuracy=ratio("recon_correct", "num_recon_members"),
        num_codes=num_codes,
        num_base_tokens=int(sums["num_target_base_ids"]),
        sums=sums,
        distillation=distillation,
        canonical_lm_loss=ratio("canonical_nll_sum", "num_targets") if "canonical_nll_sum" in sums else None,
    )


def _accumulate(total: dict[str, float], out: dict[str, torch.Tensor]) -> None:
    distilling = "num_distill_positions" in out
    canonical = ("canonical_nll_sum",) if "canonical_nll_sum" in out else ()
    for key in _SUMS + (DISTILLATION_SUMS if distilling else ()) + canonical:
        total[key] = total.get(key, 0.0) + float(out[key])


def train_step(
    module: nn.Module,
    micro_batches: Sequence[TrainBatch],
    *,
    optimizer: torch.optim.Optimizer,
    scheduler: Scheduler | None = None,
    accelerator: Accelerator | None = None,
    max_grad_norm: float | None = 1.0,
    reconstruction_weight: float = 0.1,
) -> StepStats:
    """One optimizer step over ``micro_batches`` (gradient accumulation; each micro-loss scaled by 1/n).

    With an ``accelerate.Accelerator``, backward goes through it, gradients are only all-reduced on the
    last micro-batch (``no_sync``), and forward runs under its autocast (bf16 on GPU when configured).
    Gradients are clipped per parameter group (``clip_grad_norms``); ``max_grad_norm`` applies to groups
    that carry no ``max_grad_norm`` entry of their own. The returned statistics are this process's (not
    all-reduced), plus the pre-clip gradient norm of every group (identical on all processes).
    """
    if not micro_batches:
        raise ValueError("train_step needs at least one micro-batch")
    module.train()
    sums: dict[str, float] = {}
    num_codes = 0
    n = len(micro_batches)
    for i, batch in enumerate(micro_batches):
        is_last = i == n - 1
        sync = _null_context() if accelerator is None or is_last else accelerator.no_sync(module)
        autocast = _null_context() if accelerator is None else accelerator.autocast()
        with sync:
            with autocast:
                out = module(*batch.as_tuple())
            loss = out["loss"] / n
            if accelerator is None:
                loss.backward()
            else:
                accelerator.backward(loss)
        _accumulate(sums, out)
        num_codes += batch.num_codes
    if accelerator is not None:
        accelerator.unscale_gradients()  # fp16 loss scaling: clip and log the true gradients (else no-op)
    grad_norms = clip_grad_norms(optimizer, default_max_norm=max_grad_norm)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    stats = summarize(sums, reconstruction_weight=reconstruction_weight, num_codes=num_codes)
    stats.grad_norms = grad_norms
    return stats


def clip_grad_norms(optimizer: torch.optim.Optimizer, *, default_max_norm: float | None) -> dict[str, float]:
    """Clip each parameter group's gradients to that group's ``max_grad_norm`` (None: not clipped).

    Groups without the entry use ``default_max_norm``. Returns the pre-clip L2 norm of each group that has
    gradients, keyed by the group's ``name`` (its index when unnamed). Example: groups lora (norm 0.5,
    max 1) and encoders (norm 40, max 1) -> lora unchanged, encoders scaled by 1/40; a single global clip
    would have scaled both by 1/40.
    """
    norms: dict[str, float] = {}
    for index, group in enumerate(optimizer.param_groups):
        params = [p for p in group["params"] if p.grad is not None]
        if not params:
            continue
        max_norm = group.get("max_grad_norm", default_max_norm)
        norm = torch.nn.utils.get_total_norm([p.grad for p in params])
        if max_norm is not None:
            torch.nn.utils.clip_grads_with_norm_(params, max_norm, norm)
        norms[str(group.get("name", index))] = float(norm)
    return norms


@torch.no_grad()
def evaluate(
    module: nn.Module,
    batches: Sequence[TrainBatch],
    *,
    reconstruction_weight: float,
    accelerator: Accelerator | None = None,
) -> StepStats:
    """Summed statistics over ``batches`` (no gradients, eval mode), as ``StepStats``."""
    module.eval()
    sums: dict[str, float] = {}
    num_codes = 0
    for batch in batches:
        autocast = _null_context() if accelerator is None else accelerator.autocast()
        with autocast:
            out = module(*batch.as_tuple())
        _accumulate(sums, out)
        num_codes += batch.num_codes
    module.train()
    return summarize(sums, reconstruction_weight=reconstruction_weight, num_codes=num_codes)


class _null_context:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
