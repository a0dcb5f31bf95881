"""Reference LZW over token ids, in plain Python: compress, decompress and an incremental stream.

This is the textbook algorithm with three twists that the zip2zip reference package defines and
that trained checkpoints rely on, id for id:

* a phrase holds at most ``max_subtokens`` (M) base ids; a phrase that reaches M ids is emitted at
  once, and no longer entry starts from it;
* when the codebook holds ``max_codebook_size`` entries nothing more is added (no eviction, no reset);
* disabled ids (the pad id among them) are emitted as themselves and end the current phrase; they are
  never part of an entry and do not reset the codebook.

Decoding re-runs the encoder over the decoded base ids, so the codebook is a function of the base
stream alone: a "non-canonical" stream (base ids where a hypertoken existed) decodes to the same
text *and* the same codebook. The one code a decoder meets before its entry exists is the LZW
"same-step" code ``V + num_entries``: its base ids are the pending phrase plus that phrase's first id.

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


@dataclass
class _EncoderState:
    """The encoder's phrase dictionary and the phrase it is extending (not yet emitted)."""

    config: CompressionConfig
    phrase_to_id: dict[Entry, int] = field(default_factory=dict)  # base ids -> hypertoken id
    entries: list[Entry] = field(default_factory=list)  # entry k = base ids of hypertoken V + k
    pending: Entry = ()

    def code_of(self, phrase: Entry) -> int:
        return phrase[0] if len(phrase) == 1 else self.phrase_to_id[phrase]

    def push(self, base_id: int) -> tuple[list[int], Entry | None]:
        """Consume one base id; return the codes emitted and the entry created (if any)."""
        cfg = self.config
        emitted: list[int] = []
        created: Entry | None = None
        if base_id in cfg.disabled_ids:
            if self.pending:
                emitted.append(self.code_of(self.pending))
            emitted.append(base_id)
            self.pending = ()
            return emitted, None
        candidate = (*self.pending, base_id)
        if len(candidate) == 1 or candidate in self.phrase_to_id:
            self.pending = candidate
        else:
            emitted.append(self.code_of(self.pending))
            if len(self.entries) < cfg.max_codebook_size and len(candidate) <= cfg.max_subtokens:
                self.phrase_to_id[candidate] = cfg.initial_vocab_size + len(self.entries)
                self.entries.append(candidate)
                created = candidate
            self.pending = (base_id,)
        if len(self.pending) == cfg.max_subtokens:
            emitted.append(self.code_of(self.pending))
            self.pending = ()
        return emitted, created

    def flush(self) -> list[int]:
        """Emit the pending phrase (end of input)."""
        codes = [self.code_of(self.pending)] if self.pending else []
        self.pending = ()
        return codes


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

    Returns ``(codes, entries, entry_positions)``: the compressed ids, the base ids of each created
    hypertoken in creation order, and for each entry the index in ``codes`` at which a decoder
    completes it (the code whose first base id finished the entry).
    """
    state = _EncoderState(config)
    codes: list[int] = []
    positions: list[int] = []
    for base_id in _check_base_ids(ids, config.initial_vocab_size):
        emitted, created = state.push(base_id)
        codes.extend(emitted)
        if created is not None:
            positions.append(len(codes))  # the entry's last id starts the next code
    codes.extend(state.flush())
    return codes, state.entries, positions


class LZWStream:
    """Incremental decoder for generation: feed compressed (or base) ids one step at a time.

    After each ``feed`` the codebook equals the one ``decompress`` derives from the ids fed so far,
    and ``feed`` returns exactly the entries that step created, so a model can encode just those.
    """

    def __init__(self, config: CompressionConfig) -> None:
        self.config = config
        self._encoder = _EncoderState(config)
        self.entry_positions: list[int] = []  # per entry: index of the fed id that completed it
        self.base_ids: list[int] = []
        self.num_ids_fed = 0

    @property
    def entries(self) -> list[Entry]:
        return self._encoder.entries

    @property
    def num_entries(self) -> int:
        return len(self._encoder.entries)

    @property
    def next_hyper_id(self) -> int:
        """The id the next created entry will get."""
        return self.config.initial_vocab_size + self.num_entries

    @property
    def pending_phrase(self) -> Entry:
        return self._encoder.pending

    def same_step_entry(self) -> Entry | None:
        """Base ids the not-yet-created code ``next_hyper_id`` would stand for if fed now, else None.

        Example (V=10, M=3): after feeding [1], the pending phrase is (1,), so feeding 10 would mean (1, 1).
        """
        enc, cfg = self._encoder, self.config
        w = enc.pending
        if not w or len(w) >= cfg.max_subtokens or self.num_entries >= cfg.max_codebook_size:
            return None
        candidate = (*w, w[0])
        return None if candidate in enc.phrase_to_id else candidate

    def hyper_id_of(self, phrase: Entry) -> int | None:
        """Hyper id of a completed entry with exactly these base ids, else None."""
        return self._encoder.phrase_to_id.get(phrase)

    def expand(self, code: int) -> Entry:
        """Base ids of ``code`` given the current state (base id, existing entry, or same-step code)."""
        code = as_id(code, what="ids", position=self.num_ids_fed)
        v = self.config.initial_vocab_size
        if 0 <= code < v:
            return (code,)
        k = code - v
        if 0 <= k < self.num_entries:
            return self._encoder.entries[k]
        if k == self.num_entries:
            entry = self.same_step_entry()
            if entry is not None:
                return entry
            reason = "it would be the next entry, but the pending phrase cannot form it"
        elif code < 0:
            reason = "ids are non-negative"
        else:
            reason = f"only {self.num_entries} entries exist (ids {v}..{self.next_hyper_id - 1})"
        raise ValueError(f"id {code} at position {self.num_ids_fed} does not exist yet: {reason}")

    def feed(self, code: int) -> list[tuple[int, Entry]]:
        """Decode one id; return the ``(hyper_id, base_ids)`` entries this step created."""
        expansion = self.expand(code)
        created: list[tuple[int, Entry]] = []
        for base_id in expansion:
            _, entry = self._encoder.push(base_id)
            if entry is not None:
                created.append((self.next_hyper_id - 1, entry))
                self.entry_positions.append(self.num_ids_fed)
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
    """Inverse of ``compress``: ``(base_ids, entries, entry_positions)``; raises ValueError on a bad id."""
    stream = LZWStream(config)
    stream.feed_many(codes)
    return stream.base_ids, stream.entries, stream.entry_positions
