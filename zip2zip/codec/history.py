"""The history of a sequence's codebook: every entry it created, removed ones included.

Under ``freeze`` the history is the final codebook (entry k is id V + k, never removed); under ``reset``
and ``lru`` entries are dropped and ids reused, and a model needs the history to know which entry each
id names at each position. This module only holds and converts it; the codecs fill it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zip2zip.codec import lzw
from zip2zip.codec.codebook import Codebook
from zip2zip.codec.config import CompressionConfig

# ``entry_positions`` of a codebook slot no entry fills, and ``removed_at`` of a live entry: the position is
# never reached, so the slot is never available and the entry never gone.
NO_POSITION = int(np.iinfo(np.int64).max)


@dataclass(frozen=True)
class EntryHistory:
    """Every entry one sequence created, in creation order (removed ones too: ``reset`` and ``lru``).

    Row r is hypertoken ``hyper_ids[r]`` with base ids ``table[r, :lengths[r]]``; in an encoder's output
    it is what a code at index t with that id names for ``created_at[r] <= t < removed_at[r]``
    (``NO_POSITION`` while live). See ``zip2zip.codec.lzw.EntryRecord`` for non-greedy streams.
    """

    hyper_ids: np.ndarray  # [num_created] int64
    table: np.ndarray  # [num_created, max_subtokens] int64, right-padded with the pad id
    lengths: np.ndarray  # [num_created] int64
    created_at: np.ndarray  # [num_created] int64
    removed_at: np.ndarray  # [num_created] int64

    @classmethod
    def of_records(cls, config: CompressionConfig, records: Sequence[lzw.EntryRecord]) -> EntryHistory:
        table = np.full((len(records), config.max_subtokens), config.pad_token_id, np.int64)
        for row, record in zip(table, records, strict=True):
            row[: len(record.base_ids)] = record.base_ids
        return cls(
            hyper_ids=np.array([r.hyper_id for r in records], np.int64),
            table=table,
            lengths=np.array([len(r.base_ids) for r in records], np.int64),
            created_at=np.array([r.created_at for r in records], np.int64),
            removed_at=np.array(
                [NO_POSITION if r.removed_at is None else r.removed_at for r in records], np.int64
            ),
        )

    @classmethod
    def of_frozen(cls, codebook: Codebook, entry_positions: np.ndarray) -> EntryHistory:
        """Under ``freeze`` the history is the final codebook: entry k is id V + k, never removed."""
        n = codebook.num_entries
        return cls(
            hyper_ids=codebook.config.initial_vocab_size + np.arange(n, dtype=np.int64),
            table=codebook.table,
            lengths=codebook.lengths,
            created_at=entry_positions,
            removed_at=np.full(n, NO_POSITION, np.int64),
        )

    def records(self) -> list[lzw.EntryRecord]:
        """As ``zip2zip.codec.lzw.compress_with_history`` gives them (``removed_at`` None while live)."""
        return [
            lzw.EntryRecord(
                int(i), tuple(int(t) for t in row[:n]), int(c), None if r == NO_POSITION else int(r)
            )
            for i, row, n, c, r in zip(
                self.hyper_ids, self.table, self.lengths, self.created_at, self.removed_at, strict=True
            )
        ]


def live_codebook(config: CompressionConfig, history: EntryHistory) -> tuple[Codebook, np.ndarray]:
    """The entries of a history live at its end, in id order (ids V..V+n-1), and their creation indices."""
    live = np.flatnonzero(history.removed_at == NO_POSITION)
    live = live[np.argsort(history.hyper_ids[live], kind="stable")]
    codebook = Codebook(config, history.table[live], history.lengths[live])
    return codebook, history.created_at[live]
