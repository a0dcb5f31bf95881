"""The shipped math documents (``zip2zip.data.math_text_snapshot``): used exactly at the efficiency benchmark's
settings, generated live otherwise, and reproduced by a fresh generation (``slow``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.efficiency import Config
from zip2zip.data import math_text, math_text_snapshot
from zip2zip.data.math_text_snapshot import SNAPSHOT_SETTINGS, math_documents, read_snapshot, write_snapshot


def test_snapshot_settings_are_the_efficiency_defaults() -> None:
    defaults = Config()
    assert {
        "seed": defaults.seed,
        "num_docs": defaults.num_docs,
        "min_doc_bytes": defaults.min_doc_bytes,
    } == SNAPSHOT_SETTINGS


def _no_generation(**settings: Any) -> Any:
    raise AssertionError(f"generated live at {settings}, though the snapshot holds them")


def test_snapshot_settings_read_the_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(math_text, "generate_documents", _no_generation)
    docs, provenance = math_documents(**SNAPSHOT_SETTINGS)
    assert len(docs) == SNAPSHOT_SETTINGS["num_docs"]
    assert all(d.startswith("Question: ") for d in docs)
    assert provenance["snapshot"] == "math_text_documents.json.gz"
    assert provenance["generated_with"]["sympy"] and provenance["modules_used"]


def test_other_settings_generate_live(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def generate(**settings: Any) -> tuple[list[str], dict[str, Any]]:
        calls.append(settings)
        return ["Question: 1 + 1?\nAnswer: 2"], {"package": "mathematics-dataset"}

    monkeypatch.setattr(math_text, "generate_documents", generate)
    other = {**SNAPSHOT_SETTINGS, "num_docs": 4}
    assert math_documents(**other) == (["Question: 1 + 1?\nAnswer: 2"], {"package": "mathematics-dataset"})
    assert calls == [other]


def test_a_damaged_snapshot_is_refused(tmp_path: Path) -> None:
    snapshot = read_snapshot()
    write_snapshot({**snapshot, "docs": [*snapshot["docs"][:-1], "edited"]}, tmp_path / "damaged.json.gz")
    with pytest.raises(ValueError, match="do not match their sha256"):
        read_snapshot(tmp_path / "damaged.json.gz")


def test_writing_is_byte_for_byte_repeatable(tmp_path: Path) -> None:
    snapshot = read_snapshot()
    write_snapshot(snapshot, tmp_path / "again.json.gz")
    assert (tmp_path / "again.json.gz").read_bytes() == math_text_snapshot.SNAPSHOT_PATH.read_bytes()


@pytest.mark.slow
def test_a_fresh_generation_reproduces_the_snapshot() -> None:
    """About 30 s: what ``python -m zip2zip.data.math_text_snapshot --check`` does."""
    shipped, fresh = read_snapshot(), math_text_snapshot.generate_snapshot()
    assert fresh["docs_sha256"] == shipped["docs_sha256"], (
        f"generated with {fresh['generated_with']}, the snapshot with {shipped['generated_with']}: "
        "regenerate it (python -m zip2zip.data.math_text_snapshot) if the generator's versions changed"
    )
    assert fresh["provenance"] == shipped["provenance"]
