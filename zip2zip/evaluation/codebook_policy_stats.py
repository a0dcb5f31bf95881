"""What a codebook policy (``freeze``, ``reset``, ``lru``) buys on a sample: bytes per id and how entries live.

Each document is LZW-compressed with a fresh codebook under one policy; from the codes and the entry history
(``zip2zip.codec.history.EntryHistory``) this module counts the entries created, those ever used while live
(the paper's ~25% reuse, now per entry lifetime: under ``lru`` and ``reset`` an id names several entries) and
those evicted. It also joins a domain's documents into long ones, the use the policies are for. It does not
tokenize and does not format: the benchmark passes base ids and writes the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zip2zip.codec.history import NO_POSITION, EntryHistory
from zip2zip.codec.lzw_codec import Ids, LZWCodec
from zip2zip.data.tokenizers import Tokenizer
from zip2zip.evaluation.metrics import bytes_per_token, gain_percent


@dataclass
class PolicyTotals:
    """Running totals over the documents of one (tokenizer, domain, policy, codebook size) cell."""

    num_docs: int = 0
    num_bytes: int = 0
    num_base_tokens: int = 0
    num_compressed_ids: int = 0  # compressed stream length: base ids + hypertokens
    num_entries_created: int = 0  # every entry ever created, removed ones included
    num_entries_reused: int = 0  # entries whose id appears in the stream while they are live
    num_entries_evicted: int = 0  # entries removed to make room (lru: a victim; reset: all at each reset)

    def add_document(
        self, num_bytes: int, num_base_tokens: int, codes: np.ndarray, history: EntryHistory
    ) -> None:
        """Count one document: its bytes, base length, compressed ids ``codes`` and the history of its entries."""
        self.num_docs += 1
        self.num_bytes += num_bytes
        self.num_base_tokens += num_base_tokens
        self.num_compressed_ids += int(codes.size)
        self.num_entries_created += int(history.hyper_ids.size)
        self.num_entries_reused += int(np.count_nonzero(entries_used(codes, history)))
        self.num_entries_evicted += int(np.count_nonzero(history.removed_at != NO_POSITION))

    @property
    def base_bytes_per_token(self) -> float:
        return bytes_per_token(self.num_bytes, self.num_base_tokens)

    @property
    def compressed_bytes_per_id(self) -> float:
        return bytes_per_token(self.num_bytes, self.num_compressed_ids)

    @property
    def gain_percent(self) -> float:
        """Bytes per compressed id over bytes per base token, in % (as the efficiency table's gain)."""
        return gain_percent(self.base_bytes_per_token, self.compressed_bytes_per_id)

    @property
    def entry_reuse_fraction(self) -> float:
        """Reused entries / created entries (ratio of totals over documents)."""
        if self.num_entries_created == 0:
            raise ValueError("no entry was created, so the reuse fraction is undefined")
        return self.num_entries_reused / self.num_entries_created


def entries_used(codes: np.ndarray, history: EntryHistory) -> np.ndarray:
    """``[num_created]`` uses of each history row: codes at index t with its id and ``created_at <= t <
    removed_at``. Example: V = 10, one entry id 10 created at 1 and removed at 3, another id 10 from 3 on;
    codes ``[1, 10, 2, 10]`` -> ``[1, 1]``."""
    codes = np.asarray(codes, dtype=np.int64)
    uses = np.zeros(history.hyper_ids.size, dtype=np.int64)  # [num_created]
    if not uses.size:
        return uses
    stride = codes.size + 1  # created_at < stride, so (id, created_at) orders as id * stride + created_at
    order = np.argsort(history.hyper_ids * stride + history.created_at, kind="stable")
    keys = (history.hyper_ids * stride + history.created_at)[order]
    positions = np.flatnonzero(codes >= int(history.hyper_ids.min()))
    found = np.searchsorted(keys, codes[positions] * stride + positions, side="right") - 1
    rows = order[np.maximum(found, 0)]
    is_entry = (found >= 0) & (history.hyper_ids[rows] == codes[positions])
    if np.any(positions[is_entry] >= history.removed_at[rows[is_entry]]):
        raise AssertionError("a code names an entry after its removal: the history and codes disagree")
    np.add.at(uses, rows[is_entry], 1)
    return uses


def measure_policy_efficiency(
    tok: Tokenizer,
    doc_bytes: Sequence[int],
    base_ids: Sequence[Ids],
    *,
    max_subtokens: int,
    max_codebook_size: int,
    codebook_policy: str,
) -> PolicyTotals:
    """Compress every document (``base_ids``: its ids under ``tok``; ``doc_bytes``: its UTF-8 size) under
    ``codebook_policy`` and count; the tokenizer's special ids are never merged. Raises ``AssertionError``
    if a round trip changes ids."""
    codec = LZWCodec(
        tok.vocab_size,
        pad_token_id=tok.pad_token_id,
        max_subtokens=max_subtokens,
        max_codebook_size=max_codebook_size,
        disabled_ids=tok.special_ids,
        codebook_policy=codebook_policy,
    )
    totals = PolicyTotals()
    encoded = codec.encode_each(base_ids)
    decoded = codec.batch_decode([e.ids for e in encoded])
    documents = zip(doc_bytes, base_ids, encoded, decoded, strict=True)
    for index, (num_bytes, ids, codes, round_trip) in enumerate(documents):
        if not np.array_equal(round_trip, np.asarray(ids, dtype=np.int64)):
            raise AssertionError(
                f"{tok.name} doc {index} ({codebook_policy}): LZW round trip changed the ids"
            )
        totals.add_document(num_bytes, codes.num_base_ids, codes.ids, codes.history)
    return totals


def join_documents(
    doc_bytes: Sequence[int], base_ids: Sequence[Sequence[int] | np.ndarray], *, min_base_tokens: int
) -> tuple[list[int], list[list[int]]]:
    """Consecutive documents joined (base ids concatenated, bytes summed) into ones of at least
    ``min_base_tokens`` base ids; a shorter tail joins the last one. Empty if all together are shorter.
    Example: lengths [3, 2, 4, 1], min 4 -> lengths [5, 5]."""
    joined_bytes: list[int] = []
    joined_ids: list[list[int]] = []
    pending_bytes, pending_ids = 0, []
    for num_bytes, ids in zip(doc_bytes, base_ids, strict=True):
        pending_bytes += num_bytes
        pending_ids += list(ids)
        if len(pending_ids) >= min_base_tokens:
            joined_bytes.append(pending_bytes)
            joined_ids.append(pending_ids)
            pending_bytes, pending_ids = 0, []
    if pending_ids and joined_ids:
        joined_bytes[-1] += pending_bytes
        joined_ids[-1] += pending_ids
    return joined_bytes, joined_ids
