"""Id-for-id conformance with the released reference codec, the PyPI package ``zip2zip-compression``.

Upstream checkpoints expect exactly its hypertoken ids, so compressed ids and codebooks must match on
random streams and on real text. (Where it crashes or corrupts, we raise instead: see test_lzw.py.)
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

import numpy as np
import pytest

from zip2zip.codec.lzw_codec import LZWCodec

upstream = pytest.importorskip(
    "zip2zip_compression", reason="the oracle is the 'zip2zip-compression' package: pip install -e '.[test]'"
)


def assert_same_as_upstream(codec: LZWCodec, ids: list[int]) -> None:
    cfg = codec.config
    oracle = upstream.LZWCompressor(
        cfg.initial_vocab_size,
        cfg.max_codebook_size,
        cfg.max_subtokens,
        cfg.pad_token_id,
        sorted(cfg.disabled_ids),
    )
    their_codes, _, their_codebook = oracle.encode(ids)
    ours = codec.encode(ids)
    assert ours.ids.tolist() == their_codes
    assert {k: list(v) for k, v in ours.codebook} == their_codebook.to_dict()
    their_base, their_decoded_codebook = oracle.decode(their_codes)
    ours_decoded = codec.decode_with_codebook(their_codes)
    assert ours_decoded.base_ids.tolist() == their_base == ids
    assert {k: list(v) for k, v in ours_decoded.codebook} == their_decoded_codebook.to_dict()


def test_random_streams_match_upstream() -> None:
    rng = np.random.default_rng(0)
    for _ in range(2000):
        vocab_size = int(rng.integers(2, 300))
        alphabet = rng.choice(vocab_size, size=int(rng.integers(1, min(vocab_size, 12) + 1)), replace=False)
        ids = rng.choice(alphabet, size=int(rng.integers(0, 400))).tolist()
        disabled = rng.choice(vocab_size, size=int(rng.integers(0, 3))).tolist()
        codec = LZWCodec(
            vocab_size,
            pad_token_id=int(rng.integers(0, vocab_size)),
            max_subtokens=int(rng.integers(1, 9)),
            max_codebook_size=int(rng.integers(0, 80)),
            disabled_ids=disabled,
        )
        assert_same_as_upstream(codec, ids)


def _stdlib_source_bytes(num_bytes: int) -> bytes:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    chunks, total = [], 0
    for path in sorted(stdlib.glob("*.py")):
        data = path.read_bytes()
        chunks.append(data)
        total += len(data)
        if total >= num_bytes:
            break
    return b"".join(chunks)[:num_bytes]


@pytest.mark.parametrize(("max_subtokens", "max_codebook_size"), [(3, 2048), (4, 512), (5, 8192)])
def test_real_text_bytes_match_upstream(max_subtokens: int, max_codebook_size: int) -> None:
    """Byte-level ids (V=256) of CPython standard-library source, in 8 KB documents."""
    data = _stdlib_source_bytes(200_000)
    codec = LZWCodec(256, pad_token_id=0, max_subtokens=max_subtokens, max_codebook_size=max_codebook_size)
    for start in range(0, len(data), 8192):
        assert_same_as_upstream(codec, list(data[start : start + 8192]))


def test_threaded_batch_equals_single() -> None:
    """64 x 1024 ids crosses the threading threshold, so sequences are split across two threads."""
    rng = np.random.default_rng(1)
    seqs = [rng.integers(0, 50, size=1024) for _ in range(64)]
    codec = LZWCodec(50, pad_token_id=0, max_codebook_size=256, num_threads=2)
    batch = codec.batch_encode(seqs)
    for b, seq in enumerate(seqs):
        single = codec.encode(seq)
        assert batch.ids[b, : len(single.ids)].tolist() == single.ids.tolist()
        assert batch.codebooks[b] == single.codebook
    decoded = codec.batch_decode(batch.ids, attention_mask=batch.attention_mask)
    assert all(np.array_equal(d, s) for d, s in zip(decoded, seqs, strict=True))


def test_real_tokenizer_stream_matches_upstream() -> None:
    """Llama-3 ids (the tokenizer file shipped in the llama-models package) of standard-library source."""
    tokenizers = pytest.importorskip("zip2zip.data.tokenizers")
    try:
        tok = tokenizers.get_tokenizer("llama3")
    except ImportError as exc:  # the asset package is missing: the message names it
        pytest.skip(str(exc))
    ids = tok.encode(_stdlib_source_bytes(100_000).decode("utf-8", errors="replace"))
    codec = LZWCodec(tok.vocab_size, pad_token_id=tok.pad_token_id, disabled_ids=tok.special_ids)
    for start in range(0, len(ids), 4096):
        assert_same_as_upstream(codec, ids[start : start + 4096])
