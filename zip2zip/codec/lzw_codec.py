"""``LZWCodec``: the public, validated, fast LZW codec over token ids (single, batch and streaming use).

It runs the compiled kernels of ``_lzw_fast`` (``freeze``) or ``_lzw_fast_policies`` (``reset``, ``lru``),
batches split across threads, and falls back to the plain-Python reference of ``zip2zip.codec.lzw`` only
where asked (``use_fast=False``). Semantics, including every error, are those of ``zip2zip.codec.lzw``;
see its docstring for the algorithm. Every result also carries its entry history (``zip2zip.codec.history``).
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from zip2zip.codec import _lzw_fast, _lzw_fast_policies, lzw
from zip2zip.codec.codebook import Codebook
from zip2zip.codec.config import CompressionConfig
from zip2zip.codec.history import NO_POSITION, EntryHistory, live_codebook

PaddingSide = Literal["left", "right"]


class IdTensor(Protocol):
    """A CPU torch tensor of ids, as the codec uses it (typed without importing torch)."""

    def detach(self) -> IdTensor: ...

    def cpu(self) -> IdTensor: ...

    def numpy(self) -> np.ndarray: ...


# One sequence of integer ids: a list or tuple of ints, a 1-D integer numpy array or a CPU torch tensor.
Ids: TypeAlias = Sequence[int] | np.ndarray | IdTensor

# Below this many ids a batch runs on one thread: starting threads would cost more than it saves.
_MIN_IDS_PER_THREAD = 32_768


@dataclass(frozen=True)
class Encoded:
    """One compressed sequence.

    ``codebook`` holds the entries live at the end (entry k has id V + k); ``entry_positions[k]`` is the
    index in ``ids`` of the code on whose reading a decoder creates entry k. Under ``freeze`` these are
    all entries: at position t a model has seen exactly those with ``entry_positions <= t``. Under the
    other policies entries are also removed and ids reused: ``history`` has every entry ever created.
    """

    ids: np.ndarray  # [num_codes] int64
    codebook: Codebook
    entry_positions: np.ndarray  # [num_entries] int64
    num_base_ids: int
    changed_history: EntryHistory | None = None  # None under freeze, where the codebook is the history

    @property
    def history(self) -> EntryHistory:
        """Every entry created, in creation order (see ``EntryHistory``)."""
        return self.changed_history or EntryHistory.of_frozen(self.codebook, self.entry_positions)

    @property
    def compression_ratio(self) -> float:
        """Base ids per compressed id (1.0 for an empty sequence)."""
        return self.num_base_ids / len(self.ids) if len(self.ids) else 1.0


@dataclass(frozen=True)
class Decoded:
    """One decompressed sequence and the codebook (live at the end) and history its decoder derived."""

    base_ids: np.ndarray  # [num_base_ids] int64
    codebook: Codebook
    entry_positions: np.ndarray  # [num_entries] int64
    changed_history: EntryHistory | None = None  # None under freeze, where the codebook is the history

    @property
    def history(self) -> EntryHistory:
        """Every entry the decoder created, in creation order (see ``EntryHistory``)."""
        return self.changed_history or EntryHistory.of_frozen(self.codebook, self.entry_positions)


@dataclass(frozen=True)
class BatchEncoded:
    """A padded batch of compressed sequences.

    ``ids`` is padded with the pad id on ``padding_side``; ``attention_mask`` is 1 on real codes.
    ``entry_positions[b]`` are indices into row b of ``ids`` (left padding already added). The one batch
    type of the package: the model side takes its tensors from ``inference.tokenization.model_inputs``.
    """

    ids: np.ndarray  # [batch, max_len] int64
    attention_mask: np.ndarray  # [batch, max_len] int64
    codebooks: list[Codebook]
    entry_positions: list[np.ndarray]
    num_base_ids: np.ndarray  # [batch]
    padding_side: PaddingSide

    @classmethod
    def pad(
        cls,
        encoded: Sequence[Encoded],
        *,
        pad_token_id: int,
        padding_side: PaddingSide,
        pad_to_length: int | None = None,
    ) -> BatchEncoded:
        """Stack compressed sequences, padding codes with ``pad_token_id`` on ``padding_side`` to the
        longest (or ``pad_to_length``); entry positions shift with left padding."""
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side={padding_side!r}; expected 'left' or 'right'")
        lengths = [len(e.ids) for e in encoded]
        max_len = max(lengths, default=0)
        if pad_to_length is not None:
            if pad_to_length < max_len:
                raise ValueError(f"pad_to_length={pad_to_length} < longest compressed sequence ({max_len})")
            max_len = pad_to_length
        ids = np.full((len(encoded), max_len), pad_token_id, dtype=np.int64)
        mask = np.zeros((len(encoded), max_len), dtype=np.int64)
        positions = []
        for b, (enc, n) in enumerate(zip(encoded, lengths, strict=True)):
            start = max_len - n if padding_side == "left" else 0
            ids[b, start : start + n] = enc.ids
            mask[b, start : start + n] = 1
            positions.append(enc.entry_positions + start)
        return cls(
            ids=ids,
            attention_mask=mask,
            codebooks=[e.codebook for e in encoded],
            entry_positions=positions,
            num_base_ids=np.array([e.num_base_ids for e in encoded], dtype=np.int64),
            padding_side=padding_side,
        )

    @property
    def num_slots(self) -> int:
        """Most entries any row's codebook holds (0 for an empty batch or no hypertokens)."""
        return max((cb.num_entries for cb in self.codebooks), default=0)

    def codebook_tables(self, num_rows: int | None = None) -> np.ndarray:
        """``[batch, num_rows, M]`` entry tables padded with the pad id (default rows: ``max_codebook_size``)."""
        if not self.codebooks:
            raise ValueError("empty batch has no codebook tables")
        return np.stack([cb.padded_table(num_rows) for cb in self.codebooks])

    def entry_position_table(self, num_rows: int | None = None) -> np.ndarray:
        """``[batch, num_rows]`` entry positions, ``NO_POSITION`` past a row's last entry (default rows:
        ``max_codebook_size``), aligned with ``codebook_tables(num_rows)``."""
        if not self.codebooks:
            raise ValueError("empty batch has no entry positions")
        num_rows = self.codebooks[0].config.max_codebook_size if num_rows is None else num_rows
        out = np.full((len(self.codebooks), num_rows), NO_POSITION, dtype=np.int64)
        for b, positions in enumerate(self.entry_positions):
            out[b, : len(positions)] = positions
        return out


