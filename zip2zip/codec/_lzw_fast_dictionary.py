"""The bounded, changing phrase dictionary of the ``reset`` and ``lru`` kernels (``_lzw_fast_policies``).

What a dictionary that drops entries needs beyond ``_lzw_fast``'s phrase table, as numba helpers:

* ``out_table`` rows are the *history*: row r is the r-th entry created, with its id (``out_hyper_ids``)
  and the code index that removed it (``out_removed``, ``NO_POSITION`` while live). A sequence creates
  at most one entry per base id but the first, so rows follow the input, not C; the live dictionary
  (``slots`` and the phrase table) holds at most min(rows, C) entries. Every column of a row is
  written, the pad id included, so the rows are the history's table as they stand.
* ``slots[k, ROW]`` is the history row of live id V + k and ``slots[k, KEY_AT]`` where its (parent,
  child) key sits in the phrase table. lru deletes keys by backward shift (no tombstones), moving
  other keys, whose ``KEY_AT`` follows them; reset empties the keys of the live entries only, so a
  reset costs O(live entries), not O(table).
* lru keeps the live leaves in (last use, id) order in two places: a doubly linked list, appended to
  whenever a leaf gets the current step as its last use (it is used, or created), so it is sorted by
  construction, and a binary min-heap for the entries that become leaves again with an older last use
  (their last child was evicted). The victim is the first of the list's head and the heap's top (each
  skipping the pending phrase). Uses and creations are O(1); only re-leafed entries cost O(log C).
  Two live leaves never share a last use (a step emits one code and creates one entry, its child),
  so the order within the list never needs the id.
* All of that state, the heap and the counters included, is one array, ``slots``, a row per slot: numba
  increments and decrements an array's reference count (atomically) around the helpers that take it,
  and in the per-code path those counts were a third of the kernel's time (perf; one array instead of
  four: lru encode 19 -> 15 ms on the codec benchmark's long llama3 document); and a slot's fields
  share a cache line (rows rather than columns per field: lru encode ~7.6 -> ~7.0 ms there).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from zip2zip.codec._lzw_fast import _EMPTY, _insert, _slot
from zip2zip.codec.history import NO_POSITION

# columns of ``slots``: the fields of live id V + k in row k (PARENT: the code it extends, kept to spare
# a division), then the heap (of slots; heap position i in row i), then the counters
ROW, KEY_AT, NUM_CHILDREN, LAST_USE, HEAP_AT, IN_LIST, PREV, NEXT, PARENT, HEAP, COUNTERS = range(11)
# rows of ``slots[:, COUNTERS]``
NUM_LIVE, NUM_ROWS, STEP, HEAP_SIZE, HEAD, TAIL = range(6)


@njit(cache=True, nogil=True, inline="always")
def _before(slots, a, b):  # type: ignore[no-untyped-def]
    """Leaf a is evicted before leaf b: older last use, then smaller id."""
    return slots[a, LAST_USE] < slots[b, LAST_USE] or (slots[a, LAST_USE] == slots[b, LAST_USE] and a < b)


@njit(cache=True, nogil=True)
def _sift(slots, size, i):  # type: ignore[no-untyped-def]
    """Restore heap order around position i (after its key changed or it was filled)."""
    item = slots[i, HEAP]
    while i > 0 and _before(slots, item, slots[(i - 1) // 2, HEAP]):
        parent = slots[(i - 1) // 2, HEAP]
        slots[i, HEAP] = parent
        slots[parent, HEAP_AT] = i
        i = (i - 1) // 2
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and _before(slots, slots[child + 1, HEAP], slots[child, HEAP]):
            child += 1
        if not _before(slots, slots[child, HEAP], item):
            break
        slots[i, HEAP] = slots[child, HEAP]
        slots[slots[child, HEAP], HEAP_AT] = i
        i = child
    slots[i, HEAP] = item
    slots[item, HEAP_AT] = i


@njit(cache=True, nogil=True)
def heap_remove(slots, k):  # type: ignore[no-untyped-def]
    """Leaf k leaves the heap (it is used, evicted, or gets a child)."""
    i = slots[k, HEAP_AT]
    size = slots[HEAP_SIZE, COUNTERS] - 1
    slots[HEAP_SIZE, COUNTERS] = size
    slots[k, HEAP_AT] = -1
    if i < size:
        slots[i, HEAP] = slots[size, HEAP]
        _sift(slots, size, i)


@njit(cache=True, nogil=True, inline="always")
def _append(slots, k):  # type: ignore[no-untyped-def]
    """Leaf k, whose last use is the current step, goes to the end of the list."""
    tail = slots[TAIL, COUNTERS]
    slots[k, PREV] = tail
    slots[k, NEXT] = -1
    slots[k, IN_LIST] = 1
    if tail >= 0:
        slots[tail, NEXT] = k
    else:
        slots[HEAD, COUNTERS] = k
    slots[TAIL, COUNTERS] = k


@njit(cache=True, nogil=True, inline="always")
def _unlist(slots, k):  # type: ignore[no-untyped-def]
    """Leaf k leaves the list or the heap (it is used, evicted, or gets a child)."""
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
    elif slots[k, HEAP_AT] >= 0:
        heap_remove(slots, k)


@njit(cache=True, nogil=True, inline="always")
def touch(slots, k):  # type: ignore[no-untyped-def]
    """lru: live id V + k was emitted at the current step, its new last use (a leaf moves to the list's end)."""
    slots[k, LAST_USE] = slots[STEP, COUNTERS]
    if slots[k, NUM_CHILDREN] == 0:
        _unlist(slots, k)
        _append(slots, k)


@njit(cache=True, nogil=True, inline="always")
def emitted(slots, code, vocab_size, is_lru):  # type: ignore[no-untyped-def]
    """Count one emitted code that is not a disabled id (a step); under lru it is the code's last use."""
    slots[STEP, COUNTERS] += 1
    if is_lru and code >= vocab_size:
        touch(slots, code - vocab_size)


@njit(cache=True, nogil=True, inline="always")
def victim(slots, exclude):  # type: ignore[no-untyped-def]
    """The lru victim: the first leaf in (last use, id) order that is not ``exclude``; -1 if none."""
    first = slots[HEAD, COUNTERS]
    if first >= 0 and first == exclude:
        first = slots[first, NEXT]
    size = slots[HEAP_SIZE, COUNTERS]
    top = -1 if size == 0 else slots[0, HEAP]
    if top >= 0 and top == exclude:  # the next smallest is a child of the root
        top = -1 if size == 1 else slots[1, HEAP]
        if size > 2 and _before(slots, slots[2, HEAP], slots[1, HEAP]):
            top = slots[2, HEAP]
    if first < 0 or (top >= 0 and _before(slots, top, first)):
        return top
    return first


@njit(cache=True, nogil=True)
def delete_key(keys, at, slots, vocab_size):  # type: ignore[no-untyped-def]
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
            slots[keys[2 * i + 1] - vocab_size, KEY_AT] = 2 * i
            i = j
    keys[2 * i] = _EMPTY


@njit(cache=True, nogil=True, inline="always")
def next_slot(slots, pending, vocab_size, max_codebook_size, is_lru):  # type: ignore[no-untyped-def]
    """Slot the entry due now would take (see ``lzw._EncoderState.next_hyper_id``), -1 if none."""
    if slots[NUM_LIVE, COUNTERS] < max_codebook_size:
        return slots[NUM_LIVE, COUNTERS]
    if not is_lru or pending == _EMPTY:
        return -1
    return victim(slots, pending - vocab_size if pending >= vocab_size else -1)


@njit(cache=True, nogil=True)
def heap_push(slots, p):  # type: ignore[no-untyped-def]
    """Slot p is a leaf again (its last child was evicted), with an older last use than the list's."""
    size = slots[HEAP_SIZE, COUNTERS]
    slots[size, HEAP] = p
    slots[HEAP_SIZE, COUNTERS] = size + 1
    _sift(slots, size + 1, size)


@njit(cache=True, nogil=True)
def reset(keys, slots, out_removed, entry_base, position):  # type: ignore[no-untyped-def]
    """reset: every live entry is gone at code index ``position``; O(live entries), not O(table)."""
    for j in range(slots[NUM_LIVE, COUNTERS]):
        out_removed[entry_base + slots[j, ROW]] = position
        keys[slots[j, KEY_AT]] = _EMPTY  # reset never deletes one key, so none has moved
    slots[NUM_LIVE, COUNTERS] = 0


@njit(cache=True, nogil=True)
def evict(keys, slots, out_removed, entry_base, pending, position, vocab_size):  # type: ignore[no-untyped-def]
    """lru: drop the victim (at code index ``position``) and return its slot, or -1 if there is none."""
    k = victim(slots, pending - vocab_size if pending >= vocab_size else -1)
    if k < 0:
        return k
    out_removed[entry_base + slots[k, ROW]] = position
    _unlist(slots, k)
    parent = slots[k, PARENT]
    delete_key(keys, slots[k, KEY_AT], slots, vocab_size)
    if parent >= vocab_size:
        p = parent - vocab_size
        slots[p, NUM_CHILDREN] -= 1
        if slots[p, NUM_CHILDREN] == 0:  # a leaf again, with an older last use: into the heap
            heap_push(slots, p)
    return k


@njit(cache=True, nogil=True, inline="always")
def link(slots, k, pending, vocab_size):  # type: ignore[no-untyped-def]
    """lru: the new entry in slot k (pending + one base id) is a leaf used now; pending has one more child."""
    slots[k, NUM_CHILDREN] = 0
    slots[k, LAST_USE] = slots[STEP, COUNTERS]
    slots[k, PARENT] = pending
    if pending >= vocab_size:
        p = pending - vocab_size
        if slots[p, NUM_CHILDREN] == 0:
            _unlist(slots, p)
        slots[p, NUM_CHILDREN] += 1
    slots[k, HEAP_AT] = -1
    _append(slots, k)


@njit(cache=True, nogil=True)
def add_entry(
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
    child,
    position,
    vocab_size,
    max_codebook_size,
    is_lru,
    pad_token_id,
):  # type: ignore[no-untyped-def]
    """Create pending + ``child`` as the policy says at code index ``position`` (the kernels' rare paths;
    their hot paths spell this out inline, see ``_lzw_fast_policies``)."""
    k = slots[NUM_LIVE, COUNTERS]
    if k < max_codebook_size:
        slots[NUM_LIVE, COUNTERS] = k + 1
    elif is_lru:
        k = evict(keys, slots, out_removed, entry_base, pending, position, vocab_size)
    else:
        reset(keys, slots, out_removed, entry_base, position)
        k = -1
    if k < 0:
        return
    row = slots[NUM_ROWS, COUNTERS]
    slots[NUM_ROWS, COUNTERS] = row + 1
    r = entry_base + row
    for j in range(pending_len):
        out_table[r, j] = pending_ids[j]
    out_table[r, pending_len] = child
    for j in range(pending_len + 1, out_table.shape[1]):
        out_table[r, j] = pad_token_id
    out_lengths[r] = pending_len + 1
    out_positions[r] = position
    out_hyper_ids[r] = vocab_size + k
    out_removed[r] = NO_POSITION
    slots[k, ROW] = row
    slots[k, KEY_AT] = _insert(keys, pending, child, vocab_size, vocab_size + k)
    if is_lru:
        link(slots, k, pending, vocab_size)


@njit(cache=True, nogil=True)
def new_state(table_offsets, lo, hi, max_subtokens, max_codebook_size):  # type: ignore[no-untyped-def]
    """Phrase table, slots and pending-id buffer for sequences lo..hi-1, sized by the most entries one of
    them can hold live: min(its history rows, C)."""
    max_live = 0
    for s in range(lo, hi):
        max_live = max(max_live, min(table_offsets[s + 1] - table_offsets[s], max_codebook_size))
    size = 16
    while size < 8 * max_live:  # load <= 1/8: most lookups miss, and a miss at load 1/2 probes ~2.5 keys
        size *= 2  # (lru encode of the long llama3 document: 8.7 ms at load 1/4, 7.1 ms at 1/8)
    keys = np.full(2 * size, _EMPTY, np.int64)  # (key, value) pairs
    slots = np.zeros((max(max_live, TAIL + 1), COUNTERS + 1), np.int64)
    slots[HEAD, COUNTERS] = slots[TAIL, COUNTERS] = -1
    pending_ids = np.empty(max(max_subtokens, 1) + 1, np.int64)
    return keys, slots, pending_ids


@njit(cache=True, nogil=True)
def clear_sequence(keys, slots):  # type: ignore[no-untyped-def]
    for k in range(slots[NUM_LIVE, COUNTERS]):
        keys[slots[k, KEY_AT]] = _EMPTY
    slots[:, COUNTERS] = 0
    slots[HEAD, COUNTERS] = slots[TAIL, COUNTERS] = -1
