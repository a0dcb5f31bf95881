"""Teacher-forced log-likelihood of a continuation given its context, over the joint vocabulary.

Shared by the perplexity benchmark and the lm-eval model. Context and continuation are compressed
back to back with one codebook but no code crosses the boundary (``scoring_parse``: the parse generation
would produce, and its padded inputs), so exactly the continuation's base ids are scored, by both compressed
and uncompressed models. The score is the log-probability of this code sequence, a lower bound on the text's
probability summed over all parses; it is what the paper reports. With compression off (C = 0) codes are
base ids and the score is the plain causal-LM log-likelihood.

With ``canonical=True`` each score also comes renormalised over the codes the parse can produce
(``modeling.canonical_mask``: codes that extend the previous phrase into an entry it could have used get no mass;
the context/continuation boundary is deliberate and stays unmasked), with the unmasked mass that sat on the
impossible codes. Both come from the same forward pass; the unmasked score is unchanged.

With ``multiview=True`` each score also carries the exact multi-view log-probability (every segmentation of
each scored code into pieces available there) and its first-token upper bound (``inference.multiview``: the
boundary rules, and one extra forward over the path and its branches with a tree attention mask).
``ScoringCosts`` collects the seconds each score costs.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from zip2zip.codec.config import CompressionConfig
from zip2zip.inference import multiview
from zip2zip.inference.scoring_parse import (
    BatchInputs,
    SegmentedCodes,
    batch_inputs,
    compress_segments,
    last_segment_targets,
)
from zip2zip.modeling.canonical_mask import canonical_scores, chooser_mask, impossible_code_mask
from zip2zip.modeling.model import Zip2ZipPreTrainedModel


@dataclass(frozen=True)
class SpanScore:
    """Score of one continuation: summed log-probability (nats) of its codes and whether argmax picks them."""

    logprob: float
    is_greedy: bool  # every continuation code is the argmax of the joint distribution at its position
    num_codes: int  # model steps scored
    num_base_tokens: int
    # with ``canonical=True`` only: the score renormalised over possible codes, its argmax test, and the
    # unmasked probability mass on impossible codes summed over the scored positions
    canonical_logprob: float | None = None
    is_canonical_greedy: bool | None = None
    impossible_mass_sum: float | None = None
    # with ``multiview=True`` only (``inference.multiview``): exact multi-view and first-token log-probabilities
    multiview_logprob: float | None = None
    first_token_logprob: float | None = None


@dataclass
class ScoringCosts:
    """Seconds spent, summed over calls: ``strict`` (compression, the forward pass, the strict score) and what
    each optional score adds on top of it."""

    strict: float = 0.0
    canonical: float = 0.0
    first_token: float = 0.0
    multiview: float = 0.0

    @contextmanager
    def timing(self, name: str) -> Iterator[None]:
        """Add the seconds the block takes to the field ``name``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            setattr(self, name, getattr(self, name) + time.perf_counter() - started)


@torch.no_grad()
def score_continuations(
    model: Zip2ZipPreTrainedModel,
    requests: Sequence[tuple[Sequence[int], Sequence[int]]],
    *,
    batch_size: int = 4,
    on_batch_done: Callable[[int], None] | None = None,
    canonical: bool = False,
    multiview: bool = False,
    max_branch_nodes: int = multiview.DEFAULT_MAX_BRANCH_NODES,
    costs: ScoringCosts | None = None,
) -> list[SpanScore]:
    """Score ``(context base ids, continuation base ids)`` pairs; the context must not be empty.

    Rows are batched by length (right-padded), so results do not depend on ``batch_size`` beyond
    float noise. ``on_batch_done(n)`` is called with the number of requests each batch finished.
    ``canonical`` and ``multiview`` add their fields of ``SpanScore`` (see the module docstring);
    ``max_branch_nodes`` bounds the branch nodes of one multi-view forward per row (memory). ``costs``
    gathers the seconds of each score.
    """
    costs = costs if costs is not None else ScoringCosts()
    prepared = []
    with costs.timing("strict"):
        for i, (context, continuation) in enumerate(requests):
            if not context:
                raise ValueError(f"request {i} has an empty context: pass at least one id (e.g. BOS/EOS)")
            if not continuation:
                raise ValueError(f"request {i} has an empty continuation: nothing to score")
            prepared.append(compress_segments([context, continuation], model.compression))
    order = sorted(range(len(prepared)), key=lambda i: -len(prepared[i].codes))
    scores: list[SpanScore | None] = [None] * len(prepared)
    options = _Options(canonical, multiview, max_branch_nodes)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        batch = [prepared[i] for i in rows]
        num_base_tokens = [len(requests[i][1]) for i in rows]
        for i, score in zip(rows, _score_batch(model, batch, num_base_tokens, options, costs), strict=True):
            scores[i] = score
        if on_batch_done is not None:
            on_batch_done(len(rows))
    return [s for s in scores if s is not None]


