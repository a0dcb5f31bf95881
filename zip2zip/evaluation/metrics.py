"""Token-efficiency metrics of the paper's first table, aggregated as ratios of totals.

* bytes per base token  = total UTF-8 bytes / total base-tokenizer ids, over all documents of a domain;
* bytes per zip2zip id  = total UTF-8 bytes / total compressed ids (base ids + hypertokens) after
  per-document LZW;
* gain %                = 100 * (zip2zip bytes/id / base bytes/token - 1);
* hypertoken reuse      = of all codebook entries created, the fraction whose id appears in the compressed
  stream at least once (an entry can only be emitted after it was created, so that is "used again").

Totals, not means of per-document ratios (the upstream script averaged per-document ratios, which weighs a
50-byte document like a 50 KB one). Nothing here tokenizes, compresses or rounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


class HypertokenCodebook(Protocol):
    """What ``EfficiencyTotals.add_document`` reads of a codebook (``zip2zip.Codebook`` has it)."""

    @property
    def num_entries(self) -> int: ...

    @property
    def table(self) -> np.ndarray: ...  # [num_entries, M] base ids, right-padded

    @property
    def lengths(self) -> np.ndarray: ...  # [num_entries] base ids per entry


def bytes_per_token(num_bytes: int, num_tokens: int) -> float:
    """UTF-8 bytes per id. Example: ``bytes_per_token(10, 4) == 2.5``. Raises on zero ids (no sentinel)."""
    if num_tokens <= 0:
        raise ValueError(f"bytes per token is undefined for num_tokens={num_tokens} (num_bytes={num_bytes})")
    return num_bytes / num_tokens


def gain_percent(base: float, zip2zip: float) -> float:
    """Relative improvement in %. Example: ``gain_percent(4.0, 6.0) == 50.0``."""
    if base <= 0:
        raise ValueError(f"gain is undefined for a base value of {base}")
    return 100.0 * (zip2zip / base - 1.0)


@dataclass
class EfficiencyTotals:
    """Running totals over the documents of one (tokenizer, domain) cell."""

    vocab_size: int  # V: ids >= V in a compressed stream are hypertokens
    num_docs: int = 0
    num_bytes: int = 0
    num_base_tokens: int = 0
    num_zip2zip_ids: int = 0  # compressed stream length: base ids + hypertokens
    num_hypertoken_uses: int = 0  # positions of the compressed streams holding a hypertoken
    num_hypertokens_created: int = 0  # codebook entries, summed over documents
    num_hypertokens_reused: int = 0  # entries whose id appears in their document's stream
    # Per document, the base ids of each entry it used (padded with -1) and how often: aggregated over
    # documents only when asked (``top_hypertokens``), in numpy rather than per entry in Python.
    _used_subtokens: list[np.ndarray] = field(default_factory=list, repr=False)  # [num_used, M] each
    _used_counts: list[np.ndarray] = field(default_factory=list, repr=False)  # [num_used] each

    def add_document(
        self, num_bytes: int, num_base_tokens: int, codes: np.ndarray, codebook: HypertokenCodebook
    ) -> None:
        """Count one document: its bytes, base length, compressed ids ``codes`` and the codebook built for it.

        ``codebook`` needs ``num_entries``, and ``table`` and ``lengths`` once an entry is used.
        """
        codes = np.asarray(codes, dtype=np.int64)
        num_entries = int(codebook.num_entries)
        hyper = codes[codes >= self.vocab_size] - self.vocab_size
        if hyper.size and int(hyper.max()) >= num_entries:
            raise ValueError(
                f"hypertoken {int(hyper.max()) + self.vocab_size} used but only {num_entries} entries exist"
            )
        uses = np.bincount(hyper, minlength=num_entries)  # [num_entries]
        self.num_docs += 1
        self.num_bytes += num_bytes
        self.num_base_tokens += num_base_tokens
        self.num_zip2zip_ids += int(codes.size)
        self.num_hypertoken_uses += int(hyper.size)
        self.num_hypertokens_created += num_entries
        used = np.flatnonzero(uses)
        self.num_hypertokens_reused += int(used.size)
        if used.size:
            subtokens = np.array(codebook.table[used], dtype=np.int64)  # [num_used, M]
            subtokens[np.arange(subtokens.shape[1]) >= np.asarray(codebook.lengths)[used, None]] = -1
            self._used_subtokens.append(subtokens)
            self._used_counts.append(uses[used])

    @property
    def base_bytes_per_token(self) -> float:
        return bytes_per_token(self.num_bytes, self.num_base_tokens)

    @property
    def zip2zip_bytes_per_token(self) -> float:
        return bytes_per_token(self.num_bytes, self.num_zip2zip_ids)

    @property
    def gain_percent(self) -> float:
        return gain_percent(self.base_bytes_per_token, self.zip2zip_bytes_per_token)

    @property
    def hypertoken_reuse_fraction(self) -> float:
        """Reused entries / created entries (ratio of totals over documents)."""
        if self.num_hypertokens_created == 0:
            raise ValueError("no hypertoken was created, so the reuse fraction is undefined")
        return self.num_hypertokens_reused / self.num_hypertokens_created

    def top_hypertokens(self, n: int = 10) -> list[tuple[tuple[int, ...], int, int]]:
        """The ``n`` most used hypertokens as (base ids, number of uses, number of documents using it), by
        uses, then by base ids (as tuples compare: -1 padding sorts a prefix first, base ids being >= 0)."""
        if not self._used_subtokens:
            return []
        keys, which = _unique_rows(np.concatenate(self._used_subtokens))
        uses = np.zeros(len(keys), np.int64)
        np.add.at(uses, which, np.concatenate(self._used_counts))
        num_docs = np.bincount(which, minlength=len(keys))  # one per document: its entries differ
        ranked = np.argsort(-uses, kind="stable")[:n]  # keys are sorted, so ties stay in base-id order
        return [(tuple(int(t) for t in keys[k] if t >= 0), int(uses[k]), int(num_docs[k])) for k in ranked]


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(rows, axis=0, return_inverse=True)`` (sorted distinct rows, and each row's index among
    them), by a lexsort of the columns: ~3x faster than numpy's sort of rows as opaque bytes.
    Example: ``[[2, 1], [1, 5], [2, 1]]`` -> ``[[1, 5], [2, 1]]``, ``[1, 0, 1]``."""
    order = np.lexsort(rows.T[::-1])  # the first column is the primary key
    ordered = rows[order]
    is_new = np.ones(len(rows), dtype=bool)
    is_new[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    which = np.empty(len(rows), dtype=np.int64)
    which[order] = np.cumsum(is_new) - 1
    return ordered[is_new], which
