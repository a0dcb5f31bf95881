"""Reference LZW over token ids, in plain Python: compress, decompress and an incremental stream.

This is the textbook algorithm with three twists that the zip2zip reference package defines and
that trained checkpoints rely on, id for id:

* a phrase holds at most ``max_subtokens`` (M) base ids; a phrase that reaches M ids is emitted at
  once, and no longer entry starts from it;
* when an entry is due and the codebook already holds ``max_codebook_size`` (C) entries, the config's
  ``codebook_policy`` decides: ``freeze`` (the paper's) adds nothing; ``reset`` drops every entry and
  adds nothing, later entries fill ids V, V+1, ... again; ``lru`` gives the new entry the id of a victim:
  the live entry with the oldest last use (the step it was last emitted, or created if never emitted;
  steps count codes that are not disabled ids), ties to the smallest id, among leaves (no live entry
  extends them, so the dictionary stays prefix-closed) other than the pending phrase; with no such leaf
  nothing is added;
* disabled ids (the pad id among them) are emitted as themselves and end the current phrase; they are
  never part of an entry and do not reset the codebook.

Decoding re-runs the encoder over the decoded base ids, so the codebook is a function of the base
stream alone: a "non-canonical" stream (base ids where a hypertoken existed) decodes to the same
text *and* the same codebook, under every policy. The one code a decoder meets before its entry exists
is the LZW "same-step" code: the id the entry due now would take (``V + num_entries`` while there is
room, the lru victim when full; decided before the code is read), whose base ids are the pending
phrase plus that phrase's first id. Live entries always hold ids ``V..V+n-1``; ``*_with_history``
also report every entry ever created, with the code indices that created and removed it.

Worked example (V=10, M=3): compress([1, 2, 1, 2, 1, 2, 1, 2]) -> [1, 2, 10, 12, 2] with entries
10=(1, 2), 11=(2, 1), 12=(1, 2, 1); the second 12 is emitted as soon as it holds M=3 ids.

The compiled fast path in ``_lzw_fast`` is tested equal to this module; use ``zip2zip.codec.lzw_codec.LZWCodec``
for real work. This module does not batch, pad, or import numpy.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from zip2zip.codec.config import CompressionConfig

Entry = tuple[int, ...]  # base ids of one hypertoken, 2..M of them


@dataclass(frozen=True)
class EntryRecord:
    """One entry of a stream's history: what it was, and which codes could name it.

    In an encoder's output, a code at index t names the entry with its id and ``created_at <= t <
    removed_at``; at ``t == created_at`` that is the LZW same-step code (the entry is completed by the
    code naming it). A non-greedy stream may also read an entry that the re-parse of that very code
    then removes (``removed_at == t``): the decoder expands a code before it pushes its base ids.
    """

    hyper_id: int
    base_ids: Entry
    created_at: int  # index of the code on whose reading a decoder creates the entry
    removed_at: int | None  # index of the code on whose reading it is dropped; None while live


@dataclass
class _EncoderState:
    """The encoder's live phrase dictionary, the phrase it is extending (not yet emitted) and the history.

    Live entries always hold ids ``V..V+n-1``: slots fill upwards, lru reuses a victim's id, reset
    empties them all. ``step`` counts emitted codes that are not disabled ids; lru orders leaves by the
    step of their last use (emission, or creation if never emitted), then by id.
    """

    config: CompressionConfig
    phrase_to_id: dict[Entry, int] = field(default_factory=dict)  # live base ids -> hypertoken id
    entries: list[Entry] = field(default_factory=list)  # entries[k] = base ids of live hypertoken V + k
    created_at: list[int] = field(default_factory=list)  # created_at[k]: code index that created V + k
    last_use: list[int] = field(default_factory=list)  # last_use[k]: step of V + k's last use (lru)
    num_children: dict[Entry, int] = field(default_factory=dict)  # live entry -> live entries extending it
    record_of_slot: list[int] = field(default_factory=list)  # record_of_slot[k]: index of V + k in history
    history: list[list] = field(default_factory=list)  # [id, base ids, created_at, removed_at] per entry
    pending: Entry = ()
    step: int = 0
    num_codes: int = 0  # codes emitted, disabled ids included: where the encoder's entries are created

    def __post_init__(self) -> None:
        # read per base id: kept as plain attributes (the reference also drives generation, step by step)
        self.is_lru = self.config.codebook_policy == "lru"
        self.is_frozen = self.config.codebook_policy == "freeze"

    def code_of(self, phrase: Entry) -> int:
        return phrase[0] if len(phrase) == 1 else self.phrase_to_id[phrase]

    def _emit(self, phrase: Entry) -> int:
        code = phrase[0] if len(phrase) == 1 else self.phrase_to_id[phrase]
        self.step += 1
        self.num_codes += 1
        if self.is_lru and len(phrase) > 1:
            self.last_use[code - self.config.initial_vocab_size] = self.step
        return code

    def next_hyper_id(self) -> int | None:
        """The id an entry created now (pending phrase + one base id) would take, or None if none would be
        created: full under freeze or reset; under lru, nothing pending (no victim is decided) or no leaf
        but the pending phrase."""
        cfg = self.config
        if len(self.entries) < cfg.max_codebook_size:
            return cfg.initial_vocab_size + len(self.entries)
        if not self.is_lru or not self.pending:
            return None
        leaves = [k for k, e in enumerate(self.entries) if e != self.pending and not self.num_children.get(e)]
        # oldest last use; on a tie min() keeps the first, the smallest id
        victim = min(leaves, key=lambda k: self.last_use[k], default=None)
        return None if victim is None else cfg.initial_vocab_size + victim

    def _remove(self, slot: int, position: int) -> None:
        """Drop live entry V + slot from the dictionary; its slot is refilled or emptied by the caller."""
        entry = self.entries[slot]
        del self.phrase_to_id[entry]
        self.num_children.pop(entry, None)
        if entry[:-1] in self.num_children:  # reset drops parents and children in any order
            self.num_children[entry[:-1]] -= 1
        self.history[self.record_of_slot[slot]][3] = position

    def _add(self, entry: Entry, position: int) -> int | None:
        """Add ``entry`` (pending phrase + one base id) as the policy says; return its id, if added."""
        hyper_id = self.next_hyper_id()
        if hyper_id is None:
            if self.config.codebook_policy == "reset":
                for slot in range(len(self.entries)):
                    self._remove(slot, position)
                for column in (self.entries, self.created_at, self.last_use, self.record_of_slot):
                    column.clear()
            return None
        slot = hyper_id - self.config.initial_vocab_size
        if slot == len(self.entries):
            self.entries.append(entry)
            self.created_at.append(position)
            self.last_use.append(self.step)
            self.record_of_slot.append(len(self.history))
        else:
            self._remove(slot, position)
            self.entries[slot] = entry
            self.created_at[slot] = position
            self.last_use[slot] = self.step
            self.record_of_slot[slot] = len(self.history)
        self.phrase_to_id[entry] = hyper_id
        if len(entry) > 2:
            self.num_children[entry[:-1]] = self.num_children.get(entry[:-1], 0) + 1
        self.history.append([hyper_id, entry, position, None])
        return hyper_id

    def push(self, base_id: int, position: int | None = None) -> tuple[list[int], tuple[int, Entry] | None]:
        """Consume one base id; return the codes emitted and the ``(id, base ids)`` entry created (if any).

        ``position`` is the index of the code a decoder is reading; the encoder leaves it None, and its
        entries are created at the index of the code it emits next.
        """
        cfg = self.config
        emitted: list[int] = []
        created: tuple[int, Entry] | None = None
        if base_id in cfg.disabled_ids:
            if self.pending:
                emitted.append(self._emit(self.pending))
            emitted.append(base_id)
            self.num_codes += 1
            self.pending = ()
            return emitted, None
        candidate = (*self.pending, base_id)
        if len(candidate) == 1 or candidate in self.phrase_to_id:
            self.pending = candidate
        else:
            emitted.append(self._emit(self.pending))
            is_room = len(self.entries) < cfg.max_codebook_size
            if len(candidate) <= cfg.max_subtokens and (is_room or not self.is_frozen):
                hyper_id = self._add(candidate, self.num_codes if position is None else position)
                created = None if hyper_id is None else (hyper_id, candidate)
            self.pending = (base_id,)
        if len(self.pending) == cfg.max_subtokens:
            emitted.append(self._emit(self.pending))
            self.pending = ()
        return emitted, created

    def flush(self) -> list[int]:
        """Emit the pending phrase (end of input)."""
        codes = [self._emit(self.pending)] if self.pending else []
        self.pending = ()
        return codes

    def records(self) -> list[EntryRecord]:
        return [EntryRecord(i, e, created, removed) for i, e, created, removed in self.history]


def as_id(value: object, *, what: str, position: int) -> int:
    """``value`` as an int id: ints and integer scalars (numpy, 0-d torch) pass; bool, float, str raise.

    Coercing 2.5 to 2 or True to 1 would silently feed the wrong id, so TypeError names the value.
    """
    if type(value) is int:
        return value
    # numpy and torch bool scalars index as 0/1 like bool itself; their dtype gives them away
    if not isinstance(value, bool) and str(getattr(value, "dtype", "")) not in ("bool", "torch.bool"):
        try:
            return operator.index(value)  # type: ignore[arg-type]  # anything may come in; index() decides
        except TypeError:
            pass
    raise TypeError(
        f"{what}: {value!r} ({type(value).__name__}) at position {position} is not an integer id; "
        "pass ints (numpy or torch integer arrays also work)"
    )


def as_ids(values: Iterable[object], what: str) -> list[int]:
    """Each value through ``as_id``; ``what`` names the sequence in the error (e.g. ``prompts[2]``).

    A list of plain ints, the common case, is checked by the set of its types in one pass in C.
    """
    values = list(values)
    if set(map(type, values)) <= {int}:
        return values  # type: ignore[return-value]  # all ints, as just checked
    return [as_id(v, what=what, position=p) for p, v in enumerate(values)]


def _check_base_ids(ids: Iterable[object], vocab_size: int) -> list[int]:
    checked = as_ids(ids, "ids")
    for position, i in enumerate(checked):
        if not 0 <= i < vocab_size:
            raise ValueError(
                f"base id {i} at position {position} is outside the base vocabulary 0..{vocab_size - 1}; "
                "compress() takes base token ids (hypertoken ids are only valid in compressed streams)"
            )
    return checked


def compress(ids: Sequence[int], config: CompressionConfig) -> tuple[list[int], list[Entry], list[int]]:
    """Compress base ids with a fresh codebook.

    Returns ``(codes, entries, entry_positions)``: the compressed ids, the base ids of each entry live at
    the end in id order (entry k has id V + k; under ``freeze`` every entry ever created), and for each
    the index in ``codes`` at which a decoder creates it (the code whose first base id finished it).
    ``compress_with_history`` gives every entry ever created, removed ones included.
    """
    codes, state = _compress(ids, config)
    return codes, state.entries, state.created_at


def compress_with_history(
    ids: Sequence[int], config: CompressionConfig
) -> tuple[list[int], list[EntryRecord]]:
    """Compressed ids and every entry created on the way, in creation order (see ``EntryRecord``)."""
    codes, state = _compress(ids, config)
    return codes, state.records()


def _compress(ids: Sequence[int], config: CompressionConfig) -> tuple[list[int], _EncoderState]:
    state = _EncoderState(config)
    codes: list[int] = []
    for base_id in _check_base_ids(ids, config.initial_vocab_size):
        codes.extend(state.push(base_id)[0])
    codes.extend(state.flush())
    return codes, state


class LZWStream:
    """Incremental decoder for generation: feed compressed (or base) ids one step at a time.

    After each ``feed`` the codebook equals the one ``decompress`` derives from the ids fed so far,
    and ``feed`` returns exactly the entries that step created, so a model can encode just those.
    The decoder re-runs the encoder over the base ids it decodes, so the policy applies to them as
    the encoder applies it; before each code it knows the id an entry created now would take
    (``next_hyper_id``), and a code naming that id is the same-step entry.
    """

    def __init__(self, config: CompressionConfig) -> None:
        self.config = config
        self._encoder = _EncoderState(config)
        self.base_ids: list[int] = []
        self.num_ids_fed = 0

    @property
    def entries(self) -> list[Entry]:
        """Live entries in id order: entry k has id V + k."""
        return self._encoder.entries

    @property
    def entry_positions(self) -> list[int]:
        """Per live entry (id order): index of the fed id that created it."""
        return self._encoder.created_at

    @property
    def history(self) -> list[EntryRecord]:
        """Every entry created so far, in creation order, removed ones included."""
        return self._encoder.records()

    @property
    def num_entries(self) -> int:
        """Live entries: their ids are ``V..V + num_entries - 1``."""
        return len(self._encoder.entries)

    @property
    def next_hyper_id(self) -> int | None:
        """The id an entry created by the next fed id would take (None if none would be created)."""
        return self._encoder.next_hyper_id()

    @property
    def pending_phrase(self) -> Entry:
        return self._encoder.pending

    def same_step_entry(self) -> Entry | None:
        """Base ids the code ``next_hyper_id`` would stand for if fed now, else None.

        Example (V=10, M=3): after feeding [1], the pending phrase is (1,), so feeding 10 would mean (1, 1).
        """
        enc = self._encoder
        w = enc.pending
        if not w or len(w) >= self.config.max_subtokens or self.next_hyper_id is None:
            return None
        candidate = (*w, w[0])
        return None if candidate in enc.phrase_to_id else candidate

    def records_since(self, start: int) -> list[EntryRecord]:
        """History records from the ``start``-th on, in creation order: what a follower has not seen yet
        (``history`` rebuilds every record)."""
        return [EntryRecord(i, e, c, r) for i, e, c, r in self._encoder.history[start:]]

    def hyper_id_of(self, phrase: Entry) -> int | None:
        """Hyper id of a live entry with exactly these base ids, else None."""
        return self._encoder.phrase_to_id.get(phrase)

    def expand(self, code: int) -> Entry:
        """Base ids of ``code`` given the current state (base id, live entry, or same-step code)."""
        code = as_id(code, what="ids", position=self.num_ids_fed)
        v = self.config.initial_vocab_size
        if 0 <= code < v:
            return (code,)
        if code == self.next_hyper_id:
            entry = self.same_step_entry()
            if entry is not None:
                return entry
            reason = "it would be the next entry, but the pending phrase cannot form it"
        elif v <= code < v + self.num_entries:
            return self._encoder.entries[code - v]
        elif code < 0:
            reason = "ids are non-negative"
        else:
            reason = f"only {self.num_entries} entries are live (ids {v}..{v + self.num_entries - 1})"
        raise ValueError(f"id {code} at position {self.num_ids_fed} does not exist yet: {reason}")

    def feed(self, code: int) -> list[tuple[int, Entry]]:
        """Decode one id; return the ``(hyper_id, base_ids)`` entries this step created."""
        expansion = self.expand(code)
        created: list[tuple[int, Entry]] = []
        for base_id in expansion:
            entry = self._encoder.push(base_id, position=self.num_ids_fed)[1]
            if entry is not None:
                created.append(entry)
        self.base_ids.extend(expansion)
        self.num_ids_fed += 1
        return created

    def feed_many(self, codes: Iterable[int]) -> list[tuple[int, Entry]]:
        """Feed several ids (e.g. a prompt); return all entries created, in order."""
        created: list[tuple[int, Entry]] = []
        for code in codes:
            created.extend(self.feed(code))
        return created


def decompress(codes: Sequence[int], config: CompressionConfig) -> tuple[list[int], list[Entry], list[int]]:
    """Inverse of ``compress``: ``(base_ids, entries, entry_positions)`` with the live entries at the end,
    as ``compress`` returns them; raises ValueError on an id that cannot exist."""
    stream = LZWStream(config)
    stream.feed_many(codes)
    return stream.base_ids, stream.entries, stream.entry_positions


def decompress_with_history(
    codes: Sequence[int], config: CompressionConfig
) -> tuple[list[int], list[EntryRecord]]:
    """Base ids and every entry the decoder created, in creation order (see ``EntryRecord``)."""
    stream = LZWStream(config)
    stream.feed_many(codes)
    return stream.base_ids, stream.history
