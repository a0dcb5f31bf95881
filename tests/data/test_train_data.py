"""zip2zip.data.training_chunks: lossless chunking into the cache, held-out split, cache keying and resumption."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.data.splits import is_heldout
from zip2zip.data.tokenizers import bytes_tokenizer
from zip2zip.data.training_chunks import (
    DataConfig,
    Document,
    chunk_documents,
    prepare_data,
)


def _docs(num: int = 40) -> list[Document]:
    """Repetitive code-like documents of different lengths (deterministic)."""
    out = []
    for i in range(num):
        text = "".join(f"def f{j % (3 + i % 5)}(x):\n    return x * {j % 7}\n" for j in range(5 + 7 * i))
        out.append(Document("code", text, hashlib.sha256(text.encode()).hexdigest()))
    return out


def _config(**overrides) -> DataConfig:
    base = dict(
        tokenizer="bytes",
        corpora=("code",),
        data_bytes=10_000,
        heldout_fraction=0.2,
        seq_len=32,
        max_codebook_size=64,
    )
    return DataConfig(**{**base, **overrides})


def test_chunks_decode_to_the_documents(tmp_path) -> None:
    """Concatenated chunks of a document decode to its base ids; all chunks but a document's last are full."""
    docs = _docs()
    prepared = prepare_data(
        _config(), cache_root=tmp_path, documents=docs, show_progress=False, docs_per_shard=7
    )
    codec = LZWCodec.from_config(prepared.compression)
    tok = bytes_tokenizer()
    for split, data in (("train", prepared.train), ("heldout", prepared.heldout)):
        split_docs = [d for d in docs if is_heldout(d.sha256, 0.2) == (split == "heldout")]
        assert sorted(set(data.doc_index.tolist())) == list(range(len(split_docs)))
        for d, doc in enumerate(split_docs):
            rows = np.flatnonzero(data.doc_index == d)
            decoded = np.concatenate([codec.decode(data[int(i)][0]) for i in rows])
            assert decoded.tolist() == tok.encode(doc.text)
            lengths = [len(data[int(i)][0]) for i in rows]
            assert all(n == 32 for n in lengths[:-1]) and 1 <= lengths[-1] <= 32
            assert (
                data.base_start[rows[0]] == 0
                and (data.base_start[rows[1:]] == data.base_stop[rows[:-1]]).all()
            )


def test_chunk_tables_and_positions_match_a_fresh_decoder() -> None:
    tok = bytes_tokenizer()
    config = _config()
    from zip2zip.data.training_chunks import compression_config

    codec = LZWCodec.from_config(compression_config(tok, config))
    arrays = chunk_documents([tok.encode(d.text) for d in _docs(5)], codec, 32)
    for i in range(len(arrays)):
        ids, table, positions = arrays[i]
        decoded = codec.decode_with_codebook(ids)
        np.testing.assert_array_equal(decoded.codebook.table, table)
        np.testing.assert_array_equal(decoded.entry_positions, positions)


def test_heldout_split_is_disjoint_deterministic_and_recorded(tmp_path) -> None:
    docs = _docs()
    prepared = prepare_data(_config(), cache_root=tmp_path, documents=docs, show_progress=False)
    heldout = set(prepared.manifest["splits"]["heldout"]["doc_sha256"])
    expected = {d.sha256 for d in docs if is_heldout(d.sha256, 0.2)}
    assert heldout == expected and 0 < len(heldout) < len(docs)
    assert prepared.manifest["splits"]["train"]["num_docs"] == len(docs) - len(heldout)
    assert len(prepared.train) > 0 and len(prepared.heldout) > 0


def test_cache_is_reused_resumed_and_keyed(tmp_path) -> None:
    docs = _docs()
    first = prepare_data(
        _config(), cache_root=tmp_path, documents=docs, show_progress=False, docs_per_shard=5
    )
    shards = sorted(first.directory.rglob("shard-*.npz"))
    assert len(shards) > 2
    mtimes = {p: p.stat().st_mtime_ns for p in shards}
    shards[1].unlink()  # an interrupted run: one shard missing
    again = prepare_data(
        _config(), cache_root=tmp_path, documents=docs, show_progress=False, docs_per_shard=5
    )
    assert again.directory == first.directory
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items() if p != shards[1])  # others kept
    np.testing.assert_array_equal(again.train.ids, first.train.ids)
    np.testing.assert_array_equal(again.train.table, first.train.table)
    for change in (
        {"seq_len": 16},
        {"max_subtokens": 2},
        {"max_codebook_size": 32},
        {"use_compression": False},
    ):
        other = prepare_data(_config(**change), cache_root=tmp_path, documents=docs, show_progress=False)
        assert other.directory != first.directory, change
    edited = [dataclasses.replace(docs[0], text=docs[0].text + "#", sha256="0" * 64), *docs[1:]]
    assert (
        prepare_data(_config(), cache_root=tmp_path, documents=edited, show_progress=False).directory
        != first.directory
    )


def test_no_compression_gives_plain_base_id_windows(tmp_path) -> None:
    docs = _docs(10)
    prepared = prepare_data(
        _config(use_compression=False), cache_root=tmp_path, documents=docs, show_progress=False
    )
    assert prepared.compression.max_codebook_size == 0
    assert len(prepared.train.table) == 0
    assert (prepared.train.ids < 256).all()


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"heldout_fraction": 0.0}, id="heldout-zero"),
        pytest.param({"seq_len": 1}, id="seq-len-1"),
        pytest.param({"mixture_weights": (1.0, 2.0)}, id="weights-length"),
        pytest.param({"corpora": ()}, id="no-corpora"),
    ],
)
def test_bad_data_config_is_refused(bad) -> None:
    with pytest.raises(ValueError):
        _config(**bad)


def test_too_few_documents_for_both_splits_is_an_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="held-out"):
        prepare_data(_config(), cache_root=tmp_path, documents=_docs(1), show_progress=False)
