"""Compile the ``reset`` / ``lru`` kernels in a child process while the caller does other work.

numba compiles a kernel on its first call and caches it on disk (``cache=True``, next to the sources). From a
fresh clone the first efficiency run pays that compilation, 10-20 s for these kernels alone, holding the
GIL. A child process can fill the cache on the other core in that time; the caller waits for it before its
first ``reset`` or ``lru`` call and then loads the cached kernels. With a warm cache the child only loads
them (about a second, on the other core). Nothing here changes what the kernels compute; if the child fails,
the caller compiles them itself, as without it.

    with compiling_policy_kernels() as warmup:
        ...  # work that does not need the policy kernels
        warmup.wait()
        ...  # LZWCodec(..., codebook_policy="lru")
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class KernelWarmup:
    """A child process compiling the policy kernels; ``wait()`` returns once it has finished (or failed)."""

    def __init__(self) -> None:
        self._child: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "zip2zip.codec.kernel_warmup"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait(self) -> None:
        if self._child is not None:
            self._child.wait()
            self._child = None

    def stop(self) -> None:
        """End the child if it still runs (the caller stopped early); the cache is written atomically."""
        if self._child is not None and self._child.poll() is None:
            self._child.kill()
        self.wait()


@contextmanager
def compiling_policy_kernels() -> Iterator[KernelWarmup]:
    """Start compiling in a child process; the child never outlives the ``with`` block (a run that needs
    no policy kernel ends it, unwaited: numba replaces its cache files atomically)."""
    warmup = KernelWarmup()
    try:
        yield warmup
    finally:
        warmup.stop()


def _compile_policy_kernels() -> None:
    """One encode and decode under ``lru``: ``reset`` runs the same kernels (``is_lru`` is an argument)."""
    from zip2zip.codec.lzw_codec import LZWCodec

    codec = LZWCodec(4, pad_token_id=0, max_subtokens=2, max_codebook_size=1, codebook_policy="lru")
    codec.batch_decode([e.ids for e in codec.encode_each([[1, 2, 1, 2, 3]])])


if __name__ == "__main__":
    _compile_policy_kernels()
