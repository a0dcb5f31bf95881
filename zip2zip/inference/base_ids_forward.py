"""``model(input_ids=base_ids, attention_mask=..., labels=base_ids).loss``, as a transformers user computes
a loss or a perplexity: the base ids are compressed inside and scored over the joint vocabulary.

The loss is the summed negative log-likelihood of the codes covering the labelled base tokens divided by
the number of those base tokens (nats per base token), so ``exp(loss)`` is a perplexity comparable with the
base model's on the same ``input_ids`` and ``labels``. ``loss_per_code`` divides by codes instead (what
training minimises). Labels follow transformers' convention: ``input_ids`` with -100 where not scored; the
unscored ids must be a prefix of each row (a prompt), compressed as context that no scored code crosses
(``scoring.compress_segments``). The first id of a row is never scored: nothing predicts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from zip2zip.inference.scoring_parse import (
    SegmentedCodes,
    batch_inputs,
    compress_segments,
    last_segment_targets,
)
from zip2zip.modeling.inputs import IGNORE_INDEX
from zip2zip.modeling.model import Zip2ZipOutput, Zip2ZipPreTrainedModel


@dataclass
class BaseIdsOutput(Zip2ZipOutput):
    """What ``model(input_ids=..., labels=...)`` returns for base ids: ``loss`` in nats per scored base
    token (None without labels); ``logits`` ``[B, L, V + C]`` over each row's codes (every code but the
    last is an input), right-padded; under ``lru`` and ``reset`` ``[B, L, V + N]``, one column per entry
    version (``codec.versions``)."""

    loss_per_code: torch.Tensor | None = None  # nats per scored code
    codes: list[list[int]] = field(default_factory=list)  # each row's compressed ids, prompt included
    num_base_tokens: int = 0  # base tokens scored over the batch
    num_codes: int = 0  # codes scored over the batch


def forward_base_ids(
    model: Zip2ZipPreTrainedModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
) -> BaseIdsOutput:
    """Compress each row of ``input_ids`` ``[B, T]`` (any padding side, marked by ``attention_mask``) and
    score it; gradients flow (use ``torch.no_grad()`` to evaluate)."""
    if input_ids.ndim != 2:
        raise ValueError(f"input_ids must be [batch, length]; got shape {tuple(input_ids.shape)}")
    mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
    if mask.shape != input_ids.shape or (labels is not None and labels.shape != input_ids.shape):
        raise ValueError("input_ids, attention_mask and labels must have the same shape [batch, length]")
    segments = []
    num_base = 0
    for r in range(input_ids.shape[0]):
        keep = mask[r].bool()
        ids = input_ids[r][keep].tolist()
        if len(ids) < 2:
            raise ValueError(f"row {r} has {len(ids)} token(s): a row needs two, one to predict the other")
        start = 1 if labels is None else _first_scored(ids, labels[r][keep].tolist(), r)
        segments.append(compress_segments([ids[:start], ids[start:]], model.compression))
        num_base += len(ids) - start
    logits = batch_inputs(segments, model.compression, device=model.input_embeddings.weight.device).logits(
        model
    )
    num_codes = sum(s.codes_per_segment[-1] for s in segments)
    loss = loss_per_code = None
    if labels is not None:
        nll = _summed_nll(logits, segments)
        loss, loss_per_code = nll / num_base, nll / num_codes
    return BaseIdsOutput(logits, loss, loss_per_code, [s.codes for s in segments], num_base, num_codes)


def _first_scored(ids: list[int], labels: list[int], row: int) -> int:
    """The index of the row's first scored id (>= 1), checking the labels are ``ids`` with a -100 prefix."""
    scored = [i for i, label in enumerate(labels) if label != IGNORE_INDEX]
    if not scored:
        raise ValueError(f"row {row} has no label other than {IGNORE_INDEX}: nothing to score")
    start = max(1, scored[0])
    if any(labels[i] != ids[i] for i in range(start, len(ids))) or len(scored) < len(ids) - scored[0]:
        raise ValueError(
            f"row {row}: labels must be input_ids with {IGNORE_INDEX} on a prefix (a prompt) only, as transformers "
            "causal LMs take them; the compressed model predicts the text itself, so other targets cannot be "
            "scored (for compressed targets call model(codes, codebook_table, labels=...))"
        )
    return start


def _summed_nll(logits: torch.Tensor, segments: list[SegmentedCodes]) -> torch.Tensor:
    total = logits.new_zeros((), dtype=torch.float32)
    for r, seg in enumerate(segments):
        targets, row_logits = last_segment_targets(logits, r, seg)
        logprobs = torch.log_softmax(row_logits.float(), dim=-1)
        total = total - logprobs.gather(-1, targets[:, None]).sum()
    return total
