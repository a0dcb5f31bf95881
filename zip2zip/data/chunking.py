"""Cut documents into training chunks of exactly ``seq_len`` compressed ids, losing no base id.

Each chunk is compressed with a fresh codebook (a model never needs context from an earlier chunk to
know its hypertokens) and starts at the first base id the previous chunk did not cover. The upstream
package's ``continuous_encode`` truncates the compressed stream and drops the base id that completed the
last phrase; here chunk boundaries fall between codes, so chunks concatenated decode to the document.

Why this is exact: the first ``seq_len`` codes of a window are final once the window holds one more
code (a code is emitted by the id that follows it, or by its own M-th id), and ``seq_len`` codes cover at
most ``seq_len * M`` base ids, so a window of ``seq_len * M + 1`` ids always suffices.

Under ``lru`` and ``reset`` an id names different entries over a chunk, so a chunk lists entry versions
(``codec.versions``, as scoring does): its hypertoken ids name the version they read (V + r), its table has
one row per version, and each version carries its removal position; the lru victim hidden after each code too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from zip2zip.codec.codebook import Codebook
from zip2zip.codec.config import CompressionConfig
from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.codec.versions import replay_versions, version_column_ids


@dataclass(frozen=True)
class Chunk:
    """``ids`` are the compressed ids (at most ``seq_len``; only a document's last chunk is shorter).

    ``entry_positions[k]``: index in ``ids`` where entry k becomes known to a decoder; at position t
    a model may predict any entry with ``entry_positions <= t + 1`` (``== t + 1`` is the LZW same-step code).
    ``base_start``/``base_stop`` locate the chunk in the document's base ids. Under ``lru`` and ``reset``
    the entries are versions (see the module docstring): version k is offered from ``entry_positions[k]``
    up to ``removal_positions[k]`` (excluded), except where ``hidden_versions`` names it.
    """

    ids: np.ndarray  # [num_codes] int64
    codebook: Codebook
    entry_positions: np.ndarray  # [num_entries] int64
    base_start: int
    base_stop: int
    removal_positions: np.ndarray | None = None  # [num_entries] int64, NO_POSITION if live at the end
    hidden_versions: np.ndarray | None = None  # [num_codes] int64, NO_VERSION where none is hidden


def chunk_document(base_ids: np.ndarray | list[int], codec: LZWCodec, seq_len: int) -> Iterator[Chunk]:
    """Chunks of one document, in order. Example (V=10, M=3): [1,2]*4 with seq_len=3 -> [1,2,10] | [1,2,10]."""
    if seq_len < 1:
        raise ValueError(f"seq_len={seq_len} must be >= 1")
    ids = np.asarray(base_ids, dtype=np.int64)
    window = seq_len * codec.config.max_subtokens + 1
    start = 0
    while start < len(ids):
        encoded = codec.encode(ids[start : start + window])
        if codec.config.codebook_policy != "freeze":
            chunk = versioned_chunk(encoded.ids[:seq_len], codec.config, start)
            yield chunk
            start = chunk.base_stop
            continue
        if len(encoded.ids) <= seq_len:  # the rest of the document fits in one chunk
            yield Chunk(encoded.ids, encoded.codebook, encoded.entry_positions, start, len(ids))
            return
        codes = encoded.ids[:seq_len]
        num_base = _num_base_ids(codes, encoded.codebook)
        keep = encoded.entry_positions < seq_len
        codebook = Codebook(codec.config, encoded.codebook.table[keep], encoded.codebook.lengths[keep])
        yield Chunk(codes, codebook, encoded.entry_positions[keep], start, start + num_base)
        start += num_base


def versioned_chunk(codes: np.ndarray, config: CompressionConfig, base_start: int) -> Chunk:
    """The chunk of ``codes`` (starting at ``base_start``) under ``lru`` or ``reset``, over entry versions."""
    versions = replay_versions(codes.tolist(), config)
    num_versions, m = len(versions.entries), config.max_subtokens
    lengths = np.array([len(e) for e in versions.entries], dtype=np.int64)
    table = np.full((num_versions, m), config.pad_token_id, dtype=np.int64)
    for k, entry in enumerate(versions.entries):
        table[k, : len(entry)] = entry
    columns = np.array(
        version_column_ids(codes.tolist(), versions, config.initial_vocab_size), dtype=np.int64
    )
    is_hyper = codes >= config.initial_vocab_size
    num_base = int((~is_hyper).sum() + lengths[columns[is_hyper] - config.initial_vocab_size].sum())
    # versions are checked as a codebook of that many slots (their number may exceed C)
    codebook = Codebook(dataclasses.replace(config, max_codebook_size=num_versions), table, lengths)
    return Chunk(
        columns,
        codebook,
        np.array(versions.created, dtype=np.int64),
        base_start,
        base_start + num_base,
        removal_positions=np.array(versions.removed, dtype=np.int64),
        hidden_versions=np.array(versions.hidden_versions, dtype=np.int64),
    )


def _num_base_ids(codes: np.ndarray, codebook: Codebook) -> int:
    """How many base ids ``codes`` stand for (base ids count 1, hypertoken k counts ``lengths[k]``)."""
    v = codebook.config.initial_vocab_size
    hyper = codes >= v
    return int((~hyper).sum() + codebook.lengths[codes[hyper] - v].sum())