@dataclass(frozen=True)
class _Options:
    canonical: bool
    multiview: bool
    max_branch_nodes: int


def _score_batch(
    model: Zip2ZipPreTrainedModel,
    batch: list[SegmentedCodes],
    num_base_tokens: list[int],
    options: _Options,
    costs: ScoringCosts,
) -> list[SpanScore]:
    with costs.timing("strict"):
        inputs = batch_inputs(batch, model.compression, device=model.input_embeddings.weight.device)
        logits = inputs.logits(model)
        results = []
        for r, seg in enumerate(batch):
            targets, row_logits = last_segment_targets(logits, r, seg)
            logprob = float(torch.log_softmax(row_logits.float(), dim=-1).gather(-1, targets[:, None]).sum())
            is_greedy = bool((row_logits.argmax(-1) == targets).all())
            results.append(SpanScore(logprob, is_greedy, len(targets), num_base_tokens[r]))
    if options.canonical:
        with costs.timing("canonical"):
            results = _with_canonical(results, logits, inputs, model.compression, batch)
    if options.multiview:
        results = _with_multiview(results, model, logits, inputs, batch, options.max_branch_nodes, costs)
    return results


def _with_multiview(
    results: list[SpanScore],
    model: Zip2ZipPreTrainedModel,
    logits: torch.Tensor,
    inputs: BatchInputs,
    batch: list[SegmentedCodes],
    max_branch_nodes: int,
    costs: ScoringCosts,
) -> list[SpanScore]:
    """``results`` with the multi-view fields: the first-token bound from the strict pass, the exact score
    from the branch forwards (``inference.multiview``)."""
    with costs.timing("first_token"):
        trees = multiview.batch_trees(inputs, batch, model.compression)
        scored = [
            multiview.log_softmax_at_least_fp32(last_segment_targets(logits, r, seg)[1])
            for r, seg in enumerate(batch)
        ]
        first_token = [multiview.first_token_logprob(row, lp) for row, lp in zip(trees, scored, strict=True)]
    with costs.timing("multiview"):
        exact = multiview.exact_logprobs(model, inputs, trees, scored, max_branch_nodes=max_branch_nodes)
    return [
        dataclasses.replace(score, multiview_logprob=e, first_token_logprob=f)
        for score, e, f in zip(results, exact, first_token, strict=True)
    ]


def _with_canonical(
    results: list[SpanScore],
    logits: torch.Tensor,
    inputs: BatchInputs,
    comp: CompressionConfig,
    batch: list[SegmentedCodes],
) -> list[SpanScore]:
    """``results`` with the canonical fields: the mask is built only at each row's scored positions."""
    chooser = chooser_mask(inputs.offered(), inputs.removal_positions)  # [B, L, S]
    out = []
    for r, (seg, score) in enumerate(zip(batch, results, strict=True)):
        targets, row_logits = last_segment_targets(logits, r, seg)
        first = len(seg.codes) - 1 - len(targets)
        span = slice(first, first + len(targets))
        row_chooser = chooser[r : r + 1, span].clone()
        row_chooser[:, 0] = False  # the context/continuation boundary is deliberate
        impossible = impossible_code_mask(
            inputs.input_ids[r : r + 1, span],
            inputs.codebook_table[r : r + 1],
            row_chooser,
            initial_vocab_size=comp.initial_vocab_size,
            pad_token_id=comp.pad_token_id,
        )[0]  # [n, V + S]
        both = canonical_scores(row_logits, targets, impossible)
        argmax = row_logits.argmax(-1)  # [n]
        out.append(
            dataclasses.replace(
                score,
                canonical_logprob=float(both.canonical_logprobs.sum()),
                is_canonical_greedy=bool((_masked_argmax(row_logits, argmax, impossible) == targets).all()),
                impossible_mass_sum=float(both.impossible_mass.sum()),
            )
        )
    return out


def _masked_argmax(logits: torch.Tensor, argmax: torch.Tensor, impossible: torch.Tensor) -> torch.Tensor:
    """Argmax ``[n]`` of ``logits`` ``[n, W]`` without the ``impossible`` ``[n, W']`` columns; rows whose plain
    ``argmax`` is possible keep it, the rest are recomputed (no masked copy of every row)."""
    width = impossible.shape[-1]
    is_hit = (argmax < width) & impossible.gather(-1, argmax.clamp_max(width - 1)[:, None]).squeeze(-1)
    out = argmax.clone()
    if bool(is_hit.any()):
        rows = logits[is_hit]
        out[is_hit] = torch.cat(
            [rows[:, :width].masked_fill(impossible[is_hit], float("-inf")), rows[:, width:]], -1
        ).argmax(-1)
    return out
