"""Compiled (numba) LZW kernels with exactly the semantics of ``zip2zip.codec.lzw``; tested equal to it.

Why numba: measured on a 2-core CPU (``nox -s codec``), the plain-Python reference
encodes ~2M base ids/s, these kernels ~tens of millions, and numba needs no C toolchain on the
user's machine. Kernels are ``nogil`` so ``LZWCodec`` can run sequences of a batch on several threads.

The phrase dictionary is an open-addressing hash table keyed by (parent code, next base id) packed in
one int64: parent * V + child, with parent < V + C and child < V. Each kernel takes a flat int64 id
array plus per-sequence offsets and processes sequences ``lo..hi-1``; errors are reported as
(sequence index, position, code) in ``error`` (never raised inside the kernel). Kernels do not check
bounds: the caller sizes each sequence's entry rows (``table_offsets``) by the most entries that
sequence can create, and the phrase table is sized from those rows, so memory follows the input, not C.

Decoding re-runs the encoder over the decoded base ids (the codebook depends on the base stream only),
with a shortcut that keeps it at one table probe per *code*: in a canonical stream the pending phrase
plus the next code's first id is never a known phrase, and then the encoder's walk over that code is
known to end at the code itself (every prefix of an entry is a code).

``compress_batch`` and ``decompress_batch`` stay long on purpose: each is one hot loop over every id, and
splitting it into helpers would put calls (and their argument passing) inside that loop.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_EMPTY = -1
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, nogil=True, inline="always")
def _slot(key: np.int64, mask: np.int64) -> np.int64:
    h = np.uint64(key) * _HASH_MULTIPLIER
    return np.int64(h >> np.uint64(32)) & mask


@njit(cache=True, nogil=True, inline="always")
def _lookup(table, parent, child, vocab_size):  # type: ignore[no-untyped-def]
    key = parent * vocab_size + child
    mask = np.int64(len(table) // 2 - 1)
    i = _slot(key, mask)
    while table[2 * i] != _EMPTY:
        if table[2 * i] == key:
            return table[2 * i + 1]
        i = (i + 1) & mask
    return _EMPTY


@njit(cache=True, nogil=True, inline="always")
def _insert(table, parent, child, vocab_size, code):  # type: ignore[no-untyped-def]
    key = parent * vocab_size + child
    mask = np.int64(len(table) // 2 - 1)
    i = _slot(key, mask)
    while table[2 * i] != _EMPTY:
        i = (i + 1) & mask
    table[2 * i] = key
    table[2 * i + 1] = code
    return 2 * i


@njit(cache=True, nogil=True, inline="always")
def _add_entry(
    keys,
    out_table,
    out_lengths,
    out_positions,
    row,
    pending,
    pending_ids,
    pending_len,
    child,
    position,
    vocab_size,
    code,
):  # type: ignore[no-untyped-def]
    """Entry ``row`` := pending phrase + ``child``, known to the phrase table as (pending, child) -> code."""
    out_table[row, :pending_len] = pending_ids[:pending_len]
    out_table[row, pending_len] = child
    out_lengths[row] = pending_len + 1
    out_positions[row] = position
    return _insert(keys, pending, child, vocab_size, code)


@njit(cache=True, nogil=True)
def _new_phrase_table(table_offsets, lo, hi):  # type: ignore[no-untyped-def]
    """Empty phrase table for the most entries one of sequences lo..hi-1 may create (its rows in
    ``table_offsets``) at load factor <= 0.5, and the log of used slots that resets it between sequences."""
    max_entries = 0
    for s in range(lo, hi):
        max_entries = max(max_entries, table_offsets[s + 1] - table_offsets[s])
    size = 16
    while size < 2 * max_entries:
        size *= 2
    keys = np.full(2 * size, _EMPTY, np.int64)  # (key, value) pairs
    return keys, np.empty(max(max_entries, 1), np.int64)


@njit(cache=True, nogil=True)
def compress_batch(
    ids,
    offsets,
    lo,
    hi,
    vocab_size,
    max_subtokens,
    max_codebook_size,
    disabled,
    out_codes,
    out_num_codes,
    out_table,
    table_offsets,
    out_lengths,
    out_positions,
    out_num_entries,
    error,
):  # type: ignore[no-untyped-def]
    """Compress sequences lo..hi-1. Codes of sequence s go to out_codes[offsets[s]:], entries to
    out_table[table_offsets[s]:table_offsets[s + 1]] ([rows, M], caller pre-filled with the pad id)."""
    keys, used_slots = _new_phrase_table(table_offsets, lo, hi)
    pending_ids = np.empty(max(max_subtokens, 1), np.int64)
    for s in range(lo, hi):
        start, stop = offsets[s], offsets[s + 1]
        out_base = offsets[s]
        entry_base = table_offsets[s]
        n_out = 0
        n_entries = 0
        pending = _EMPTY  # code of the pending phrase
        pending_len = 0
        for pos in range(start, stop):
            c = ids[pos]
            if c < 0 or c >= vocab_size:
                error[0] = s
                error[1] = pos - start
                error[2] = c
                return
            if disabled[c]:
                if pending != _EMPTY:
                    out_codes[out_base + n_out] = pending
                    n_out += 1
                out_codes[out_base + n_out] = c
                n_out += 1
                pending = _EMPTY
                pending_len = 0
                continue
            if pending == _EMPTY:
                pending = c
                pending_ids[0] = c
                pending_len = 1
            else:
                child = _lookup(keys, pending, c, vocab_size)
                if child != _EMPTY:
                    pending = child
                    pending_ids[pending_len] = c
                    pending_len += 1
                else:
                    out_codes[out_base + n_out] = pending
                    n_out += 1
                    if n_entries < max_codebook_size and pending_len < max_subtokens:
                        used_slots[n_entries] = _add_entry(
                            keys,
                            out_table,
                            out_lengths,
                            out_positions,
                            entry_base + n_entries,
                            pending,
                            pending_ids,
                            pending_len,
                            c,
                            n_out,
                            vocab_size,
                            vocab_size + n_entries,
                        )
                        n_entries += 1
                    pending = c
                    pending_ids[0] = c
                    pending_len = 1
            if pending_len == max_subtokens:
                out_codes[out_base + n_out] = pending
                n_out += 1
                pending = _EMPTY
                pending_len = 0
        if pending != _EMPTY:
            out_codes[out_base + n_out] = pending
            n_out += 1
        out_num_codes[s] = n_out
        out_num_entries[s] = n_entries
        keys[used_slots[:n_entries]] = _EMPTY


@njit(cache=True, nogil=True)
def decompress_batch(
    codes,
    offsets,
    lo,
    hi,
    vocab_size,
    max_subtokens,
    max_codebook_size,
    disabled,
    out_ids,
    out_offsets,
    out_num_ids,
    out_table,
    table_offsets,
    out_lengths,
    out_positions,
    out_num_entries,
    error,
):  # type: ignore[no-untyped-def]
    """Decompress sequences lo..hi-1 (see module docstring). Base ids of sequence s go to
    out_ids[out_offsets[s]:out_offsets[s + 1]], entries as in ``compress_batch``."""
    keys, used_slots = _new_phrase_table(table_offsets, lo, hi)
    pending_ids = np.empty(max(max_subtokens, 1) + 1, np.int64)
    for s in range(lo, hi):
        out_base = out_offsets[s]
        entry_base = table_offsets[s]
        n_out = 0
        n_entries = 0
        pending = _EMPTY
        pending_len = 0
        for t in range(offsets[s + 1] - offsets[s]):
            code = codes[offsets[s] + t]
            if code < 0 or code > vocab_size + n_entries:
                error[0] = s
                error[1] = t
                error[2] = code
                return
            if code < vocab_size and disabled[code]:
                out_ids[out_base + n_out] = code
                n_out += 1
                pending = _EMPTY
                pending_len = 0
                continue
            if code == vocab_size + n_entries:
                # Same-step code: pending phrase + its own first id, created by this very step.
                if (
                    pending == _EMPTY
                    or pending_len >= max_subtokens
                    or n_entries >= max_codebook_size
                    or _lookup(keys, pending, pending_ids[0], vocab_size) != _EMPTY
                ):
                    error[0] = s
                    error[1] = t
                    error[2] = code
                    return
                first = pending_ids[0]
                used_slots[n_entries] = _add_entry(
                    keys,
                    out_table,
                    out_lengths,
                    out_positions,
                    entry_base + n_entries,
                    pending,
                    pending_ids,
                    pending_len,
                    first,
                    t,
                    vocab_size,
                    code,
                )
                n_entries += 1
                pending_ids[pending_len] = first
                pending_len += 1
                out_ids[out_base + n_out : out_base + n_out + pending_len] = pending_ids[:pending_len]
                n_out += pending_len
                pending = code
                if pending_len == max_subtokens:
                    pending = _EMPTY
                    pending_len = 0
                continue
            # Expand an existing code.
            if code < vocab_size:
                code_len = 1
                out_ids[out_base + n_out] = code
            else:
                row = entry_base + code - vocab_size
                code_len = out_lengths[row]
                out_ids[out_base + n_out : out_base + n_out + code_len] = out_table[row, :code_len]
            first = out_ids[out_base + n_out]
            if pending == _EMPTY or _lookup(keys, pending, first, vocab_size) == _EMPTY:
                # Canonical step: emit pending, create pending + first, the walk ends at `code`.
                if pending != _EMPTY and n_entries < max_codebook_size and pending_len < max_subtokens:
                    used_slots[n_entries] = _add_entry(
                        keys,
                        out_table,
                        out_lengths,
                        out_positions,
                        entry_base + n_entries,
                        pending,
                        pending_ids,
                        pending_len,
                        first,
                        t,
                        vocab_size,
                        vocab_size + n_entries,
                    )
                    n_entries += 1
                pending = code
                pending_len = code_len
                pending_ids[:code_len] = out_ids[out_base + n_out : out_base + n_out + code_len]
                if pending_len == max_subtokens:
                    pending = _EMPTY
                    pending_len = 0
            else:
                # Non-canonical step: push the code's base ids through the encoder one by one.
                for j in range(code_len):
                    c = out_ids[out_base + n_out + j]
                    if pending == _EMPTY:
                        pending = c
                        pending_ids[0] = c
                        pending_len = 1
                    else:
                        child = _lookup(keys, pending, c, vocab_size)
                        if child != _EMPTY:
                            pending = child
                            pending_ids[pending_len] = c
                            pending_len += 1
                        else:
                            if n_entries < max_codebook_size and pending_len < max_subtokens:
                                used_slots[n_entries] = _add_entry(
                                    keys,
                                    out_table,
                                    out_lengths,
                                    out_positions,
                                    entry_base + n_entries,
                                    pending,
                                    pending_ids,
                                    pending_len,
                                    c,
                                    t,
                                    vocab_size,
                                    vocab_size + n_entries,
                                )
                                n_entries += 1
                            pending = c
                            pending_ids[0] = c
                            pending_len = 1
                    if pending_len == max_subtokens:
                        pending = _EMPTY
                        pending_len = 0
            n_out += code_len
        out_num_ids[s] = n_out
        out_num_entries[s] = n_entries
        keys[used_slots[:n_entries]] = _EMPTY
