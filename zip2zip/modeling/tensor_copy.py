"""Loading saved tensors into a module's own, by name, refusing anything that would load as another model."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from zip2zip.modeling.config_file import first_line


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


def load_tensors(file: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; a damaged one (a truncated header, another file linked in its place)
    is one line naming it, not safetensors' own error type."""
    if not file.is_file():
        raise ValueError(f"{file} is missing or not a regular file (a folder, pipe, device or broken link)")
    try:
        return load_file(str(file))
    except Exception as error:  # SafetensorError, OSError, ...: all mean the file is not what was saved
        raise ValueError(f"{file} is not a readable safetensors file ({first_line(error)})") from error
