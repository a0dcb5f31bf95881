"""The bounded, changing phrase dictionary of the ``reset`` and ``lru`` kernels (``_lzw_fast_policies``).

What a dictionary that drops entries needs beyond ``_lzw_fast``'s phrase table, as numba helpers:

* ``out_table`` rows are the *history*: row r is the r-th entry created, with its id (``out_hyper_ids``)
  and the code index that removed it (``out_removed``, ``NO_POSITION`` while live). A sequence creates
  at most one entry per base id but the first, so rows follow the input, not C; the live dictionary
  (``slots``, the phrase table, the heap) holds at most min(rows, C) entries. Rows are written up to
  their length only (the caller pads the rows it reads).
* ``slots[ROW, k]`` is the history row of live id V + k and ``slots[KEY_AT, k]`` where its (parent,
  child) key sits in the phrase table. lru deletes keys by backward shift (no tombstones), moving
  other keys, whose ``KEY_AT`` follows them; reset empties the keys of every live entry.
* lru keeps the live leaves in (last use, id) order in two places: a doubly linked list, appended to
  whenever a leaf gets the current step as its last use (it is used, or created), so it is sorted by
  construction, and a binary min-heap for the entries that become leaves again with an older last use
  (their last child was evicted). The victim is the first of the list's head and the heap's top (each
  skipping the pending phrase). Uses and creations are O(1); only re-leafed entries cost O(log C).
  Two live leaves never share a last use (a step emits one code and creates one entry, its child),
  so the order within the list never needs the id.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from zip2zip.codec._lzw_fast import _EMPTY, _insert, _slot
from zip2zip.codec.history import NO_POSITION

# rows of ``slots``: per live id V + k
ROW, KEY_AT, NUM_CHILDREN, LAST_USE, HEAP_AT, IN_LIST, PREV, NEXT = 0, 1, 2, 3, 4, 5, 6, 7
# entries of ``counters``
NUM_LIVE, NUM_ROWS, STEP, HEAP_SIZE, HEAD, TAIL = 0, 1, 2, 3, 4, 5


@njit(cache=True, nogil=True, inline="always")
def _before(slots, a, b):  # type: ignore[no-untyped-def]
    """Leaf a is evicted before leaf b: older last use, then smaller id."""
    return slots[LAST_USE, a] < slots[LAST_USE, b] or (slots[LAST_USE, a] == slots[LAST_USE, b] and a < b)


@njit(cache=True, nogil=True)
def _sift(heap, slots, size, i):  # type: ignore[no-untyped-def]
    """Restore heap order around position i (after its key changed or it was filled)."""
    item = heap[i]
    while i > 0 and _before(slots, item, heap[(i - 1) // 2]):
        parent = heap[(i - 1) // 2]
        heap[i] = parent
        slots[HEAP_AT, parent] = i
        i = (i - 1) // 2
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and _before(slots, heap[child + 1], heap[child]):
            child += 1
        if not _before(slots, heap[child], item):
            break
        heap[i] = heap[child]
        slots[HEAP_AT, heap[child]] = i
        i = child
    heap[i] = item
    slots[HEAP_AT, item] = i


@njit(cache=True, nogil=True)
def _heap_push(heap, slots, counters, k):  # type: ignore[no-untyped-def]
    size = counters[HEAP_SIZE]
    heap[size] = k
    counters[HEAP_SIZE] = size + 1
    _sift(heap, slots, size + 1, size)


@njit(cache=True, nogil=True)
def _heap_remove(heap, slots, counters, k):  # type: ignore[no-untyped-def]
    i = slots[HEAP_AT, k]
    size = counters[HEAP_SIZE] - 1
    counters[HEAP_SIZE] = size
    slots[HEAP_AT, k] = -1
    if i < size:
        heap[i] = heap[size]
        _sift(heap, slots, size, i)


@njit(cache=True, nogil=True, inline="always")
def _append(slots, counters, k):  # type: ignore[no-untyped-def]
    """Leaf k, whose last use is the current step, goes to the end of the list."""
    tail = counters[TAIL]
    slots[PREV, k] = tail
    slots[NEXT, k] = -1
    slots[IN_LIST, k] = 1
    if tail >= 0:
        slots[NEXT, tail] = k
    else:
        counters[HEAD] = k
    counters[TAIL] = k


@njit(cache=True, nogil=True, inline="always")
def _unlist(heap, slots, counters, k):  # type: ignore[no-untyped-def]
    """Leaf k leaves the list or the heap (it is used, evicted, or gets a child)."""
    if slots[IN_LIST, k]:
        prev, nxt = slots[PREV, k], slots[NEXT, k]
        if prev >= 0:
            slots[NEXT, prev] = nxt
        else:
            counters[HEAD] = nxt
        if nxt >= 0:
            slots[PREV, nxt] = prev
        else:
            counters[TAIL] = prev
        slots[IN_LIST, k] = 0
    elif slots[HEAP_AT, k] >= 0:
        _heap_remove(heap, slots, counters, k)


@njit(cache=True, nogil=True, inline="always")
def emitted(heap, slots, counters, code, vocab_size, is_lru):  # type: ignore[no-untyped-def]
    """Count one emitted code that is not a disabled id (a step); under lru it is the code's last use."""
    counters[STEP] += 1
    if is_lru and code >= vocab_size:
        k = code - vocab_size
        slots[LAST_USE, k] = counters[STEP]
        if slots[NUM_CHILDREN, k] == 0:
            _unlist(heap, slots, counters, k)
            _append(slots, counters, k)


