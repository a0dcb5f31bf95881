"""Training chunks: exactly seq_len codes, fresh codebook each, no base id lost at a boundary."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.data.chunking import chunk_document, versioned_chunk


def test_worked_example() -> None:
    """[1,2]*4 with seq_len=2: chunk 1 = codes [1,2] (base 1,2), chunk 2 = [1,2,10] fresh -> [1,2] ..."""
    codec = LZWCodec(10, pad_token_id=0, max_codebook_size=100)
    chunks = list(chunk_document([1, 2] * 4, codec, seq_len=2))
    assert [c.ids.tolist() for c in chunks] == [[1, 2], [1, 2], [1, 2], [1, 2]]
    assert [(c.base_start, c.base_stop) for c in chunks] == [(0, 2), (2, 4), (4, 6), (6, 8)]
    chunks = list(chunk_document([1, 2] * 4, codec, seq_len=3))
    assert [c.ids.tolist() for c in chunks] == [[1, 2, 10], [1, 2, 10]]
    assert chunks[0].codebook.num_entries == 2  # (1,2) and (2,1); (1,2,1) would need the next chunk's id


@given(
    st.lists(st.integers(1, 5), max_size=400),
    st.integers(1, 40),
    st.integers(1, 5),
    st.integers(0, 50),
)
def test_chunks_cover_the_document_exactly(ids: list[int], seq_len: int, m: int, c: int) -> None:
    codec = LZWCodec(8, pad_token_id=0, max_subtokens=m, max_codebook_size=c, disabled_ids=[5])
    chunks = list(chunk_document(ids, codec, seq_len))
    decoded = [t for ch in chunks for t in codec.decode(ch.ids).tolist()]
    assert decoded == ids
    assert all(len(ch.ids) == seq_len for ch in chunks[:-1])
    assert all(0 < len(ch.ids) <= seq_len for ch in chunks)
    for ch in chunks:  # each chunk is exactly the standalone encoding of its base span
        alone = codec.encode(ids[ch.base_start : ch.base_stop])
        assert alone.ids.tolist() == ch.ids.tolist()
        assert alone.codebook == ch.codebook
        assert np.array_equal(alone.entry_positions, ch.entry_positions)


def test_rejects_bad_seq_len() -> None:
    with pytest.raises(ValueError, match="seq_len=0"):
        list(chunk_document([1], LZWCodec(4, pad_token_id=0), 0))


@given(
    st.lists(st.integers(1, 5), max_size=300),
    st.integers(1, 40),
    st.integers(2, 4),
    st.integers(1, 12),
    st.sampled_from(["lru", "reset"]),
)
def test_chunks_over_versions_cover_the_document_exactly(
    ids: list[int], seq_len: int, m: int, c: int, policy: str
) -> None:
    """Under lru and reset each hypertoken id names the version it read (V + r): expanding the ids through the
    version table gives the document back, each read version was live there (or made by that code), and each
    chunk is the versions of the standalone encoding of its base span."""
    codec = LZWCodec(8, pad_token_id=0, max_subtokens=m, max_codebook_size=c, codebook_policy=policy)
    chunks = list(chunk_document(ids, codec, seq_len))
    assert sum((ch.base_stop - ch.base_start for ch in chunks), 0) == len(ids)
    for ch in chunks:
        assert ch.removal_positions is not None
        expanded = []
        for t, i in enumerate(ch.ids.tolist()):
            if i < 8:
                expanded.append(i)
                continue
            r = i - 8
            assert ch.entry_positions[r] <= t <= ch.removal_positions[r]
            expanded += ch.codebook.table[r, : ch.codebook.lengths[r]].tolist()
        assert expanded == ids[ch.base_start : ch.base_stop]
        assert len(ch.ids) == seq_len or ch.base_stop == len(ids)
        alone = versioned_chunk(
            codec.encode(ids[ch.base_start : ch.base_stop]).ids, codec.config, ch.base_start
        )
        assert alone.ids.tolist() == ch.ids.tolist()
        assert np.array_equal(alone.codebook.table, ch.codebook.table)