def _as_id_array(ids: Ids, what: str) -> np.ndarray:
    """1-D int64 copy or view of a list, tuple, numpy array or CPU torch tensor of integer ids.

    Never coerces: a float, str or bool id (a list's or an array's dtype) raises TypeError naming it.
    """
    if hasattr(ids, "detach"):  # torch tensor, without importing torch here
        ids = ids.detach().cpu().numpy()
    if isinstance(ids, list | tuple):
        if not set(map(type, ids)) <= {int}:  # one pass in C; anything but plain ints is checked id by id
            ids = lzw.as_ids(ids, what)
        try:  # fromiter is ~2x faster than asarray on a list of Python ints
            return np.fromiter(ids, dtype=np.int64, count=len(ids))
        except OverflowError:
            position, value = next((p, i) for p, i in enumerate(ids) if not -(2**63) <= i < 2**63)
            raise ValueError(f"{what}: id {value} at position {position} does not fit in int64") from None
    arr = np.asarray(ids)
    if arr.size == 0:
        return np.zeros(0, np.int64)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D sequence of ids, got shape {arr.shape}")
    if arr.dtype == object:
        return _as_id_array(arr.tolist(), what)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"{what} must hold integer ids, got dtype {arr.dtype}: {arr[0].item()!r} at position 0 is not one"
        )
    if arr.dtype == np.uint64 and (too_big := np.flatnonzero(arr >= 2**63)).size:  # would wrap negative
        position = int(too_big[0])
        raise ValueError(f"{what}: id {int(arr[position])} at position {position} does not fit in int64")
    return np.ascontiguousarray(arr, dtype=np.int64)


