"""Compiled (numba) LZW kernels for the ``reset`` and ``lru`` codebook policies; tested equal to ``zip2zip.codec.lzw``.

The ``freeze`` kernels of ``_lzw_fast`` stay as they are (no policy branch in their hot loops); these
take the same arguments plus ``is_lru`` (False: reset), the pad id and two history outputs,
``out_hyper_ids`` and ``out_removed``, and keep their dictionary with the helpers of
``_lzw_fast_dictionary`` (see there: history rows, key deletes, the lru leaf order, why one ``slots``).

The decoder, ``decompress_batch``, lives in ``_lzw_fast_policies_decode`` (re-exported here, so that a
policy's kernels are one namespace as ``_lzw_fast``'s are).

What happens once per code is spelt out inline in both kernels' hot paths: the entry created (history
row, phrase table, the lru eviction and links) and, in the encoder, the lru last use. The rare paths
call ``add_entry`` and ``emitted`` of ``_lzw_fast_dictionary``, which do the same. Why: numba counts
references to the arrays a helper takes, atomically, on every call, inlined or not; as helpers these
steps made ``reset`` 3x and ``lru`` 2x slower (codec benchmark, C = 1024: reset encode 13 -> 4 ms, lru
15 -> 9 ms on the long llama3 document). The price is the same steps written out in each kernel, and
kernels as long as ``_lzw_fast``'s.
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
    clear_sequence,
    delete_key,
    emitted,
    heap_push,
    heap_remove,
    new_state,
    reset,
    victim,
)
from zip2zip.codec._lzw_fast_policies_decode import decompress_batch
from zip2zip.codec.history import NO_POSITION

__all__ = ["compress_batch", "decompress_batch"]


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
    is_lru,
    pad_token_id,
    out_codes,
    out_num_codes,
    out_table,
    table_offsets,
    out_lengths,
    out_positions,
    out_hyper_ids,
    out_removed,
    out_num_entries,
    error,
):  # type: ignore[no-untyped-def]
    """``_lzw_fast.compress_batch`` under ``reset`` (``is_lru`` False) or ``lru``; entries are history rows."""
    keys, slots, pending_ids = new_state(table_offsets, lo, hi, max_subtokens, max_codebook_size)
    for s in range(lo, hi):
        start, stop = offsets[s], offsets[s + 1]
        out_base = offsets[s]
        entry_base = table_offsets[s]
        n_out = 0
        pending = _EMPTY
        pending_len = 0
        for pos in range(start, stop):
            c = ids[pos]
            used = _EMPTY  # the hypertoken this id emits, if any: its last use is now
            if c < 0 or c >= vocab_size:
                error[0] = s
                error[1] = pos - start
                error[2] = c
                return
            if disabled[c]:
                if pending != _EMPTY:
                    out_codes[out_base + n_out] = pending
                    n_out += 1
                    emitted(slots, pending, vocab_size, is_lru)
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
                    slots[STEP, COUNTERS] += 1
                    used = pending  # its last use is recorded below, after the entry it may parent
                    if pending_len < max_subtokens:  # add_entry(..., c, n_out, ...), inline
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
                                out_removed[entry_base + slots[k, ROW]] = n_out
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
                            reset(keys, slots, out_removed, entry_base, n_out)
                            k = -1
                        if k >= 0:
                            row = slots[NUM_ROWS, COUNTERS]
                            slots[NUM_ROWS, COUNTERS] = row + 1
                            r = entry_base + row
                            for j in range(pending_len):  # loops, not slices: numba's slice copies cost more
                                out_table[r, j] = pending_ids[j]
                            out_table[r, pending_len] = c
                            for j in range(pending_len + 1, max_subtokens):
                                out_table[r, j] = pad_token_id
                            out_lengths[r] = pending_len + 1
                            out_positions[r] = n_out
                            out_hyper_ids[r] = vocab_size + k
                            out_removed[r] = NO_POSITION
                            slots[k, ROW] = row
                            slots[k, KEY_AT] = _insert(keys, pending, c, vocab_size, vocab_size + k)
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
                    pending = c
                    pending_ids[0] = c
                    pending_len = 1
            if pending_len == max_subtokens:
                out_codes[out_base + n_out] = pending
                n_out += 1
                slots[STEP, COUNTERS] += 1
                used = pending
                pending = _EMPTY
                pending_len = 0
            if is_lru and used >= vocab_size:  # touch(slots, used - vocab_size), inline
                k = used - vocab_size
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
        if pending != _EMPTY:
            out_codes[out_base + n_out] = pending
            n_out += 1
        out_num_codes[s] = n_out
        out_num_entries[s] = slots[NUM_ROWS, COUNTERS]
        clear_sequence(keys, slots)
