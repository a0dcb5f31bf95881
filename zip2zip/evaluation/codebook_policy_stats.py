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
from zip2zip.codec.lzw_codec import Encoded, Ids, LZWCodec
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

    def add_documents(self, doc_bytes: Sequence[int], encoded: Sequence[Encoded]) -> None:
        """Count documents: their UTF-8 sizes and their compressed streams (codes and entry histories)."""
        if len(doc_bytes) != len(encoded):
            raise ValueError(f"{len(doc_bytes)} document sizes for {len(encoded)} compressed documents")
        histories = [e.history for e in encoded]
        self.num_docs += len(encoded)
        self.num_bytes += sum(doc_bytes)
        self.num_base_tokens += sum(e.num_base_ids for e in encoded)
        self.num_compressed_ids += sum(e.ids.size for e in encoded)
        self.num_entries_created += sum(h.hyper_ids.size for h in histories)
        uses = entries_used_per_document([e.ids for e in encoded], histories)
        self.num_entries_reused += sum(int(np.count_nonzero(u)) for u in uses)
        self.num_entries_evicted += sum(int(np.count_nonzero(h.removed_at != NO_POSITION)) for h in histories)

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


_MAX_KEY = 2**62  # keys of (document, id, index) stay below it, so they never overflow int64


def entries_used(codes: np.ndarray, history: EntryHistory) -> np.ndarray:
    """``[num_created]`` uses of each history row: codes at index t with its id and ``created_at <= t <
    removed_at``. Example: V = 10, one entry id 10 created at 1 and removed at 3, another id 10 from 3 on;
    codes ``[1, 10, 2, 10]`` -> ``[1, 1]``."""
    return entries_used_per_document([codes], [history])[0]


def entries_used_per_document(
    codes: Sequence[np.ndarray], histories: Sequence[EntryHistory]
) -> list[np.ndarray]:
    """``entries_used`` of each document (its codes and history), in one vectorised pass: a history row is
    keyed (document, id, created_at), a code (document, id, index), and each code finds the last row at or
    before it. Documents too many for one int64 key are counted one at a time."""
    num_rows = [h.hyper_ids.size for h in histories]
    uses = np.zeros(sum(num_rows), dtype=np.int64)  # [num_created over all documents]
    if not histories:
        return []
    if not uses.size:
        return np.split(uses, np.cumsum(num_rows)[:-1])
    hyper_ids = np.concatenate([h.hyper_ids for h in histories])
    row_doc = np.repeat(np.arange(len(histories)), num_rows)
    lengths = [len(c) for c in codes]
    all_codes = np.concatenate([np.asarray(c, dtype=np.int64) for c in codes])
    code_doc = np.repeat(np.arange(len(codes)), lengths)
    index = np.arange(all_codes.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    lowest = int(hyper_ids.min())
    is_hyper = all_codes >= lowest
    num_ids = max(int(hyper_ids.max()), int(all_codes.max(initial=lowest))) - lowest + 1
    stride = max(lengths) + 1  # created_at <= the document's number of codes
    if len(histories) > 1 and len(histories) * num_ids * stride >= _MAX_KEY:
        return [entries_used_per_document([c], [h])[0] for c, h in zip(codes, histories, strict=True)]

    def key(doc: np.ndarray, ids: np.ndarray, at: np.ndarray) -> np.ndarray:
        return (doc * num_ids + (ids - lowest)) * stride + at

    row_keys = key(row_doc, hyper_ids, np.concatenate([h.created_at for h in histories]))
    order = np.argsort(row_keys, kind="stable")
    doc, ids, at = code_doc[is_hyper], all_codes[is_hyper], index[is_hyper]
    found = np.searchsorted(row_keys[order], key(doc, ids, at), side="right") - 1
    rows = order[np.maximum(found, 0)]
    is_entry = (found >= 0) & (hyper_ids[rows] == ids) & (row_doc[rows] == doc)
    removed_at = np.concatenate([h.removed_at for h in histories])
    if np.any(at[is_entry] >= removed_at[rows[is_entry]]):
        raise AssertionError("a code names an entry after its removal: the history and codes disagree")
    np.add.at(uses, rows[is_entry], 1)
    return np.split(uses, np.cumsum(num_rows)[:-1])


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
    encoded = codec.encode_each(base_ids)
    decoded = codec.batch_decode([e.ids for e in encoded])
    for index, (ids, round_trip) in enumerate(zip(base_ids, decoded, strict=True)):
        if not np.array_equal(round_trip, np.asarray(ids, dtype=np.int64)):
            raise AssertionError(
                f"{tok.name} doc {index} ({codebook_policy}): LZW round trip changed the ids"
            )
    totals = PolicyTotals()
    totals.add_documents(doc_bytes, encoded)
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
