"""The memory-bound floor of a decode step: the bytes a step must read and the device's peak DRAM bandwidth.
A batch-1 decode step cannot be faster than their ratio, so a measured step time reads as a fraction of it.
"""

from __future__ import annotations

from typing import Any

import torch

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


def memory_bandwidth_gb_per_s(device: torch.device, override: float | None) -> tuple[float | None, str]:
    """(bandwidth, where the figure comes from); None off CUDA or for an unknown GPU."""
    if override is not None:
        return override, "--memory-bandwidth-gb-per-s"
    if device.type != "cuda":
        return None, f"no roofline on {device.type}"
    name = torch.cuda.get_device_name(device)
    for pattern, gb_per_s in GPU_MEMORY_BANDWIDTH_GB_PER_S:
        if pattern in name:
            return gb_per_s, f"datasheet figure for {pattern!r} (zip2zip/evaluation/roofline.py)"
    return None, f"unknown GPU {name!r}: pass --memory-bandwidth-gb-per-s"


def decode_step_bytes(model: Any, context_length: int) -> int:
    """Bytes a batch-1 decode step must read at least: every weight once plus the KV cache so far."""
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    cfg = model.config.get_text_config()
    heads = cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
    element = next(model.parameters()).element_size()
    return int(weights + 2 * cfg.num_hidden_layers * kv_heads * head_dim * context_length * element)
