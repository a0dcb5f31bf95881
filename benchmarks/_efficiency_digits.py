"""The efficiency benchmark's digit-protection rows: what never merging digit ids costs in compression.

zip2zip++ reports that protecting digits (``zip2zip.codec.digits``) lifts GSM8K a lot for a small loss of
compression (WikiText 1.209 -> 1.169 base tokens per code). A ``protect_digits`` row is the main cell (same
tokenizer, domain, documents, M and C) measured with the tokenizer's digit-bearing ids disabled; it carries the
unprotected numbers beside its own, so the cost is read from one row without pairing rows. Kept apart from
``efficiency.py`` so the script reads as what is measured.
"""

from __future__ import annotations

from typing import Any

from zip2zip.data.corpora import Corpus
from zip2zip.data.tokenizers import Tokenizer
from zip2zip.evaluation.metrics import EfficiencyTotals
from zip2zip.evaluation.results import metric

from ._efficiency_row import efficiency_row

PROTECT_DIGITS = "protect_digits"  # the rows' ``setting``


def digit_protection_row(
    tok: Tokenizer,
    corpus: Corpus,
    m: int,
    c: int,
    *,
    protected: EfficiencyTotals,
    unprotected: EfficiencyTotals,
    digit_ids: frozenset[int],
    top_n: int,
) -> dict[str, Any]:
    """The row of ``protected`` (digit ids disabled) plus base tokens per compressed id with and without the
    protection, the unprotected bytes per compressed id, the cost in % and how many ids the protection adds
    to the tokenizer's special ids."""
    if protected.num_base_tokens != unprotected.num_base_tokens:
        raise AssertionError(f"{tok.name}/{corpus.name}: protected and unprotected runs read different ids")
    row = efficiency_row(tok, corpus, PROTECT_DIGITS, m, c, protected, top_n)
    n = protected.num_docs
    protected_per_id = protected.num_base_tokens / protected.num_zip2zip_ids
    unprotected_per_id = unprotected.num_base_tokens / unprotected.num_zip2zip_ids
    row["metrics"] |= {
        "num_protected_digit_ids": metric(len(digit_ids - tok.special_ids), "base_ids", num_samples=n),
        "base_tokens_per_compressed_id": metric(protected_per_id, "base_tokens/compressed_id", num_samples=n),
        "unprotected_base_tokens_per_compressed_id": metric(
            unprotected_per_id, "base_tokens/compressed_id", num_samples=n
        ),
        "unprotected_bytes_per_compressed_id": metric(
            unprotected.zip2zip_bytes_per_token, "bytes/compressed_id", num_samples=n
        ),
        # how much shorter each compressed id's text is with digits protected (0 = free)
        "bytes_per_compressed_id_loss_pct": metric(
            100 * (1 - protected.zip2zip_bytes_per_token / unprotected.zip2zip_bytes_per_token),
            "%",
            num_samples=n,
        ),
    }
    return row
