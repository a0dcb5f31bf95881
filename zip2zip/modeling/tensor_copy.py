"""Loading saved tensors into a module's own, by name, refusing anything that would load as another model."""

from __future__ import annotations

from pathlib import Path

import torch


def copy_tensors_strictly(
    file: Path,
    saved: dict[str, torch.Tensor],
    expected: dict[str, torch.Tensor],
    *,
    what: str,
    hint: str = "",
) -> None:
    """Copy ``saved`` into ``expected`` by name; a missing, unmatched or reshaped tensor is refused, named."""
    missing, unmatched = sorted(set(expected) - set(saved)), sorted(set(saved) - set(expected))
    if missing or unmatched:
        raise ValueError(
            f"{file} does not match {what}: missing {missing[:5]}, unmatched {unmatched[:5]}{hint}"
        )
    wrong = [
        (k, tuple(saved[k].shape), tuple(v.shape)) for k, v in expected.items() if saved[k].shape != v.shape
    ]
    if wrong:
        raise ValueError(f"{file}: shape mismatch (name, saved, expected): {wrong[:5]}")
    with torch.no_grad():
        for k, v in expected.items():
            v.copy_(saved[k])
