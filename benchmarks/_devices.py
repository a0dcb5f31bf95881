"""Device plumbing for the benchmarks' command lines and result files: pick the device from ``--device``,
name it and tag its result file. What a run measures on it (sync, peak memory, roofline) lives in
``zip2zip.evaluation.devices`` and ``zip2zip.evaluation.roofline``.
"""

from __future__ import annotations

import os
import re

import torch

from zip2zip.modeling.load_options import resolve_device as resolve_model_device
from zip2zip.registry import unknown_name_message

DEVICES = ("auto", "cuda", "mps", "cpu")


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


def mps_fallback_enabled() -> bool:
    """With PYTORCH_ENABLE_MPS_FALLBACK=1 unsupported ops silently run on the CPU."""
    return os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK", "0") not in ("", "0")
