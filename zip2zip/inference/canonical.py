"""Canonical decoding: the codes that cannot follow the last phrase, one generation step at a time.

The rule and its derivation from the encoder's timing are in ``modeling.canonical_mask`` (the whole-sequence
mask, tested equal to this). ``CanonicalTracker`` keeps a children index of the codebook trie, so a step costs
O(entries extending the last phrase + columns masked), never a scan of the codebook.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from zip2zip.codec.lzw import Entry, LZWStream

NEG_INF = float("-inf")


@dataclass
class CanonicalTracker:
    """Follows one ``LZWStream`` in generation and names the impossible columns for its next code.

    Call ``impossible_columns`` once per step after the stream was fed (the first call after the prompt
    returns nothing: the prompt end is a deliberate boundary). Keeps, for live entries, a children index
    (parent base ids -> last id -> hyper id) and a first-id index (first id -> hyper ids), updated from the
    stream's history records created since the previous call (a ``reset`` rebuilds it, once per reset).
    """

    stream: LZWStream
    _children: dict[Entry, dict[int, int]] = field(default_factory=dict)
    _by_first_id: dict[int, set[int]] = field(default_factory=dict)
    _entry_of: dict[int, Entry] = field(default_factory=dict)  # live hyper id -> base ids
    _created_at: dict[int, int] = field(default_factory=dict)  # live hyper id -> creating code index
    _num_records_seen: int = 0
    _num_base_ids_seen: int = -1  # -1 until the first call (the prompt end)
    _hidden_entry: Entry | None = None  # the entry the head hid at the previous call (lru victim)

    def impossible_columns(self) -> list[int]:
        """Columns (base ids and hyper ids) the next code cannot be, given the codes fed so far."""
        stream = self.stream
        self._sync()
        j = stream.num_ids_fed - 1  # index of the last code
        phrase = tuple(stream.base_ids[self._num_base_ids_seen :])
        is_free = self._num_base_ids_seen < 0
        self._num_base_ids_seen = len(stream.base_ids)
        hidden, self._hidden_entry = self._hidden_entry, self._current_hidden_entry()
        if is_free:
            return []
        blocked = [
            t
            for t, hyper_id in self._children.get(phrase, {}).items()
            if self._created_at[hyper_id] <= j - 1 and self._entry_of[hyper_id] != hidden
        ]
        columns = list(blocked)
        for t in blocked:
            columns.extend(self._by_first_id.get(t, ()))
        return columns

    def _current_hidden_entry(self) -> Entry | None:
        stream = self.stream
        config = stream.config
        if config.codebook_policy != "lru" or stream.num_entries < config.max_codebook_size:
            return None
        hyper_id = stream.next_hyper_id
        return None if hyper_id is None else self._entry_of.get(hyper_id)

    def _sync(self) -> None:
        records = self.stream.records_since(self._num_records_seen)
        self._num_records_seen += len(records)
        for record in records:
            if record.hyper_id in self._entry_of:
                self._drop(record.hyper_id)
            self._insert(record.hyper_id, record.base_ids, record.created_at)
        if len(self._entry_of) != self.stream.num_entries:  # a reset emptied the codebook
            self._children.clear()
            self._by_first_id.clear()
            self._entry_of.clear()
            self._created_at.clear()
            v = self.stream.config.initial_vocab_size
            for k, (entry, position) in enumerate(
                zip(self.stream.entries, self.stream.entry_positions, strict=True)
            ):
                self._insert(v + k, entry, position)

    def _insert(self, hyper_id: int, entry: Entry, created_at: int) -> None:
        self._entry_of[hyper_id] = entry
        self._created_at[hyper_id] = created_at
        self._children.setdefault(entry[:-1], {})[entry[-1]] = hyper_id
        self._by_first_id.setdefault(entry[0], set()).add(hyper_id)

    def _drop(self, hyper_id: int) -> None:
        entry = self._entry_of.pop(hyper_id)
        del self._created_at[hyper_id]
        siblings = self._children[entry[:-1]]
        del siblings[entry[-1]]
        if not siblings:
            del self._children[entry[:-1]]
        self._by_first_id[entry[0]].discard(hyper_id)


def mask_impossible(
    logits: torch.Tensor, trackers: list[CanonicalTracker], is_active: list[bool]
) -> torch.Tensor:
    """``[B, W]`` next-code logits with each active row's impossible columns at -inf (a copy)."""
    rows: list[int] = []
    columns: list[int] = []
    for row, tracker in enumerate(trackers):
        blocked = tracker.impossible_columns()
        if is_active[row]:
            rows.extend([row] * len(blocked))
            columns.extend(blocked)
    out = logits.clone()
    if rows:
        out[torch.tensor(rows, device=logits.device), torch.tensor(columns, device=logits.device)] = NEG_INF
    return out