@njit(cache=True, nogil=True, inline="always")
def _victim(heap, slots, counters, exclude):  # type: ignore[no-untyped-def]
    """The lru victim: the first leaf in (last use, id) order that is not ``exclude``; -1 if none."""
    first = counters[HEAD]
    if first >= 0 and first == exclude:
        first = slots[NEXT, first]
    size = counters[HEAP_SIZE]
    top = -1 if size == 0 else heap[0]
    if top >= 0 and top == exclude:  # the next smallest is a child of the root
        top = -1 if size == 1 else heap[1]
        if size > 2 and _before(slots, heap[2], heap[1]):
            top = heap[2]
    if first < 0 or (top >= 0 and _before(slots, top, first)):
        return top
    return first


@njit(cache=True, nogil=True)
def _delete_key(keys, at, slots, vocab_size):  # type: ignore[no-untyped-def]
    """Remove the key at ``keys[at]`` by backward shift; keys that move update their ``KEY_AT``."""
    mask = np.int64(len(keys) // 2 - 1)
    i = at // 2
    j = i
    while True:
        j = (j + 1) & mask
        if keys[2 * j] == _EMPTY:
            break
        home = _slot(keys[2 * j], mask)
        if (home <= i or home > j) if i <= j else (home <= i and home > j):
            keys[2 * i] = keys[2 * j]
            keys[2 * i + 1] = keys[2 * j + 1]
            slots[KEY_AT, keys[2 * i + 1] - vocab_size] = 2 * i
            i = j
    keys[2 * i] = _EMPTY


@njit(cache=True, nogil=True, inline="always")
def next_slot(heap, slots, counters, pending, vocab_size, max_codebook_size, is_lru):  # type: ignore[no-untyped-def]
    """Slot the entry due now would take (see ``lzw._EncoderState.next_hyper_id``), -1 if none."""
    if counters[NUM_LIVE] < max_codebook_size:
        return counters[NUM_LIVE]
    if not is_lru or pending == _EMPTY:
        return -1
    return _victim(heap, slots, counters, pending - vocab_size if pending >= vocab_size else -1)


@njit(cache=True, nogil=True, inline="always")
def add_entry(
    keys,
    slots,
    heap,
    counters,
    out_table,
    out_lengths,
    out_positions,
    out_hyper_ids,
    out_removed,
    entry_base,
    pending,
    pending_ids,
    pending_len,
    child,
    position,
    vocab_size,
    max_codebook_size,
    is_lru,
):  # type: ignore[no-untyped-def]
    """Create pending + ``child`` as the policy says at code index ``position``; its code, or _EMPTY."""
    k = next_slot(heap, slots, counters, pending, vocab_size, max_codebook_size, is_lru)
    if k < 0:
        if not is_lru:  # reset: drop every entry, add nothing
            for j in range(counters[NUM_LIVE]):
                out_removed[entry_base + slots[ROW, j]] = position
                keys[slots[KEY_AT, j]] = _EMPTY  # reset never deletes one key, so none has moved
            counters[NUM_LIVE] = 0
        return _EMPTY
    if k == counters[NUM_LIVE]:
        counters[NUM_LIVE] += 1
    else:  # lru: evict leaf k
        out_removed[entry_base + slots[ROW, k]] = position
        _unlist(heap, slots, counters, k)
        parent = keys[slots[KEY_AT, k]] // vocab_size
        _delete_key(keys, slots[KEY_AT, k], slots, vocab_size)
        if parent >= vocab_size:
            slots[NUM_CHILDREN, parent - vocab_size] -= 1
            if slots[NUM_CHILDREN, parent - vocab_size] == 0:  # a leaf again, with an older last use
                _heap_push(heap, slots, counters, parent - vocab_size)
    row = counters[NUM_ROWS]
    counters[NUM_ROWS] = row + 1
    for j in range(pending_len):  # loops, not slices: numba's slice copies cost more than 3 ids
        out_table[entry_base + row, j] = pending_ids[j]
    out_table[entry_base + row, pending_len] = child
    out_lengths[entry_base + row] = pending_len + 1
    out_positions[entry_base + row] = position
    out_hyper_ids[entry_base + row] = vocab_size + k
    out_removed[entry_base + row] = NO_POSITION
    slots[ROW, k] = row
    slots[KEY_AT, k] = _insert(keys, pending, child, vocab_size, vocab_size + k)
    if is_lru:
        slots[NUM_CHILDREN, k] = 0
        slots[LAST_USE, k] = counters[STEP]
        if pending >= vocab_size:
            p = pending - vocab_size
            if slots[NUM_CHILDREN, p] == 0:
                _unlist(heap, slots, counters, p)
            slots[NUM_CHILDREN, p] += 1
        slots[HEAP_AT, k] = -1
        _append(slots, counters, k)
    return vocab_size + k


@njit(cache=True, nogil=True)
def new_state(table_offsets, lo, hi, max_subtokens, max_codebook_size):  # type: ignore[no-untyped-def]
    """Phrase table, slots, heap and counters for sequences lo..hi-1, sized by the most entries one of
    them can hold live: min(its history rows, C)."""
    max_live = 0
    for s in range(lo, hi):
        max_live = max(max_live, min(table_offsets[s + 1] - table_offsets[s], max_codebook_size))
    size = 16
    while size < 2 * max_live:
        size *= 2
    keys = np.full(2 * size, _EMPTY, np.int64)  # (key, value) pairs
    slots = np.zeros((8, max(max_live, 1)), np.int64)
    heap = np.zeros(max(max_live, 1), np.int64)
    counters = np.zeros(6, np.int64)
    counters[HEAD] = counters[TAIL] = -1
    pending_ids = np.empty(max(max_subtokens, 1) + 1, np.int64)
    return keys, slots, heap, counters, pending_ids


@njit(cache=True, nogil=True, inline="always")
def clear_sequence(keys, slots, counters):  # type: ignore[no-untyped-def]
    for k in range(counters[NUM_LIVE]):
        keys[slots[KEY_AT, k]] = _EMPTY
    counters[:] = 0
    counters[HEAD] = counters[TAIL] = -1
