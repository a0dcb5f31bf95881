"""The efficiency benchmark's codebook-policy sweep: policy x codebook size x domain, on the usual
documents and on long ones (a domain's documents joined), for one tokenizer.

Apart from ``efficiency.py`` so the script keeps its one table's shape; this file says which cells the sweep
has, how long documents are made, and how a cell is written as a row (keys ``policy`` and ``doc_length``
besides the efficiency table's own).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zip2zip.data.corpora import Corpus
from zip2zip.data.tokenizers import Tokenizer
from zip2zip.evaluation.codebook_policy_stats import PolicyTotals, join_documents, measure_policy_efficiency
from zip2zip.evaluation.results import metric

from ._efficiency_row import cell_keys, size_metrics

SETTING = "policy_sweep"
DOC_LENGTHS = ("normal", "long")


def policy_cells(
    policies: Sequence[str], max_codebook_sizes: Sequence[int], max_subtokens: int
) -> list[tuple[str, int, int, str, str]]:
    """(setting, M, codebook size, policy, doc length) of every cell: the key of its row after the
    tokenizer and corpus."""
    return [
        (SETTING, max_subtokens, c, policy, length)
        for length in DOC_LENGTHS
        for policy in policies
        for c in max_codebook_sizes
    ]


def policy_rows(
    tok: Tokenizer,
    corpus: Corpus,
    base_ids: Sequence[np.ndarray],
    cells: Sequence[tuple[str, int, int, str, str]],
    *,
    long_doc_min_base_tokens: int,
    skipped: list[dict[str, str]],
) -> list[dict[str, Any]]:
    """The rows of ``cells`` for one domain. Long documents join the domain's documents into ones of at least
    ``long_doc_min_base_tokens`` base ids; a domain too short for even one has no long rows (said in
    ``skipped``)."""
    doc_bytes = [len(d.encode("utf-8")) for d in corpus.docs]
    docs = {"normal": (doc_bytes, list(base_ids))}
    long_bytes, long_ids = join_documents(doc_bytes, base_ids, min_base_tokens=long_doc_min_base_tokens)
    if long_ids:
        docs["long"] = (long_bytes, [np.array(ids, dtype=np.int64) for ids in long_ids])
    elif any(cell[4] == "long" for cell in cells):
        skipped.append(
            {
                "name": f"{SETTING}:{tok.name}/{corpus.name}/long",
                "reason": f"the domain has {sum(map(len, base_ids))} base ids, fewer than one long document "
                f"of {long_doc_min_base_tokens}",
            }
        )
    rows = []
    for setting, m, c, policy, length in cells:
        if length not in docs:
            continue
        totals = measure_policy_efficiency(
            tok, *docs[length], max_subtokens=m, max_codebook_size=c, codebook_policy=policy
        )
        rows.append(_row(tok, corpus, (setting, m, c, policy, length), totals))
    return rows


def _row(
    tok: Tokenizer, corpus: Corpus, cell: tuple[str, int, int, str, str], totals: PolicyTotals
) -> dict[str, Any]:
    setting, m, c, policy, length = cell
    n = totals.num_docs
    reuse = (
        metric(totals.entry_reuse_fraction, "fraction", num_samples=n)
        if totals.num_entries_created
        else metric(None, "fraction", num_samples=n, reason="no entry was created")
    )
    return {
        **cell_keys(tok, corpus, setting, m, c, num_docs=n),
        "policy": policy,
        "doc_length": length,
        "metrics": {
            **size_metrics(
                base_bytes_per_token=totals.base_bytes_per_token,
                bytes_per_compressed_id=totals.compressed_bytes_per_id,
                gain_percent=totals.gain_percent,
                num_bytes=totals.num_bytes,
                num_base_tokens=totals.num_base_tokens,
                num_compressed_ids=totals.num_compressed_ids,
                num_docs=n,
            ),
            "num_entries_created": metric(totals.num_entries_created, "entries", num_samples=n),
            "num_entries_reused": metric(totals.num_entries_reused, "entries", num_samples=n),
            "num_entries_evicted": metric(totals.num_entries_evicted, "entries", num_samples=n),
            "entry_reuse_fraction": reuse,
        },
    }
