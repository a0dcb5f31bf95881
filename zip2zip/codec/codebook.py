"""The LZW codebook of one sequence: hypertoken id -> tuple of base ids.

A ``Codebook`` is an immutable snapshot. Entry k has id ``initial_vocab_size + k``; its base ids are
row k of ``table`` (``[num_entries, max_subtokens]``, right-padded with the pad id), which is exactly the
input shape the hyper-encoder consumes. Entries hold 2..M base ids, none of them disabled.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from zip2zip.codec.config import CompressionConfig


class Codebook:
    """Immutable hypertoken table. ``lengths[k]`` is the number of base ids of entry k."""

    __slots__ = ("_lengths", "_table", "config")

    def __init__(self, config: CompressionConfig, table: np.ndarray, lengths: np.ndarray) -> None:
        table = np.asarray(table, dtype=np.int64).reshape(-1, config.max_subtokens)
        lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
        if len(table) != len(lengths):
            raise ValueError(f"table has {len(table)} rows but lengths has {len(lengths)}")
        if len(table) > config.max_codebook_size:
            raise ValueError(f"{len(table)} entries exceed max_codebook_size={config.max_codebook_size}")
        table.setflags(write=False)
        lengths.setflags(write=False)
        self.config = config
        self._table = table  # [num_entries, max_subtokens]
        self._lengths = lengths  # [num_entries]

    @classmethod
    def empty(cls, config: CompressionConfig) -> Codebook:
        return cls(config, np.zeros((0, config.max_subtokens), np.int64), np.zeros(0, np.int64))

    @classmethod
    def from_entries(cls, config: CompressionConfig, entries: list[tuple[int, ...]]) -> Codebook:
        """Build from entry k's base ids, in creation order."""
        table = np.full((len(entries), config.max_subtokens), config.pad_token_id, dtype=np.int64)
        for k, entry in enumerate(entries):
            table[k, : len(entry)] = entry
        return cls(config, table, np.array([len(e) for e in entries], dtype=np.int64))

    @property
    def num_entries(self) -> int:
        return len(self._lengths)

    def __len__(self) -> int:
        return self.num_entries

    @property
    def table(self) -> np.ndarray:
        """``[num_entries, max_subtokens]`` base ids, right-padded with ``pad_token_id`` (read-only)."""
        return self._table

    @property
    def lengths(self) -> np.ndarray:
        return self._lengths

    def padded_table(self, num_rows: int | None = None) -> np.ndarray:
        """Table padded with pad-id rows to ``num_rows`` (default ``max_codebook_size``): a fixed shape for batching."""
        num_rows = self.config.max_codebook_size if num_rows is None else num_rows
        if num_rows < self.num_entries:
            raise ValueError(f"num_rows={num_rows} < num_entries={self.num_entries}")
        out = np.full((num_rows, self.config.max_subtokens), self.config.pad_token_id, dtype=np.int64)
        out[: self.num_entries] = self._table
        return out  # [num_rows, max_subtokens]

    def subtokens(self, hyper_id: int) -> tuple[int, ...]:
        """Base ids of hypertoken ``hyper_id`` (``V + k``). Example: V=10, entry 0 = (1, 2) -> subtokens(10) == (1, 2)."""
        k = int(hyper_id) - self.config.initial_vocab_size
        if not 0 <= k < self.num_entries:
            raise ValueError(
                f"hypertoken id {hyper_id} is not in this codebook (ids {self.config.initial_vocab_size}.."
                f"{self.config.initial_vocab_size + self.num_entries - 1})"
            )
        return tuple(int(t) for t in self._table[k, : self._lengths[k]])

    def __iter__(self) -> Iterator[tuple[int, tuple[int, ...]]]:
        """(hyper id, base ids) pairs in creation order."""
        v = self.config.initial_vocab_size
        for k in range(self.num_entries):
            yield v + k, tuple(int(t) for t in self._table[k, : self._lengths[k]])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the compression config plus each entry's base ids in creation order."""
        return {"config": self.config.to_dict(), "entries": [list(e) for _, e in self]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Codebook:
        config = CompressionConfig.from_dict(data["config"])
        entries = [tuple(int(t) for t in e) for e in data["entries"]]
        for k, entry in enumerate(entries):
            if not 2 <= len(entry) <= config.max_subtokens:
                raise ValueError(f"entry {k} has {len(entry)} base ids; expected 2..{config.max_subtokens}")
        return cls.from_entries(config, entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Codebook):
            return NotImplemented
        return (
            self.config == other.config
            and np.array_equal(self._lengths, other._lengths)
            and np.array_equal(self._table, other._table)
        )

    def __hash__(self) -> int:
        return hash((self.config, self._table.tobytes()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{i}: {e}" for i, e in list(self)[:4])
        more = ", ..." if self.num_entries > 4 else ""
        return f"Codebook({self.num_entries} entries: {{{shown}{more}}})"
