"""The perplexity benchmark's rows: one per (model, corpus) with corpus totals, bits per byte, byte perplexity
and their bootstrap intervals, and the rows comparing zip2zip with the control and the base. Kept apart from
the script so it reads as what is measured; the scoring itself is ``zip2zip.evaluation.byte_perplexity``.

A compressed model (C > 0) also gets the canonical numbers, from the same forward passes: ``canonical_*`` are
the same totals with each step's softmax renormalised over the codes the greedy parse can produce
(``zip2zip.modeling.canonical_mask``), and ``impossible_code_mass`` is the mean probability per scored step that
the unmasked softmax put on codes that cannot occur there. With ``multiview`` it also gets ``multiview_*`` (each
scored code's probability summed over its segmentations into available codes) and ``first_token_*`` (their
upper bound; ``zip2zip.inference.multiview``), and every compressed row records what each score cost
(``strict_s``, ``canonical_s``, ``first_token_s``, ``multiview_s``: seconds, summed over the corpus)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from zip2zip.data.corpora import Corpus
from zip2zip.evaluation.byte_perplexity import bootstrap_bits_per_byte, score_documents
from zip2zip.evaluation.results import metric
from zip2zip.inference.scoring import ScoringCosts

from ._checkpoints import zip2zip_comparisons


def score_cell(
    model: Any,
    model_name: str,
    corpus_name: str,
    corpus: Corpus,
    docs_ids: list[list[int]],
    *,
    prefix_token: int,
    max_length: int,
    batch_size: int,
    bootstrap_samples: int,
    seed: int,
    multiview: bool = False,
) -> dict[str, Any]:
    """One (model, corpus) row: the summary metrics and the per-document NLL and bytes they come from;
    ``multiview`` adds the multi-view scores to a compressed model's row."""
    is_compressed = model.compression.max_codebook_size > 0
    costs = ScoringCosts()
    per_doc = score_documents(
        model,
        docs_ids,
        prefix_token=prefix_token,
        max_length=max_length,
        batch_size=batch_size,
        desc=f"{model_name}/{corpus_name}",
        canonical=is_compressed,
        multiview=is_compressed and multiview,
        costs=costs,
    )
    doc_bytes = [len(d.encode("utf-8")) for d in corpus.docs]
    metrics = summarise(per_doc, doc_bytes, bootstrap_samples=bootstrap_samples, seed=seed)
    row = {
        "model": model_name,
        "corpus": corpus_name,
        "corpus_source": corpus.source,
        "metrics": metrics,
        "per_doc_nll_nats": [-d["logprob"] for d in per_doc],
        "per_doc_bytes": doc_bytes,
    }
    if is_compressed:
        scores = ("canonical", "multiview", "first_token") if multiview else ("canonical",)
        for name in scores:
            metrics.update(
                alternative_metrics(name, per_doc, doc_bytes, bootstrap_samples=bootstrap_samples, seed=seed)
            )
            row[f"per_doc_{name}_nll_nats"] = [-d[f"{name}_logprob"] for d in per_doc]
        steps = int(sum(d["steps"] for d in per_doc))
        mass = float(sum(d["impossible_mass"] for d in per_doc))
        metrics["impossible_code_mass"] = metric(mass / steps, "probability/step", num_samples=steps)
        for name in ("strict", *scores):
            metrics[f"{name}_s"] = metric(getattr(costs, name), "s")
    return row


def summarise(
    per_doc: list[dict[str, float]], doc_bytes: list[int], *, bootstrap_samples: int, seed: int
) -> dict[str, Any]:
    """A row's metrics: ratios of corpus totals, bits per byte with a document bootstrap 95% interval."""
    nll = np.array([-d["logprob"] for d in per_doc])
    num_bytes = np.array(doc_bytes, dtype=np.float64)
    bpb, low, high = _bits_per_byte(nll, num_bytes, bootstrap_samples=bootstrap_samples, seed=seed)
    base_tokens = int(sum(d["base_tokens"] for d in per_doc))
    steps = int(sum(d["steps"] for d in per_doc))
    return {
        "nll_nats": metric(float(nll.sum()), "nats"),
        "num_bytes": metric(int(num_bytes.sum()), "bytes"),
        "bits_per_byte": metric(bpb, "bits/byte", ci95=[low, high]),
        "byte_perplexity": metric(2.0**bpb, "", ci95=[2.0**low, 2.0**high]),
        "num_base_tokens": metric(base_tokens, "tokens"),
        "num_steps": metric(steps, "steps"),
        "compression_ratio": metric(base_tokens / steps, "base tokens/step"),
        "nll_per_base_token": metric(float(nll.sum()) / base_tokens, "nats/token"),
    }


def _bits_per_byte(
    nll: np.ndarray, num_bytes: np.ndarray, *, bootstrap_samples: int, seed: int
) -> tuple[float, float, float]:
    """Corpus bits per byte of per-document NLLs (nats), and its document bootstrap 95% interval."""
    bpb = float(nll.sum() / num_bytes.sum() / math.log(2))
    low, high = bootstrap_bits_per_byte(nll, num_bytes, samples=bootstrap_samples, seed=seed)
    return bpb, low, high


def alternative_metrics(
    name: str, per_doc: list[dict[str, float]], doc_bytes: list[int], *, bootstrap_samples: int, seed: int
) -> dict[str, Any]:
    """``summarise``'s likelihood metrics for the score ``name`` (``canonical``, ``multiview``, ``first_token``:
    each document's ``<name>_logprob``), prefixed with ``<name>_``."""
    nll = np.array([-d[f"{name}_logprob"] for d in per_doc])
    num_bytes = np.array(doc_bytes, dtype=np.float64)
    bpb, low, high = _bits_per_byte(nll, num_bytes, bootstrap_samples=bootstrap_samples, seed=seed)
    return {
        f"{name}_nll_nats": metric(float(nll.sum()), "nats"),
        f"{name}_bits_per_byte": metric(bpb, "bits/byte", ci95=[low, high]),
        f"{name}_byte_perplexity": metric(2.0**bpb, "", ci95=[2.0**low, 2.0**high]),
    }


def relative_rows(rows: list[dict[str, Any]], *, bootstrap_samples: int, seed: int) -> list[dict[str, Any]]:
    """zip2zip's byte-perplexity increase over the control and the base, with a paired document bootstrap."""
    out = []
    rng = np.random.default_rng(seed)
    pairs = zip2zip_comparisons(
        rows, item_key="corpus", measured="per_doc_nll_nats", references=("control", "base")
    )
    for corpus, row, reference, ref in pairs:
        num_bytes = np.array(row["per_doc_bytes"], dtype=np.float64)
        ours, theirs = np.array(row["per_doc_nll_nats"]), np.array(ref["per_doc_nll_nats"])
        picks = rng.integers(0, len(ours), size=(bootstrap_samples, len(ours)))
        ratio = np.exp((ours[picks].sum(1) - theirs[picks].sum(1)) / num_bytes[picks].sum(1))
        point = math.exp((ours.sum() - theirs.sum()) / num_bytes.sum())
        low, high = np.percentile(ratio, [2.5, 97.5])
        out.append(
            {
                "model": "zip2zip",
                "corpus": corpus,
                "versus": reference,
                "metrics": {
                    "byte_perplexity_increase_pct": metric(
                        100 * (point - 1), "%", ci95=[100 * (low - 1), 100 * (high - 1)]
                    )
                },
            }
        )
    return out
