"""Micro-benchmarks of the hot paths a change to them should be checked against (pytest-benchmark).

``nox -s microbench`` runs them, saves the run under ``.benchmarks/`` and compares it with the previous saved
run: ours beside the ``zip2zip-compression`` codec on the same ids (encode, decode, batch encode), the codebook
policies beside each other, and one decode step's hyper-encoder call at SmolLM2's width. They are not part of
the test suite (pytest collects ``tests/`` only); the side-by-side numbers of the paper's settings are
``nox -s codec`` and ``nox -s decode_step``. The text is real: this Python's standard library source, as bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import zip2zip_compression as upstream

from zip2zip.codec.config import CODEBOOK_POLICIES
from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.modeling.config import HyperEncoderConfig
from zip2zip.modeling.hyper_encoder import build_hyper_encoder, transformer

V, PAD, M, C = 257, 256, 3, 1024  # UTF-8 bytes plus a pad id; the paper's M, a mid-size codebook
NUM_BYTES = 200_000
SMOLLM2_WIDTH = 576


@pytest.fixture(scope="module")
def ids() -> np.ndarray:
    """The first NUM_BYTES bytes of the ``json`` package's source files, as ids."""
    text = b"".join(p.read_bytes() for p in sorted(Path(json.__file__).parent.glob("*.py")))
    text = (text * (NUM_BYTES // len(text) + 1))[:NUM_BYTES]
    return np.frombuffer(text, dtype=np.uint8).astype(np.int64)


def _ours(policy: str = "freeze") -> LZWCodec:
    codec = LZWCodec(V, pad_token_id=PAD, max_subtokens=M, max_codebook_size=C, codebook_policy=policy)
    codec.encode([1, 2, 1, 2])  # compile the kernels outside the timed rounds
    return codec


def _theirs() -> Any:  # the compiled package ships no type hints
    return upstream.LZWCompressor(V, C, M, PAD, [PAD])


@pytest.mark.benchmark(group="encode")
def test_encode_ours(benchmark, ids: np.ndarray) -> None:
    codec = _ours()
    encoded = benchmark(codec.encode, ids)
    assert codec.decode(encoded.ids).tolist() == ids.tolist()


@pytest.mark.benchmark(group="encode")
def test_encode_upstream(benchmark, ids: np.ndarray) -> None:
    codes = benchmark(_theirs().encode, ids.tolist())[0]
    assert codes == _ours().encode(ids).ids.tolist()


@pytest.mark.benchmark(group="decode")
def test_decode_ours(benchmark, ids: np.ndarray) -> None:
    codec = _ours()
    codes = codec.encode(ids).ids
    assert benchmark(codec.decode, codes).tolist() == ids.tolist()


@pytest.mark.benchmark(group="decode")
def test_decode_upstream(benchmark, ids: np.ndarray) -> None:
    codes = _ours().encode(ids).ids.tolist()
    assert benchmark(_theirs().decode, codes)[0] == ids.tolist()


@pytest.mark.benchmark(group="batch encode, 64 rows")
def test_batch_encode_ours(benchmark, ids: np.ndarray) -> None:
    rows = list(ids.reshape(64, -1))
    benchmark(_ours().batch_encode, rows)


@pytest.mark.benchmark(group="batch encode, 64 rows")
def test_batch_encode_upstream(benchmark, ids: np.ndarray) -> None:
    rows = ids.reshape(64, -1).tolist()
    benchmark(_theirs().batch_encode, rows, False, False, None)


@pytest.mark.benchmark(group="encode by codebook policy")
@pytest.mark.parametrize("policy", CODEBOOK_POLICIES)
def test_encode_by_policy(benchmark, ids: np.ndarray, policy: str) -> None:
    codec = _ours(policy)
    encoded = benchmark(codec.encode, ids)
    assert codec.decode(encoded.ids).tolist() == ids.tolist()


@pytest.mark.benchmark(group="hyper-encoder, one decode step")
@pytest.mark.parametrize("num_new_entries", [1, 8])
@pytest.mark.parametrize(
    "max_few_rows", [transformer._MAX_SKINNY_ROWS, 0], ids=["few-row-product", "nn-linear"]
)
def test_hyper_encoder_step(benchmark, monkeypatch, num_new_entries: int, max_few_rows: int) -> None:
    """The encoder call a decode step makes for the entries it created (batch rows x one entry each), with the
    few-row product of ``hyper_encoder/transformer.py`` and without it (``nn-linear``), side by side."""
    monkeypatch.setattr(transformer, "_MAX_SKINNY_ROWS", max_few_rows)
    torch.manual_seed(0)
    encoder = build_hyper_encoder(HyperEncoderConfig(), hidden_size=SMOLLM2_WIDTH, max_subtokens=M).eval()
    rows = torch.randn(num_new_entries, M, SMOLLM2_WIDTH)  # [entries, M, d]
    mask = torch.ones(num_new_entries, M, dtype=torch.bool)
    with torch.no_grad():
        out = benchmark(encoder, rows, mask)
    assert out.shape == (num_new_entries, SMOLLM2_WIDTH)
