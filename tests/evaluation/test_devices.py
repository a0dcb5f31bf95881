"""``device_sync`` calls each device kind's own synchronize (mocked: no GPU here); ``PeakMemory`` reads a
CPU peak after a reset."""

from __future__ import annotations

import pytest
import torch

from zip2zip.evaluation.devices import PeakMemory, device_sync


def test_sync_paths_call_the_device_synchronize(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(f"cuda:{device}"))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append("mps"))
    device_sync(torch.device("cuda:1"))()
    device_sync(torch.device("mps"))()
    device_sync(torch.device("cpu"))()
    assert calls == ["cuda:cuda:1", "mps"]


def test_cpu_peak_memory_after_a_reset() -> None:
    memory = PeakMemory(torch.device("cpu"))
    memory.reset()
    assert memory.read_bytes() > 0 and memory.kind.startswith("cpu_")
