"""Helpers the stand-in task YAMLs name with ``!function utils.<name>`` (lm-eval imports this file by path).

``load`` reads the committed JSONL beside this file, so the tasks run from any working directory and never
touch the network. The WinoGrande-format functions are lm-eval's own, re-exported unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lm_eval.tasks.winogrande.preprocess_winogrande import doc_to_choice, doc_to_target, doc_to_text

DATA_DIR = Path(__file__).resolve().parent / "data"

__all__ = ["doc_to_choice", "doc_to_target", "doc_to_text", "load"]


def load(data_file: str, fewshot_file: str | None = None, **metadata: Any) -> Any:
    """``DatasetDict`` with a ``test`` split (and a ``train`` split of few-shot examples when given).

    lm-eval passes the task's ``metadata`` too (version, stands_in_for); they are not needed here."""
    import datasets

    splits = {"test": data_file} | ({"train": fewshot_file} if fewshot_file else {})
    return datasets.DatasetDict(
        {split: datasets.Dataset.from_list(_rows(name)) for split, name in splits.items()}
    )


def _rows(name: str) -> list[dict[str, Any]]:
    path = DATA_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run python -m zip2zip.data.standin_tasks")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
