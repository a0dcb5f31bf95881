"""The policy kernels' warm-up child (``zip2zip.codec.kernel_warmup``): it runs the kernels and exits cleanly,
is not started when not needed, and never outlives its ``with`` block."""

from __future__ import annotations

import subprocess
import sys

import pytest

from zip2zip.codec import kernel_warmup
from zip2zip.codec.kernel_warmup import KernelWarmup, compiling_policy_kernels


def test_the_child_runs_the_policy_kernels() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "zip2zip.codec.kernel_warmup"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def _no_child(*args: object, **kwargs: object) -> None:
    raise AssertionError("a child was started though none is needed")


def test_not_needed_starts_no_child(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernel_warmup.subprocess, "Popen", _no_child)
    with compiling_policy_kernels(is_needed=False) as warmup:
        warmup.wait()


def test_the_child_ends_with_the_block() -> None:
    with compiling_policy_kernels() as warmup:
        child = warmup._child
        assert child is not None
    assert child.poll() is not None
    KernelWarmup(is_needed=False).stop()
