"""The policy kernels' warm-up child (``zip2zip.codec.kernel_warmup``): it runs the kernels and exits cleanly,
and never outlives its ``with`` block."""

from __future__ import annotations

import subprocess
import sys

from zip2zip.codec.kernel_warmup import compiling_policy_kernels


def test_the_child_runs_the_policy_kernels() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "zip2zip.codec.kernel_warmup"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_child_ends_with_the_block() -> None:
    with compiling_policy_kernels() as warmup:
        child = warmup._child
        assert child is not None
    assert child.poll() is not None
    warmup.stop()  # again: nothing left to end
