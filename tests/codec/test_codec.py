"""``LZWCodec`` beyond the algorithm: resources that scale with the input, threads, strict input types."""

from __future__ import annotations

import multiprocessing
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from zip2zip.codec import lzw
from zip2zip.codec.lzw_codec import LZWCodec

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("policy", ["freeze", "reset", "lru"])
def test_memory_scales_with_the_input_not_the_codebook_bound(policy: str) -> None:
    """3 ids with room for 2**26 entries: every table is sized by what 3 ids can create, under every policy.

    Measured as the growth of peak resident memory in a fresh interpreter, after a warm-up call with a
    small codebook (so imports and compiled kernels are already counted); numba's allocations are
    invisible to tracemalloc.
    """
    script = textwrap.dedent(
        """
        import resource
        from zip2zip.codec.lzw_codec import LZWCodec

        def run(codec):
            enc = codec.encode([1, 2, 1, 2, 1])
            codec.decode_with_codebook(enc.ids)
            codec.batch_encode([[1, 2, 1], [3]])
            codec.batch_decode([enc.ids, [1, 10, 10]])

        run(LZWCodec(10, pad_token_id=0, max_codebook_size=16, codebook_policy=POLICY))
        before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        run(LZWCodec(10, pad_token_id=0, max_codebook_size=2**26, codebook_policy=POLICY))
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kib)  # KiB (bytes on macOS)
        """
    ).replace("POLICY", repr(policy))
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=True
    )
    growth_mib = int(done.stdout) / (2**20 if sys.platform == "darwin" else 2**10)
    assert growth_mib < 32, f"peak memory grew by {growth_mib:.0f} MiB for 3 ids"


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_forked_child_runs_threaded_batches() -> None:
    """A DataLoader worker is a fork of a parent that may have used the thread pool already."""
    codec = LZWCodec(50, pad_token_id=0, max_codebook_size=256, num_threads=2)
    seqs = [np.arange(1024) % 50] * 64  # 64 x 1024 ids: split across both threads
    codec.batch_encode(seqs)
    child = multiprocessing.get_context("fork").Process(target=codec.batch_encode, args=(seqs,))
    child.start()
    child.join(timeout=60)  # guards against a deadlock; the child needs milliseconds
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail("the forked child hung on the thread pool it inherited")
    assert child.exitcode == 0


