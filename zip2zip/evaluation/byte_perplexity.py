"""Byte-level perplexity of whole documents, scored as lm-eval's ``loglikelihood_rolling`` scores them.

A document is cut into lm-eval's own rolling windows (disjoint continuations of at most ``max_length`` base
ids, one id of context carried over, the first window conditioned on ``prefix_token``), every window is
scored by :func:`zip2zip.inference.scoring.score_continuations`, and the scores are summed per document.
Corpus-level bits per byte is a ratio of totals (NLL / bytes / ln 2), with a bootstrap over documents.
Loading corpora, tokenizing and choosing models are the caller's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from zip2zip.inference.scoring import ScoringCosts


def document_windows(ids: list[int], prefix_token: int, max_length: int) -> list[tuple[list[int], list[int]]]:
    """lm-eval's rolling windows of one document: (context, continuation) pairs covering every id once."""
    from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

    windows = get_rolling_token_windows(
        token_list=ids, prefix_token=prefix_token, max_seq_len=max_length, context_len=1
    )
    return [make_disjoint_window(w) for w in windows]


def score_documents(
    model: Any,
    docs_ids: list[list[int]],
    *,
    prefix_token: int,
    max_length: int,
    batch_size: int,
    desc: str,
    canonical: bool = False,
    multiview: bool = False,
    costs: ScoringCosts | None = None,
) -> list[dict[str, float]]:
    """Per document: log-likelihood (nats), base tokens and model steps scored; ``desc`` labels the progress
    bar (windows of every document, ``batch_size`` per forward pass). ``canonical`` adds the canonical
    log-likelihood and the summed mass on impossible codes (``score_continuations``; a window start, like the
    context/continuation boundary, is not masked); ``multiview`` the exact multi-view and first-token
    log-likelihoods (no segmentation crosses a window start either). ``costs`` gathers each score's seconds."""
    from tqdm.auto import tqdm

    from zip2zip.inference.scoring import score_continuations

    requests, owner = [], []
    for d, ids in enumerate(docs_ids):
        for window in document_windows(ids, prefix_token, max_length):
            requests.append(window)
            owner.append(d)
    with tqdm(total=len(requests), desc=desc, unit="window") as bar:
        scores = score_continuations(
            model,
            requests,
            batch_size=batch_size,
            on_batch_done=bar.update,
            canonical=canonical,
            multiview=multiview,
            costs=costs,
        )
    per_doc = [{"logprob": 0.0, "base_tokens": 0, "steps": 0} for _ in docs_ids]
    optional = {
        "canonical_logprob": canonical,
        "impossible_mass": canonical,
        "multiview_logprob": multiview,
        "first_token_logprob": multiview,
    }
    for doc in per_doc:
        doc.update({name: 0.0 for name, wanted in optional.items() if wanted})
    for d, s in zip(owner, scores, strict=True):
        per_doc[d]["logprob"] += s.logprob
        per_doc[d]["base_tokens"] += s.num_base_tokens
        per_doc[d]["steps"] += s.num_codes
        for name, value in (
            ("canonical_logprob", s.canonical_logprob),
            ("impossible_mass", s.impossible_mass_sum),
            ("multiview_logprob", s.multiview_logprob),
            ("first_token_logprob", s.first_token_logprob),
        ):
            if value is not None:
                per_doc[d][name] += value
    return per_doc


def bootstrap_bits_per_byte(
    nll: np.ndarray, num_bytes: np.ndarray, *, samples: int, seed: int
) -> tuple[float, float]:
    """95% percentile interval of corpus bits/byte, resampling documents with replacement."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(nll), size=(samples, len(nll)))
    values = nll[picks].sum(1) / num_bytes[picks].sum(1) / math.log(2)
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)