class LZWCodec:
    """Lossless online LZW over token ids with a bounded codebook.

    Example::

        codec = LZWCodec(10, pad_token_id=0, max_subtokens=3, max_codebook_size=100)
        codec.encode([1, 2, 1, 2, 1, 2, 1, 2]).ids  # array([ 1,  2, 10, 12,  2])
    """

    def __init__(
        self,
        initial_vocab_size: int,
        *,
        pad_token_id: int,
        max_subtokens: int = 3,
        max_codebook_size: int = 2048,
        disabled_ids: Iterable[int] = (),
        codebook_policy: str = "freeze",
        num_threads: int | None = None,
        use_fast: bool = True,
    ) -> None:
        self.config = CompressionConfig(
            initial_vocab_size=initial_vocab_size,
            pad_token_id=pad_token_id,
            max_subtokens=max_subtokens,
            max_codebook_size=max_codebook_size,
            disabled_ids=frozenset(lzw.as_ids(disabled_ids, "disabled_ids")),
            codebook_policy=codebook_policy,
        )
        self.num_threads = max(1, num_threads or min(os.cpu_count() or 1, 8))
        self.use_fast = use_fast
        disabled_mask = np.zeros(initial_vocab_size, dtype=np.bool_)
        disabled_mask[list(self.config.disabled_ids)] = True
        # The kernels of the policy (freeze keeps its own, without policy branches) and what both take
        # after their (ids, offsets, lo, hi) arguments.
        cfg = self.config
        self._is_frozen = cfg.codebook_policy == "freeze"
        self._kernels: Any = _lzw_fast if self._is_frozen else _lzw_fast_policies
        limits = (cfg.initial_vocab_size, cfg.max_subtokens, cfg.max_codebook_size, disabled_mask)
        is_lru = cfg.codebook_policy == "lru"
        self._kernel_limits = limits if self._is_frozen else (*limits, is_lru, cfg.pad_token_id)

    @classmethod
    def from_config(
        cls, config: CompressionConfig, *, num_threads: int | None = None, use_fast: bool = True
    ) -> LZWCodec:
        return cls(
            config.initial_vocab_size,
            pad_token_id=config.pad_token_id,
            max_subtokens=config.max_subtokens,
            max_codebook_size=config.max_codebook_size,
            disabled_ids=config.disabled_ids,
            codebook_policy=config.codebook_policy,
            num_threads=num_threads,
            use_fast=use_fast,
        )

    def __repr__(self) -> str:
        c = self.config
        return (
            f"LZWCodec(V={c.initial_vocab_size}, M={c.max_subtokens}, C={c.max_codebook_size}, "
            f"pad={c.pad_token_id}, {len(c.disabled_ids)} disabled ids, {c.codebook_policy})"
        )

    # ---- single sequence -------------------------------------------------------------------------

    def encode(self, ids: Ids) -> Encoded:
        """Compress base ids (each in ``0..V-1``) with a fresh codebook."""
        return self._encode_many([_as_id_array(ids, "ids")])[0]

    def decode(self, codes: Ids) -> np.ndarray:
        """Base ids of a compressed stream (canonical or not). Raises ValueError on an id that cannot exist."""
        return self.decode_with_codebook(codes).base_ids

    def decode_with_codebook(self, codes: Ids) -> Decoded:
        """Base ids plus the codebook (and entry positions) the decoder derived from the stream."""
        return self._decode_many([_as_id_array(codes, "codes")])[0]

    def new_stream(self) -> lzw.LZWStream:
        """Incremental decoder state for generation (one per sequence)."""
        return lzw.LZWStream(self.config)

    # ---- batches ---------------------------------------------------------------------------------

    def batch_encode(
        self,
        sequences: Sequence[Ids],
        *,
        padding_side: PaddingSide = "right",
        pad_to_length: int | None = None,
    ) -> BatchEncoded:
        """Compress each sequence with its own codebook and pad the codes into one ``[batch, len]`` array."""
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side={padding_side!r}; expected 'left' or 'right'")
        arrays = [_as_id_array(s, f"sequences[{i}]") for i, s in enumerate(sequences)]
        return BatchEncoded.pad(
            self._encode_many(arrays),
            pad_token_id=self.config.pad_token_id,
            padding_side=padding_side,
            pad_to_length=pad_to_length,
        )

    def encode_each(self, sequences: Sequence[Ids]) -> list[Encoded]:
        """Compress each sequence with its own codebook, as ``encode`` does one, in one batched kernel call:
        unpadded, and each with its entry history (which ``batch_encode`` does not keep)."""
        return self._encode_many([_as_id_array(s, f"sequences[{i}]") for i, s in enumerate(sequences)])

    def batch_decode(
        self, sequences: Sequence[Ids] | np.ndarray, attention_mask: npt.ArrayLike | None = None
    ) -> list[np.ndarray]:
        """Base ids of each compressed sequence; with ``attention_mask``, padded positions are dropped."""
        if attention_mask is not None:
            rows = np.asarray(sequences)
            keep = np.asarray(attention_mask).astype(bool)
            if rows.shape != keep.shape or rows.ndim != 2:  # a 3-D mask would flatten each row silently
                raise ValueError(
                    f"ids shape {rows.shape} and attention_mask shape {keep.shape} must be the same "
                    "[batch, seq]; pass one 2-D batch"
                )
            sequences = [row[k] for row, k in zip(rows, keep, strict=True)]
        arrays = [_as_id_array(s, f"sequences[{i}]") for i, s in enumerate(sequences)]
        return [d.base_ids for d in self._decode_many(arrays)]

    # ---- kernels ---------------------------------------------------------------------------------

    def _encode_many(self, arrays: list[np.ndarray]) -> list[Encoded]:
        if not self.use_fast:
            return [self._encode_reference(a) for a in arrays]
        cfg = self.config
        flat, offsets = _concat(arrays)
        entries = _EntryBuffers.allocate(
            cfg, self._max_entries(np.diff(offsets)), with_history=not self._is_frozen
        )
        out_codes = np.empty(len(flat), np.int64)
        out_num_codes = np.zeros(len(arrays), np.int64)

        def run(lo: int, hi: int) -> None:
            self._kernels.compress_batch(
                flat,
                offsets,
                lo,
                hi,
                *self._kernel_limits,
                out_codes,
                out_num_codes,
                *entries.kernel_args(),
            )

        self._run_split(run, offsets)
        if entries.error[0] >= 0:
            seq, pos, value = (int(x) for x in entries.error)
            where = f"sequence {seq}: " if len(arrays) > 1 else ""
            raise ValueError(
                f"{where}base id {value} at position {pos} is outside the base vocabulary "
                f"0..{cfg.initial_vocab_size - 1}; encode() takes base token ids"
            )
        results = []
        for s in range(len(arrays)):
            codes = out_codes[offsets[s] : offsets[s] + out_num_codes[s]].copy()
            history = entries.history(s)
            results.append(Encoded(codes, *entries.codebook(cfg, s, history), len(arrays[s]), history))
        return results

    def _decode_many(self, arrays: list[np.ndarray]) -> list[Decoded]:
        if not self.use_fast:
            return [self._decode_reference(a) for a in arrays]
        cfg = self.config
        flat, offsets = _concat(arrays)
        # A code below V is one base id, any other at most M (an id that cannot exist is rejected unwritten).
        num_hyper_before = np.concatenate([[0], np.cumsum(flat >= cfg.initial_vocab_size)])
        num_hyper = num_hyper_before[offsets[1:]] - num_hyper_before[offsets[:-1]]
        max_base_ids = np.diff(offsets) + (cfg.max_subtokens - 1) * num_hyper
        out_offsets = _starts(max_base_ids)
        out_ids = np.empty(out_offsets[-1], np.int64)
        out_num_ids = np.zeros(len(arrays), np.int64)
        entries = _EntryBuffers.allocate(
            cfg, self._max_entries(max_base_ids), with_history=not self._is_frozen
        )

        def run(lo: int, hi: int) -> None:
            self._kernels.decompress_batch(
                flat,
                offsets,
                lo,
                hi,
                *self._kernel_limits,
                out_ids,
                out_offsets,
                out_num_ids,
                *entries.kernel_args(),
            )

        self._run_split(run, offsets)
        if entries.error[0] >= 0:
            seq, pos = int(entries.error[0]), int(entries.error[1])
            try:  # the reference decoder words the reason precisely
                lzw.decompress(arrays[seq][: pos + 1].tolist(), cfg)
            except ValueError as exc:
                where = f"sequence {seq}: " if len(arrays) > 1 else ""
                raise ValueError(f"{where}{exc}") from None
            raise AssertionError(f"fast decoder rejected sequence {seq} at {pos}; the reference accepts it")
        results = []
        for s in range(len(arrays)):
            base = out_ids[out_offsets[s] : out_offsets[s] + out_num_ids[s]].copy()
            history = entries.history(s)
            results.append(Decoded(base, *entries.codebook(cfg, s, history), history))
        return results

    def _max_entries(self, num_base_ids: np.ndarray) -> np.ndarray:
        """Most entries a sequence of this many base ids can create: every base id but the first creates
        at most one (and under ``freeze``, at most C in all). A decoder may create more entries than it
        reads codes (a hypertoken read non-greedily is re-parsed), so rows are never sized by the number
        of codes."""
        cfg = self.config
        if not cfg.is_compression_enabled:
            return np.zeros(len(num_base_ids), np.int64)
        most = np.maximum(num_base_ids - 1, 0)
        return np.minimum(most, cfg.max_codebook_size) if self._is_frozen else most

    def _run_split(self, run: Any, offsets: np.ndarray) -> None:
        """Run ``run(lo, hi)`` over sequence ranges of about equal id counts, one per thread."""
        num_seqs = len(offsets) - 1
        total = int(offsets[-1])
        num_parts = min(self.num_threads, num_seqs, max(1, total // _MIN_IDS_PER_THREAD))
        if num_parts <= 1:
            run(0, num_seqs)
            return
        targets = np.linspace(0, total, num_parts + 1)[1:-1]
        cuts = [0, *np.searchsorted(offsets[1:], targets, side="left").tolist(), num_seqs]
        bounds = [(lo, hi) for lo, hi in itertools.pairwise(cuts) if hi > lo]
        pool = _thread_pool(self.num_threads)
        for future in [pool.submit(run, lo, hi) for lo, hi in bounds]:
            future.result()

    def _encode_reference(self, ids: np.ndarray) -> Encoded:
        codes, records = lzw.compress_with_history(ids.tolist(), self.config)
        history = EntryHistory.of_records(self.config, records)
        return Encoded(np.array(codes, np.int64), *live_codebook(self.config, history), len(ids), history)

    def _decode_reference(self, codes: np.ndarray) -> Decoded:
        base, records = lzw.decompress_with_history(codes.tolist(), self.config)
        history = EntryHistory.of_records(self.config, records)
        return Decoded(np.array(base, np.int64), *live_codebook(self.config, history), history)


@dataclass(frozen=True)
class _EntryBuffers:
    """The codebook arrays both batch kernels fill, one block of rows per sequence: sequence s owns rows
    ``table_offsets[s]:table_offsets[s + 1]`` and fills the first ``num_entries[s]`` of them. ``error``
    stays -1 unless a kernel rejects an input: (sequence, position, value).

    Under ``freeze`` row k is hypertoken V + k. The other policies' kernels fill one row per entry
    created (``with_history``), with its id in ``hyper_ids`` and its removal in ``removed_at``."""

    table: np.ndarray  # [total rows, max_subtokens] int64, padded with pad_token_id
    table_offsets: np.ndarray  # [num_seqs + 1] int64
    lengths: np.ndarray  # [total rows] int64
    positions: np.ndarray  # [total rows] int64
    hyper_ids: np.ndarray | None  # [total rows] int64, with history only
    removed_at: np.ndarray | None  # [total rows] int64, with history only
    num_entries: np.ndarray  # [num_seqs] int64
    error: np.ndarray  # [3] int64

    @classmethod
    def allocate(
        cls, cfg: CompressionConfig, max_entries: np.ndarray, *, with_history: bool
    ) -> _EntryBuffers:
        """Room for ``max_entries[s]`` entries of each sequence s."""
        table_offsets = _starts(max_entries)
        num_rows = table_offsets[-1]
        # A history has a row per base id (the most a sequence can create): the kernels write every column
        # of the rows they fill, pad included, so the buffers start uninitialised (np.zeros would map fresh
        # zero pages, each faulted in on first write: measured, that cost more than the kernel's own work).
        table = np.empty if with_history else functools.partial(np.full, fill_value=cfg.pad_token_id)
        column = np.empty if with_history else np.zeros
        return cls(
            table=table((num_rows, cfg.max_subtokens), dtype=np.int64),
            table_offsets=table_offsets,
            lengths=column(num_rows, np.int64),
            positions=column(num_rows, np.int64),
            hyper_ids=np.empty(num_rows, np.int64) if with_history else None,
            removed_at=np.empty(num_rows, np.int64) if with_history else None,
            num_entries=np.zeros(len(max_entries), np.int64),
            error=np.full(3, -1, np.int64),
        )

    def kernel_args(self) -> tuple[np.ndarray, ...]:
        """The buffers in the order the kernels take them, after their own outputs."""
        history = (
            () if self.hyper_ids is None or self.removed_at is None else (self.hyper_ids, self.removed_at)
        )
        return (
            self.table,
            self.table_offsets,
            self.lengths,
            self.positions,
            *history,
            self.num_entries,
            self.error,
        )

    def history(self, s: int) -> EntryHistory | None:
        """Every entry sequence s created; None under freeze (the codebook is the history). Views, not
        copies: a history is as long as the input, and the rows the kernels never reached were never
        touched, so they hold no memory."""
        rows = slice(self.table_offsets[s], self.table_offsets[s] + self.num_entries[s])
        if self.hyper_ids is None or self.removed_at is None:
            return None
        return EntryHistory(
            hyper_ids=self.hyper_ids[rows],
            table=self.table[rows],
            lengths=self.lengths[rows],
            created_at=self.positions[rows],
            removed_at=self.removed_at[rows],
        )

    def codebook(
        self, cfg: CompressionConfig, s: int, history: EntryHistory | None
    ) -> tuple[Codebook, np.ndarray]:
        """Sequence s's codebook (entries live at the end, in id order) and a copy of their positions;
        ``history`` is ``history(s)``."""
        if history is not None:
            return live_codebook(cfg, history)
        rows = slice(self.table_offsets[s], self.table_offsets[s] + self.num_entries[s])
        return Codebook(cfg, self.table[rows], self.lengths[rows]), self.positions[rows].copy()


@functools.cache
def _thread_pool(num_threads: int) -> ThreadPoolExecutor:
    """One long-lived pool per thread count: starting threads per call costs ~0.1 ms each."""
    return ThreadPoolExecutor(num_threads, thread_name_prefix="zip2zip-lzw")


# A forked child (e.g. a DataLoader worker) inherits the cached pools but not their threads, so work
# submitted there would never run: the child starts pools of its own instead.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_thread_pool.cache_clear)


def _starts(sizes: np.ndarray) -> np.ndarray:
    """Offsets of consecutive slices of these sizes in one flat buffer: ``[0, s0, s0 + s1, ...]``."""
    starts = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum(sizes, out=starts[1:])
    return starts


def _concat(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = _starts(np.array([len(a) for a in arrays], np.int64))
    flat = np.concatenate(arrays) if arrays else np.zeros(0, np.int64)
    return flat.astype(np.int64, copy=False), offsets
