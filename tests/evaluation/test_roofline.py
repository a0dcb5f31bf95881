"""The roofline's bandwidth figure: the datasheet table matches the longest GPU name first (device names
mocked: no GPU here), an override wins, and an unknown GPU has no figure rather than a guessed one."""

from __future__ import annotations

import pytest
import torch

from zip2zip.evaluation.roofline import memory_bandwidth_gb_per_s


@pytest.mark.parametrize(
    ("gpu", "expected"),
    [
        ("NVIDIA H100 80GB HBM3", 3350.0),
        ("NVIDIA H100 PCIe", 2000.0),
        ("NVIDIA A100-SXM4-80GB", 2039.0),
        ("NVIDIA A10G", 600.0),
        ("NVIDIA L4", 300.0),
        ("NVIDIA L40S", 864.0),
        ("Some Future GPU", None),
    ],
)
def test_bandwidth_table_longest_name_first(
    monkeypatch: pytest.MonkeyPatch, gpu: str, expected: float | None
) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: gpu)
    bandwidth, source = memory_bandwidth_gb_per_s(torch.device("cuda"), None)
    assert bandwidth == expected and source
    assert memory_bandwidth_gb_per_s(torch.device("cpu"), 123.0) == (123.0, "--memory-bandwidth-gb-per-s")
