"""The JSON row of one efficiency cell (tokenizer, corpus, setting): its keys, metrics with units, and the most
used hypertokens decoded to text. Apart from ``efficiency.py`` so the script reads as what is measured, while
this file says how a cell's totals are reported (and that a cell without hypertokens has no reuse fraction).
"""

from __future__ import annotations

from typing import Any

from zip2zip.data.corpora import Corpus
from zip2zip.data.tokenizers import TOKENIZERS, Tokenizer
from zip2zip.evaluation.metrics import EfficiencyTotals
from zip2zip.evaluation.results import metric


def efficiency_row(
    tok: Tokenizer, corpus: Corpus, setting: str, m: int, c: int, totals: EfficiencyTotals, top_n: int
) -> dict[str, Any]:
    """The row of ``totals`` measured at M = ``m`` and codebook size ``c``, with the ``top_n`` most used
    hypertokens."""
    n = totals.num_docs
    reuse = (
        metric(totals.hypertoken_reuse_fraction, "fraction", num_samples=n)
        if totals.num_hypertokens_created
        else metric(None, "fraction", num_samples=n, reason="no hypertoken was created")
    )
    return {
        **cell_keys(tok, corpus, setting, m, c, num_docs=n),
        "metrics": {
            **size_metrics(
                base_bytes_per_token=totals.base_bytes_per_token,
                bytes_per_compressed_id=totals.zip2zip_bytes_per_token,
                gain_percent=totals.gain_percent,
                num_bytes=totals.num_bytes,
                num_base_tokens=totals.num_base_tokens,
                num_compressed_ids=totals.num_zip2zip_ids,
                num_docs=n,
            ),
            "num_hypertoken_uses": metric(totals.num_hypertoken_uses, "hypertokens", num_samples=n),
            "num_hypertokens_created": metric(totals.num_hypertokens_created, "hypertokens", num_samples=n),
            "num_hypertokens_reused": metric(totals.num_hypertokens_reused, "hypertokens", num_samples=n),
            "hypertoken_reuse_fraction": reuse,
        },
        "top_hypertokens": [
            {"text": tok.decode(ids), "base_ids": list(ids), "num_uses": uses, "num_docs": docs}
            for ids, uses, docs in totals.top_hypertokens(top_n)
        ],
    }


def cell_keys(
    tok: Tokenizer, corpus: Corpus, setting: str, m: int, c: int, *, num_docs: int
) -> dict[str, Any]:
    """The keys every efficiency row starts with: which tokenizer, corpus, setting and codec sizes, and how
    many documents were asked for and used."""
    return {
        "tokenizer": tok.name,
        "tokenizer_label": TOKENIZERS[tok.name].paper_label if tok.name in TOKENIZERS else tok.name,
        "corpus": corpus.name,
        "corpus_source": corpus.source,
        "setting": setting,
        "max_subtokens": m,
        "max_codebook_size": c,
        "num_docs_requested": corpus.num_docs_requested,
        "num_docs_used": num_docs,
    }


def size_metrics(
    *,
    base_bytes_per_token: float,
    bytes_per_compressed_id: float,
    gain_percent: float,
    num_bytes: int,
    num_base_tokens: int,
    num_compressed_ids: int,
    num_docs: int,
) -> dict[str, Any]:
    """The metrics every efficiency row reports: bytes per base token and per compressed id, the gain, and
    the counts they come from."""
    n = num_docs
    return {
        "bytes_per_base_token": metric(base_bytes_per_token, "bytes/base_token", num_samples=n),
        "bytes_per_compressed_id": metric(bytes_per_compressed_id, "bytes/compressed_id", num_samples=n),
        "gain_pct": metric(gain_percent, "%", num_samples=n),
        "num_bytes": metric(num_bytes, "bytes", num_samples=n),
        "num_base_tokens": metric(num_base_tokens, "base_tokens", num_samples=n),
        "num_compressed_ids": metric(num_compressed_ids, "compressed_ids", num_samples=n),
    }
