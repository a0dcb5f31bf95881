"""What a timed run reads from its device besides the clock: a synchronisation before each clock read, and
the peak memory of the run. No timing loops here (``timing``), no choice of device (``resolve_device``).

Synchronisation is the one thing a wrong line silently breaks, so every device kind has one explicit
path: CUDA ``torch.cuda.synchronize(device)``, Apple ``torch.mps.synchronize()``, CPU nothing (every
CPU op has returned when its Python call returns).
"""

from __future__ import annotations

import resource
from collections.abc import Callable
from pathlib import Path

import torch


def device_sync(device: torch.device) -> Callable[[], None]:
    """A callable that blocks until all queued work on ``device`` has finished."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    if device.type == "mps":
        return torch.mps.synchronize
    return lambda: None


class PeakMemory:
    """Peak memory of one run. CUDA: ``max_memory_allocated`` after ``reset_peak_memory_stats``.
    MPS: no peak counter exists; the driver's allocation right after the run. CPU (Linux): the
    process's peak resident set (VmHWM) after resetting it through ``/proc/self/clear_refs``; it holds
    the weights and whatever the allocator kept, so compare methods, not absolute sizes."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.kind = {
            "cuda": "cuda_max_memory_allocated",
            "mps": "mps_driver_allocated_after_run",
        }.get(device.type, "cpu_peak_rss_vmhwm")
        if device.type == "cpu" and not _can_reset_rss_peak():
            self.kind = "cpu_lifetime_peak_rss_ru_maxrss"

    def reset(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        elif self.kind == "cpu_peak_rss_vmhwm":
            Path("/proc/self/clear_refs").write_text("5")

    def read_bytes(self) -> int:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        if self.device.type == "mps":
            return int(torch.mps.driver_allocated_memory())
        if self.kind == "cpu_peak_rss_vmhwm":
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _can_reset_rss_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return "VmHWM:" in Path("/proc/self/status").read_text()
    except OSError:
        return False
