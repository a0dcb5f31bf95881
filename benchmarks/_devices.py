"""Device plumbing for timed benchmarks: pick the device, synchronise it, read peak memory, and the
memory-bandwidth figure a decode-step roofline needs. No timing loops here.

Synchronisation is the one thing a wrong line silently breaks, so every device kind has one explicit
path: CUDA ``torch.cuda.synchronize(device)``, Apple ``torch.mps.synchronize()``, CPU nothing (every
CPU op has returned when its Python call returns).
"""

from __future__ import annotations

import os
import re
import resource
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from zip2zip.modeling.load_options import resolve_device as resolve_model_device
from zip2zip.registry import unknown_name_message

DEVICES = ("auto", "cuda", "mps", "cpu")

# Peak DRAM bandwidth from the vendors' datasheets, GB/s (1e9 bytes/s). First match wins, so a longer
# name precedes any name it contains ("A100" before "A10", "L40S" before "L40" before "L4").
GPU_MEMORY_BANDWIDTH_GB_PER_S: tuple[tuple[str, float], ...] = (
    ("H200", 4800.0),
    ("H100 NVL", 3900.0),
    ("H100 PCIe", 2000.0),
    ("H100", 3350.0),  # SXM5 (torch reports "NVIDIA H100 80GB HBM3")
    ("GH200", 4000.0),
    ("A100-SXM4-80GB", 2039.0),
    ("A100 80GB PCIe", 1935.0),
    ("A100", 1555.0),  # 40 GB, SXM4 and PCIe
    ("A10G", 600.0),
    ("A10", 600.0),
    ("L40S", 864.0),
    ("L40", 864.0),
    ("L4", 300.0),
    ("V100", 900.0),
    ("T4", 320.0),
    ("RTX 4090", 1008.0),
    ("RTX 3090", 936.0),
    ("RTX A6000", 768.0),
)


def resolve_device(name: str) -> torch.device:
    """A ``--device`` name as a device: ``auto`` is the first CUDA device, else MPS, else the CPU (the rule
    of ``from_pretrained(device_map=...)``, ``load_options.resolve_device``); one that is not there is an error."""
    if name not in DEVICES and not re.fullmatch(r"cuda:\d+", name):
        raise ValueError(unknown_name_message("device", name, DEVICES, also="cuda:N"))
    device = resolve_model_device(name, option="--device")
    assert device is not None  # a name is never None
    return device


def checked_device(name: str) -> str:
    """A ``--device`` value as typed, if :func:`resolve_device` accepts it here (else its ValueError)."""
    resolve_device(name)
    return name


def device_sync(device: torch.device) -> Callable[[], None]:
    """A callable that blocks until all queued work on ``device`` has finished."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    if device.type == "mps":
        return torch.mps.synchronize
    return lambda: None


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    from zip2zip.provenance import cpu_model

    return cpu_model()


def device_tag(device: torch.device) -> str:
    """Result-file tag: ``cpu``, ``mps`` or ``cuda-<gpu-name>``, so two GPUs never share a file."""
    if device.type != "cuda":
        return device.type
    slug = re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(device).lower()).strip("-")
    return f"cuda-{slug.removeprefix('nvidia-')}"


def memory_bandwidth_gb_per_s(device: torch.device, override: float | None) -> tuple[float | None, str]:
    """(bandwidth, where the figure comes from); None off CUDA or for an unknown GPU."""
    if override is not None:
        return override, "--memory-bandwidth-gb-per-s"
    if device.type != "cuda":
        return None, f"no roofline on {device.type}"
    name = torch.cuda.get_device_name(device)
    for pattern, gb_per_s in GPU_MEMORY_BANDWIDTH_GB_PER_S:
        if pattern in name:
            return gb_per_s, f"datasheet figure for {pattern!r} (benchmarks/_devices.py)"
    return None, f"unknown GPU {name!r}: pass --memory-bandwidth-gb-per-s"


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


def decode_step_bytes(model: Any, context_length: int) -> int:
    """Bytes a batch-1 decode step must read at least: every weight once plus the KV cache so far."""
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    cfg = model.config.get_text_config()
    heads = cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
    element = next(model.parameters()).element_size()
    return int(weights + 2 * cfg.num_hidden_layers * kv_heads * head_dim * context_length * element)


def mps_fallback_enabled() -> bool:
    """With PYTORCH_ENABLE_MPS_FALLBACK=1 unsupported ops silently run on the CPU."""
    return os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK", "0") not in ("", "0")