def small_codec(**options: object) -> LZWCodec:
    return LZWCodec(10, pad_token_id=0, max_codebook_size=100, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("use_fast", [False, True], ids=["reference", "fast"])
@pytest.mark.parametrize(
    "bad",
    [2.5, True, "3", np.float64(3.0), np.True_],
    ids=["float", "bool", "str", "numpy-float", "numpy-bool"],
)
def test_non_integer_ids_are_rejected_not_coerced(use_fast: bool, bad: object) -> None:
    shown = rf"{re.escape(repr(bad))} \({type(bad).__name__}\) at position 2 is not an integer id"
    codec = small_codec(use_fast=use_fast)
    ids = [1, 2, bad, 1]
    for call in (codec.encode, codec.decode, codec.decode_with_codebook):
        with pytest.raises(TypeError, match=shown):
            call(ids)
    with pytest.raises(TypeError, match=rf"sequences\[1\]: {shown}"):
        codec.batch_encode([[1, 2], ids])
    with pytest.raises(TypeError, match=rf"sequences\[1\]: {shown}"):
        codec.batch_decode([[1, 2], tuple(ids)])
    with pytest.raises(TypeError, match=shown):
        lzw.compress(ids, codec.config)
    stream = codec.new_stream()
    stream.feed_many([1, 2])
    with pytest.raises(TypeError, match=shown):
        stream.feed(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"disabled_ids: .* at position 1 is not an integer id"):
        small_codec(disabled_ids=[3, bad])


@pytest.mark.parametrize(
    ("ids", "shown"),
    [
        pytest.param(np.array([1.0, 2.0]), r"dtype float64: 1\.0 at position 0", id="float-array"),
        pytest.param(np.array([True, False]), "dtype bool: True at position 0", id="bool-array"),
        pytest.param(np.array(["1", "2"]), "dtype <U1: '1' at position 0", id="str-array"),
        pytest.param(np.array([1, 2.5], dtype=object), r"2\.5 \(float\) at position 1", id="object-array"),
    ],
)
def test_non_integer_arrays_are_rejected(ids: np.ndarray, shown: str) -> None:
    with pytest.raises(TypeError, match=shown):
        small_codec().encode(ids)


def test_numpy_and_torch_integer_ids_are_accepted() -> None:
    torch = pytest.importorskip("torch")
    codec = small_codec()
    expected = codec.encode([1, 2, 1, 2, 1, 2, 1, 2]).ids.tolist()
    for ids in (
        (1, 2, 1, 2, 1, 2, 1, 2),
        np.array([1, 2, 1, 2, 1, 2, 1, 2], np.uint8),
        np.array([1, 2, 1, 2, 1, 2, 1, 2], np.int32),
        np.array([1, 2, 1, 2, 1, 2, 1, 2], dtype=object),
        [np.int64(1), 2, np.int16(1), 2, 1, 2, 1, torch.tensor(2)],
        torch.tensor([1, 2, 1, 2, 1, 2, 1, 2]),
    ):
        assert codec.encode(ids).ids.tolist() == expected
        assert codec.decode(expected).tolist() == [1, 2, 1, 2, 1, 2, 1, 2]
    stream = codec.new_stream()
    assert stream.feed(np.int64(1)) == [] and stream.feed(torch.tensor(2)) == [(10, (1, 2))]
    assert small_codec(disabled_ids=np.array([3, 4])).config.disabled_ids == {0, 3, 4}


def test_torch_bool_and_float_ids_are_rejected() -> None:
    torch = pytest.importorskip("torch")
    codec = small_codec()
    for bad in (torch.tensor(True), torch.tensor(1.0)):
        with pytest.raises(TypeError, match=r"\(Tensor\) at position 1 is not an integer id"):
            codec.encode([1, bad])
    for bad in (torch.tensor([True]), torch.tensor([1.0])):
        with pytest.raises(TypeError, match=r"must hold integer ids, got dtype (bool|float32)"):
            codec.encode(bad)


def test_plain_ints_and_integer_arrays_skip_the_per_id_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The id-by-id check is for mixed lists only; large inputs stay one pass in C."""

    def per_id_check(*args: object) -> list[int]:
        raise AssertionError("checked id by id")

    codec = small_codec()
    monkeypatch.setattr(lzw, "as_ids", per_id_check)
    ids = np.arange(10_000) % 10
    assert codec.decode(codec.encode(ids).ids).tolist() == ids.tolist()
    assert codec.encode(ids.tolist()).ids.tolist() == codec.encode(ids.astype(np.int32)).ids.tolist()
    assert len(codec.batch_encode([ids, ids.tolist()]).codebooks) == 2


def test_ids_beyond_int64_are_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"id 36893488147419103232 at position 1 does not fit in int64"):
        small_codec().encode([1, 2**65])


@pytest.mark.parametrize("value", [2**63, 2**64 - 1])
def test_uint64_ids_beyond_int64_are_named_not_wrapped(value: int) -> None:
    """Was reported as its wrapped negative value (``id -1 ... does not exist yet``)."""
    ids = np.array([1, value], dtype=np.uint64)
    for call in (small_codec().encode, small_codec().decode, lambda x: small_codec().batch_decode([x])):
        with pytest.raises(ValueError, match=rf"id {value} at position 1 does not fit in int64"):
            call(ids)


def test_batch_decode_refuses_a_3d_batch_instead_of_flattening_it() -> None:
    ids = np.array([[[1, 2], [3, 4]]])
    with pytest.raises(ValueError, match=r"ids shape \(1, 2, 2\) .* must be the same \[batch, seq\]"):
        small_codec().batch_decode(ids, np.ones_like(ids))


def test_the_codec_is_built_with_the_configs_own_names() -> None:
    codec = LZWCodec(initial_vocab_size=10, pad_token_id=0, max_subtokens=3, max_codebook_size=100)
    assert codec.config.initial_vocab_size == 10 and codec.encode([1, 2, 1, 2]).ids.tolist() == [1, 2, 10]


@pytest.mark.parametrize("policy", ["freeze", "reset", "lru"])
def test_encode_each_equals_encode_one_by_one(policy: str) -> None:
    """One batched call (split over two threads: more ids than two threads' minimum) gives each sequence
    exactly what ``encode`` gives it alone: codes, codebook, entry positions and history."""
    rng = np.random.default_rng(1)
    seqs = [rng.integers(0, 50, size=int(n)).tolist() for n in rng.integers(0, 9000, size=16)]
    seqs[3] = []
    codec = LZWCodec(50, pad_token_id=0, max_subtokens=3, max_codebook_size=64, codebook_policy=policy)
    threaded = LZWCodec(
        50, pad_token_id=0, max_subtokens=3, max_codebook_size=64, codebook_policy=policy, num_threads=2
    )
    assert sum(map(len, seqs)) > 2 * 32_768
    for each, seq in zip(threaded.encode_each(seqs), seqs, strict=True):
        alone = codec.encode(seq)
        assert np.array_equal(each.ids, alone.ids) and each.codebook == alone.codebook
        assert np.array_equal(each.entry_positions, alone.entry_positions)
        assert each.history.records() == alone.history.records()
