"""The ``reset`` and ``lru`` decoder kernel of ``_lzw_fast_policies`` (which re-exports it), apart only to
keep each kernel module readable; tested equal to ``zip2zip.codec.lzw``.

The decoder re-runs the encoder over the decoded base ids, with ``_lzw_fast``'s one-probe shortcut for
canonical codes; a reset while reading a hypertoken re-parses that code id by id (the shortcut's walk
needs the entries a reset drops). As in the encoder, what happens once per canonical code is spelt out
inline (see ``_lzw_fast_policies`` for why); the per-id re-parse calls ``add_entry``.
"""

from __future__ import annotations

from numba import njit

from zip2zip.codec._lzw_fast import _EMPTY, _insert, _lookup
from zip2zip.codec._lzw_fast_dictionary import (
    COUNTERS,
    HEAD,
    HEAP_AT,
    HEAP_SIZE,
    IN_LIST,
    KEY_AT,
    LAST_USE,
    NEXT,
    NUM_CHILDREN,
    NUM_LIVE,
    NUM_ROWS,
    PARENT,
    PREV,
    ROW,
    STEP,
    TAIL,
    add_entry,
    clear_sequence,
    delete_key,
    emitted,
    heap_push,
    heap_remove,
    new_state,
    next_slot,
    reset,
    victim,
)
from zip2zip.codec.history import NO_POSITION


