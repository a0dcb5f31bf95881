"""Zip2zip checkpoints as the evaluation benchmarks find and describe them (perplexity, downstream)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zip2zip.modeling.config import CONFIG_FILE_NAME

from ._cli import argument_type

ROOT = Path(__file__).resolve().parent.parent


def checkpoint_path(text: str) -> Path:
    """A ``--*-checkpoint`` value: absolute, or relative to the repository (``models/...``)."""
    path = Path(text)
    return path if path.is_absolute() else ROOT / path


def checkpoint_problem(text: str) -> str | None:
    """Why ``text`` names no saved zip2zip checkpoint (None if it names one)."""
    if not text:
        return "empty path, but this model needs a saved checkpoint"
    path = checkpoint_path(text)
    if not path.is_dir():
        return f"no checkpoint folder {path} (`nox -s train` builds models/...; or check the path)"
    if not (path / CONFIG_FILE_NAME).is_file():
        return f"{path} holds no {CONFIG_FILE_NAME}, so it is not a saved zip2zip checkpoint"
    return None


def checked_checkpoint(text: str) -> str:
    """A ``--*-checkpoint`` value as typed, if it names a saved checkpoint; ``""`` (none) passes too."""
    if text and (problem := checkpoint_problem(text)):
        raise ValueError(problem)
    return text


def add_checkpoint_arguments(parser: argparse.ArgumentParser, *, untrained: str) -> None:
    """``--control-checkpoint`` and ``--zip2zip-checkpoint``, checked as they are parsed; ``untrained``: what
    ``--zip2zip-checkpoint ''`` evaluates instead."""
    parser.add_argument(
        "--control-checkpoint",
        type=argument_type(checked_checkpoint),
        help="continual-pretraining control (default models/smollm2-cpu-control)",
    )
    parser.add_argument(
        "--zip2zip-checkpoint",
        type=argument_type(checked_checkpoint),
        help=f"zip2zip checkpoint (default models/smollm2-cpu-zip2zip; '' = {untrained})",
    )


def missing_checkpoints(models: Sequence[str], *, control: str, zip2zip: str) -> str | None:
    """Why a selected model cannot load its checkpoint, as ``--<model>-checkpoint: why`` (None if all can).
    ``control`` always loads one; ``zip2zip`` too unless its path is ``""`` (untrained wrapper of the base)."""
    paths = {"control": control, "zip2zip": zip2zip}
    problems = [
        f"--{m}-checkpoint: {problem}"
        for m in models
        if m in paths and (m == "control" or paths[m]) and (problem := checkpoint_problem(paths[m]))
    ]
    return "; ".join(problems) or None


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
