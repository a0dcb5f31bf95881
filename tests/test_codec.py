"""``LZWCodec`` beyond the algorithm: resources that scale with the input, threads, strict input types."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from zip2zip.codec import LZWCodec

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_memory_scales_with_the_input_not_the_codebook_bound() -> None:
    """3 ids with room for 2**26 entries: every table is sized by what 3 ids can create.

    Measured as the growth of peak resident memory in a fresh interpreter, after a warm-up call with a
    small codebook (so imports and compiled kernels are already counted); numba's allocations are
    invisible to tracemalloc.
    """
    script = textwrap.dedent(
        """
        import resource
        from zip2zip.codec import LZWCodec

        def run(codec):
            enc = codec.encode([1, 2, 1, 2, 1])
            codec.decode_with_codebook(enc.ids)
            codec.batch_encode([[1, 2, 1], [3]])
            codec.batch_decode([enc.ids, [1, 10, 10]])

        run(LZWCodec(10, pad_token_id=0, max_codebook_size=16))
        before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        run(LZWCodec(10, pad_token_id=0, max_codebook_size=2**26))
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kib)  # KiB (bytes on macOS)
        """
    )
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
