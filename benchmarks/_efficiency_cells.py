"""The efficiency benchmark's main-table and M / codebook-size sweep cells of one (tokenizer, corpus): each
compressed once, except a ``protect_digits`` cell, measured with and without the digit ids disabled (its main
cell's totals are reused when measured in the same call). Apart from ``efficiency.py`` so the script reads as
what is measured; the policy sweep has its own file (``_efficiency_policies.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from zip2zip.data.corpora import Corpus
from zip2zip.data.tokenizers import Tokenizer
from zip2zip.evaluation.metrics import EfficiencyTotals
from zip2zip.evaluation.token_efficiency import measure_token_efficiency

from ._efficiency_digits import PROTECT_DIGITS, digit_protection_row
from ._efficiency_row import efficiency_row


def cell_rows(
    tok: Tokenizer,
    corpus: Corpus,
    base_ids: Sequence[np.ndarray],
    cells: Sequence[tuple[str, int, int]],
    *,
    digit_ids: frozenset[int],
    top_n: int,
    note: Callable[[str], None],
) -> list[dict[str, Any]]:
    """One row per (setting, M, C) of ``cells``; ``digit_ids`` are what a ``protect_digits`` cell disables,
    ``note(setting)`` announces each cell to the live view."""
    rows = []
    unprotected: dict[tuple[int, int], EfficiencyTotals] = {}  # (M, C) -> totals with every id mergeable
    for setting, m, c in cells:
        note(setting)
        if (m, c) not in unprotected:
            unprotected[m, c] = measure_token_efficiency(
                tok, corpus, base_ids, max_subtokens=m, max_codebook_size=c
            )
        if setting != PROTECT_DIGITS:
            rows.append(efficiency_row(tok, corpus, setting, m, c, unprotected[m, c], top_n))
            continue
        protected = measure_token_efficiency(
            tok, corpus, base_ids, max_subtokens=m, max_codebook_size=c, protected_ids=digit_ids
        )
        rows.append(
            digit_protection_row(
                tok,
                corpus,
                m,
                c,
                protected=protected,
                unprotected=unprotected[m, c],
                digit_ids=digit_ids,
                top_n=top_n,
            )
        )
    return rows