@njit(cache=True, nogil=True)
def _push(
    keys,
    slots,
    out_table,
    out_lengths,
    out_positions,
    out_hyper_ids,
    out_removed,
    entry_base,
    pending,
    pending_ids,
    pending_len,
    c,
    position,
    vocab_size,
    max_subtokens,
    max_codebook_size,
    is_lru,
    pad_token_id,
):  # type: ignore[no-untyped-def]
    """The encoder's step for one base id ``c`` (not disabled) inside a decoder: the new (pending, pending_len)."""
    if pending == _EMPTY:
        pending_ids[0] = c
        pending = c
        pending_len = 1
    else:
        child = _lookup(keys, pending, c, vocab_size)
        if child != _EMPTY:
            pending_ids[pending_len] = c
            pending = child
            pending_len += 1
        else:
            emitted(slots, pending, vocab_size, is_lru)
            if pending_len < max_subtokens:
                add_entry(
                    keys,
                    slots,
                    out_table,
                    out_lengths,
                    out_positions,
                    out_hyper_ids,
                    out_removed,
                    entry_base,
                    pending,
                    pending_ids,
                    pending_len,
                    c,
                    position,
                    vocab_size,
                    max_codebook_size,
                    is_lru,
                    pad_token_id,
                )
            pending_ids[0] = c
            pending = c
            pending_len = 1
    if pending_len == max_subtokens:
        emitted(slots, pending, vocab_size, is_lru)
        pending = _EMPTY
        pending_len = 0
    return pending, pending_len


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
    is_lru,
    pad_token_id,
    out_ids,
    out_offsets,
    out_num_ids,
    out_table,
    table_offsets,
    out_lengths,
    out_positions,
    out_hyper_ids,
    out_removed,
    out_num_entries,
    error,
):  # type: ignore[no-untyped-def]
    """``_lzw_fast.decompress_batch`` under ``reset`` (``is_lru`` False) or ``lru``; entries are history rows."""
    keys, slots, pending_ids = new_state(table_offsets, lo, hi, max_subtokens, max_codebook_size)
    for s in range(lo, hi):
        out_base = out_offsets[s]
        entry_base = table_offsets[s]
        n_out = 0
        pending = _EMPTY
        pending_len = 0
        for t in range(offsets[s + 1] - offsets[s]):
            code = codes[offsets[s] + t]
            if code < vocab_size:
                if code < 0:
                    error[0] = s
                    error[1] = t
                    error[2] = code
                    return
                if disabled[code]:
                    if pending != _EMPTY:
                        emitted(slots, pending, vocab_size, is_lru)
                    out_ids[out_base + n_out] = code
                    n_out += 1
                    pending = _EMPTY
                    pending_len = 0
                    continue
                code_len = 1
                out_ids[out_base + n_out] = code
            else:
                k = code - vocab_size
                if k == next_slot(slots, pending, vocab_size, max_codebook_size, is_lru):
                    # Same-step code: pending phrase + its own first id, created by this very step.
                    if pending == _EMPTY or _lookup(keys, pending, pending_ids[0], vocab_size) != _EMPTY:
                        error[0] = s
                        error[1] = t
                        error[2] = code
                        return
                    code_len = pending_len + 1
                    out_ids[out_base + n_out : out_base + n_out + pending_len] = pending_ids[:pending_len]
                    out_ids[out_base + n_out + pending_len] = pending_ids[0]
                elif k < slots[NUM_LIVE, COUNTERS]:
                    row = entry_base + slots[k, ROW]
                    code_len = out_lengths[row]
                    for j in range(code_len):
                        out_ids[out_base + n_out + j] = out_table[row, j]
                else:
                    error[0] = s
                    error[1] = t
                    error[2] = code
                    return
            first = out_ids[out_base + n_out]
            if (pending == _EMPTY or _lookup(keys, pending, first, vocab_size) == _EMPTY) and (
                is_lru or pending == _EMPTY or slots[NUM_LIVE, COUNTERS] < max_codebook_size or code_len == 1
            ):
                # Canonical step: emit pending, create pending + first, the walk ends at `code` (a reset
                # here would drop the entries the walk needs: those steps take the per-id path below).
                if pending != _EMPTY:
                    slots[STEP, COUNTERS] += 1  # pending's last use is recorded below, after its child
                    if pending_len < max_subtokens:  # add_entry(..., first, t, ...), inline
                        k = slots[NUM_LIVE, COUNTERS]
                        if k < max_codebook_size:
                            slots[NUM_LIVE, COUNTERS] = k + 1
                        elif is_lru:
                            # evict(...), inline
                            exclude = pending - vocab_size if pending >= vocab_size else -1
                            head = slots[HEAD, COUNTERS]
                            if head >= 0 and head == exclude:
                                head = slots[head, NEXT]
                            if slots[HEAP_SIZE, COUNTERS] == 0 and head >= 0:
                                k = head
                            else:
                                k = victim(slots, exclude)
                            if k >= 0:
                                out_removed[entry_base + slots[k, ROW]] = t
                                if slots[k, IN_LIST]:
                                    prev, nxt = slots[k, PREV], slots[k, NEXT]
                                    if prev >= 0:
                                        slots[prev, NEXT] = nxt
                                    else:
                                        slots[HEAD, COUNTERS] = nxt
                                    if nxt >= 0:
                                        slots[nxt, PREV] = prev
                                    else:
                                        slots[TAIL, COUNTERS] = prev
                                    slots[k, IN_LIST] = 0
                                else:
                                    heap_remove(slots, k)
                                parent = slots[k, PARENT]
                                delete_key(keys, slots[k, KEY_AT], slots, vocab_size)
                                if parent >= vocab_size:
                                    p = parent - vocab_size
                                    slots[p, NUM_CHILDREN] -= 1
                                    if slots[p, NUM_CHILDREN] == 0:
                                        heap_push(slots, p)
                        else:
                            reset(keys, slots, out_removed, entry_base, t)
                            k = -1
                        if k >= 0:
                            row = slots[NUM_ROWS, COUNTERS]
                            slots[NUM_ROWS, COUNTERS] = row + 1
                            r = entry_base + row
                            for j in range(pending_len):
                                out_table[r, j] = pending_ids[j]
                            out_table[r, pending_len] = first
                            for j in range(pending_len + 1, max_subtokens):
                                out_table[r, j] = pad_token_id
                            out_lengths[r] = pending_len + 1
                            out_positions[r] = t
                            out_hyper_ids[r] = vocab_size + k
                            out_removed[r] = NO_POSITION
                            slots[k, ROW] = row
                            slots[k, KEY_AT] = _insert(keys, pending, first, vocab_size, vocab_size + k)
                            if is_lru:  # link(slots, k, pending, vocab_size), inline
                                slots[k, NUM_CHILDREN] = 0
                                slots[k, LAST_USE] = slots[STEP, COUNTERS]
                                slots[k, PARENT] = pending
                                if pending >= vocab_size:
                                    p = pending - vocab_size
                                    if slots[p, NUM_CHILDREN] == 0:  # no longer a leaf
                                        if slots[p, IN_LIST]:
                                            prev, nxt = slots[p, PREV], slots[p, NEXT]
                                            if prev >= 0:
                                                slots[prev, NEXT] = nxt
                                            else:
                                                slots[HEAD, COUNTERS] = nxt
                                            if nxt >= 0:
                                                slots[nxt, PREV] = prev
                                            else:
                                                slots[TAIL, COUNTERS] = prev
                                            slots[p, IN_LIST] = 0
                                        elif slots[p, HEAP_AT] >= 0:
                                            heap_remove(slots, p)
                                    slots[p, NUM_CHILDREN] += 1
                                slots[k, HEAP_AT] = -1
                                tail = slots[TAIL, COUNTERS]
                                slots[k, PREV] = tail
                                slots[k, NEXT] = -1
                                slots[k, IN_LIST] = 1
                                if tail >= 0:
                                    slots[tail, NEXT] = k
                                else:
                                    slots[HEAD, COUNTERS] = k
                                slots[TAIL, COUNTERS] = k
                if is_lru and pending >= vocab_size:  # touch(slots, pending - vocab_size), inline
                    k = pending - vocab_size
                    slots[k, LAST_USE] = slots[STEP, COUNTERS]
                    if slots[k, NUM_CHILDREN] == 0:  # a leaf: to the end of the list
                        if slots[k, IN_LIST]:
                            prev, nxt = slots[k, PREV], slots[k, NEXT]
                            if prev >= 0:
                                slots[prev, NEXT] = nxt
                            else:
                                slots[HEAD, COUNTERS] = nxt
                            if nxt >= 0:
                                slots[nxt, PREV] = prev
                            else:
                                slots[TAIL, COUNTERS] = prev
                        elif slots[k, HEAP_AT] >= 0:
                            heap_remove(slots, k)
                        tail = slots[TAIL, COUNTERS]
                        slots[k, PREV] = tail
                        slots[k, NEXT] = -1
                        slots[k, IN_LIST] = 1
                        if tail >= 0:
                            slots[tail, NEXT] = k
                        else:
                            slots[HEAD, COUNTERS] = k
                        slots[TAIL, COUNTERS] = k
                pending = code
                pending_len = code_len
                for j in range(code_len):
                    pending_ids[j] = out_ids[out_base + n_out + j]
                if pending_len == max_subtokens:
                    emitted(slots, pending, vocab_size, is_lru)
                    pending = _EMPTY
                    pending_len = 0
            else:
                # Non-canonical step: push the code's base ids through the encoder one by one.
                for j in range(code_len):
                    pending, pending_len = _push(
                        keys,
                        slots,
                        out_table,
                        out_lengths,
                        out_positions,
                        out_hyper_ids,
                        out_removed,
                        entry_base,
                        pending,
                        pending_ids,
                        pending_len,
                        out_ids[out_base + n_out + j],
                        t,
                        vocab_size,
                        max_subtokens,
                        max_codebook_size,
                        is_lru,
                        pad_token_id,
                    )
            n_out += code_len
        out_num_ids[s] = n_out
        out_num_entries[s] = slots[NUM_ROWS, COUNTERS]
        clear_sequence(keys, slots)
