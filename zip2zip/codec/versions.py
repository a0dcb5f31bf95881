"""Entry versions of a compressed stream: what each hypertoken id names at each position, for whole-sequence
passes (scoring, teacher forcing) under codebook policies that replace entries (``lru``) or clear them (``reset``).

A version is one (slot, content) pair: the entry a slot holds from the code that created it up to the code that
replaced or dropped it, ``[created, removed)`` in code indices. Replaying the codes through a ``LZWStream``, as
generation does, gives for every code the version it read (the entry its id named when read: a same-step code
reads the version that very code creates; a code may read a version that its own re-parse then drops) and, after
every code, the version the head must hide (under ``lru`` with a full codebook, the victim's id would name the
entry due next, so generation does not offer it). Under ``freeze`` versions are the codebook's entries, never
removed, and nothing is hidden. This module replays and indexes; the model turns versions into columns. Scoring and
training (on their chunks) read versions from here, so both see the stream as generation does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from zip2zip.codec.config import CompressionConfig
from zip2zip.codec.history import NO_POSITION
from zip2zip.codec.lzw import Entry, LZWStream

NO_VERSION = -1  # ``read_versions`` of a base id, ``hidden_versions`` where nothing is hidden


@dataclass
class VersionedCodes:
    """Every version a code stream's decoder created, and which one each code read (see the module docstring)."""

    entries: list[Entry] = field(default_factory=list)  # base ids of version r
    hyper_ids: list[int] = field(default_factory=list)  # the id version r had
    created: list[int] = field(default_factory=list)  # code index that created version r
    removed: list[int] = field(
        default_factory=list
    )  # code index that replaced or dropped it; NO_POSITION if live
    read_versions: list[int] = field(default_factory=list)  # per code: the version it read, or NO_VERSION
    hidden_versions: list[int] = field(
        default_factory=list
    )  # per code: the version hidden after it, or NO_VERSION


def replay_versions(codes: Sequence[int], config: CompressionConfig) -> VersionedCodes:
    """Decode ``codes`` (raises ValueError on an id that cannot exist) and record their versions.

    Example (V=10, M=3, C=2, reset): codes [1, 2, 10, 3, 1, 2, 3] (of 1 2 1 2 3 1 2 3) create (1, 2) = 10 at
    index 1 and (2, 1) = 11 at 2; code 10 at index 2 reads the first; at index 3 the due (1, 2, 3) empties the
    full codebook, so both are removed at 3.
    """
    v = config.initial_vocab_size
    stream = LZWStream(config)
    out = VersionedCodes()
    slot_version: dict[int, int] = {}  # live slot -> its version
    is_reset = config.codebook_policy == "reset"
    for index, code in enumerate(codes):
        is_same_step = code >= v and code == stream.next_hyper_id
        read = slot_version.get(code - v, NO_VERSION) if code >= v and not is_same_step else NO_VERSION
        before = stream.num_entries
        created = stream.feed(code)
        first_new = len(out.entries)
        for hyper_id, entry in created:
            out.entries.append(entry)
            out.hyper_ids.append(hyper_id)
            out.created.append(index)
            out.removed.append(NO_POSITION)
        if is_reset and stream.num_entries < before + len(created):  # the codebook was emptied
            for version in [
                *slot_version.values(),
                *range(first_new, first_new + len(created) - stream.num_entries),
            ]:
                out.removed[version] = index
            slot_version = {}
            created_live = range(len(out.entries) - stream.num_entries, len(out.entries))
        else:
            created_live = range(first_new, len(out.entries))
        for version in created_live:
            slot = out.hyper_ids[version] - v
            if slot in slot_version:
                out.removed[slot_version[slot]] = index
            slot_version[slot] = version
        if is_same_step:
            read = next(r for r in range(first_new, len(out.entries)) if out.hyper_ids[r] == code)
        out.read_versions.append(read)
        out.hidden_versions.append(_hidden_version(stream, slot_version, v))
    return out


def version_column_ids(codes: Sequence[int], versions: VersionedCodes, initial_vocab_size: int) -> list[int]:
    """``codes`` as the columns of a pass over versions: a base id stays, a hypertoken id becomes V + the version it
    read. Example (V=10): codes [1, 10, 10] reading versions 0 and 2 -> [1, 10, 12]."""
    v = initial_vocab_size
    return [c if c < v else v + r for c, r in zip(codes, versions.read_versions, strict=True)]


def _hidden_version(stream: LZWStream, slot_version: dict[int, int], v: int) -> int:
    """The version whose id the decoder would now read as the entry due next (an lru victim), else NO_VERSION."""
    if stream.config.codebook_policy != "lru" or stream.num_entries < stream.config.max_codebook_size:
        return NO_VERSION
    hyper_id = stream.next_hyper_id
    return NO_VERSION if hyper_id is None else slot_version[hyper_id - v]
