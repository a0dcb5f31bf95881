"""Zip2zip checkpoints as the evaluation benchmarks find and describe them (perplexity, downstream)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def checkpoint_path(text: str) -> Path:
    """A ``--*-checkpoint`` value: absolute, or relative to the repository (``models/...``)."""
    path = Path(text)
    return path if path.is_absolute() else ROOT / path


def describe_checkpoint(path: Path) -> dict[str, Any]:
    """What a result records of a checkpoint: where it is and, from its ``train_log.json``, how it was made."""
    info: dict[str, Any] = {"checkpoint": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)}
    log = path / "train_log.json"
    if log.is_file():
        train_log = json.loads(log.read_text(encoding="utf-8"))
        summary = train_log.get("summary", {})
        info["training"] = {
            "preset": train_log.get("config", {}).get("preset"),
            "git": train_log.get("git"),
            "num_steps": summary.get("num_steps_done"),
            "final_heldout_nll_per_base_token": summary.get("final_heldout", {}).get("nll_per_base_token"),
        }
    return info
