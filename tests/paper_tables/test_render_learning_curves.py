"""Learning-curve renderer: plots zip2zip and control logs with curves, skips a log without them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paper_tables import learning_curves
from paper_tables.build import build


def _point(step: int, codes: int, nll: float, *, compressed: bool) -> dict:
    return {
        "step": step,
        "num_train_codes_seen": codes,
        "num_train_base_tokens_seen": int(codes * (1.3 if compressed else 1.0)),
        "nll_per_base_token": nll,
        "base_loss": nll * 1.1,
        "hypertoken_loss": nll * 1.6 if compressed else None,
        "reconstruction_accuracy": 0.2 + step / 400 if compressed else None,
    }


def _write_log(folder: Path, *, compressed: bool, curves: bool = True) -> None:
    points = [_point(s, s * 1000, 3.0 - s / 200, compressed=compressed) for s in (0, 25, 50)]
    if not curves:  # an old log: validation points without what training had seen
        points = [{k: v for k, v in p.items() if not k.startswith("num_train")} for p in points[1:]]
    log = {
        "config": {"use_compression": compressed},
        "validation": points,
        "heldout_reference": {"slot_blind_reconstruction_accuracy": 0.463 if compressed else None},
    }
    folder.mkdir(parents=True)
    (folder / "train_log.json").write_text(json.dumps(log), encoding="utf-8")


def test_plots_runs_with_curves_and_skips_old_logs(tmp_path) -> None:
    models = tmp_path / "models"
    _write_log(models / "cpu-zip2zip", compressed=True)
    _write_log(models / "cpu-control", compressed=False)
    _write_log(models / "old-run", compressed=True, curves=False)
    with pytest.warns(UserWarning, match="old-run.*no learning-curve points"):
        runs = learning_curves.find_runs(models)
    assert [(r.name, r.use_compression, len(r.points)) for r in runs] == [
        ("cpu-control", False, 3),
        ("cpu-zip2zip", True, 3),
    ]
    assert runs[1].slot_blind_accuracy == 0.463
    with pytest.warns(UserWarning):
        written = learning_curves.plot(models, tmp_path / "out")
    assert [p.name for p in written] == ["learning_curves.png", "learning_curves.pdf"]
    assert all(p.stat().st_size > 1000 for p in written)


def test_no_run_with_curves_plots_nothing(tmp_path) -> None:
    _write_log(tmp_path / "models" / "old-run", compressed=True, curves=False)
    with pytest.warns(UserWarning, match="nothing plotted"):
        assert learning_curves.plot(tmp_path / "models", tmp_path / "out") == []


def test_build_renders_learning_curves_of_the_models_folder(tmp_path) -> None:
    _write_log(tmp_path / "models" / "cpu-zip2zip", compressed=True)
    with pytest.warns(UserWarning):  # no table results in the empty results folder
        written = build(tmp_path / "results", tmp_path / "out", models_dir=tmp_path / "models")
    assert {p.name for p in written} == {"learning_curves.png", "learning_curves.pdf"}


def test_labels_use_a_readers_words_and_the_tables_method_names(tmp_path, drawn_figures) -> None:
    _write_log(tmp_path / "models" / "cpu-zip2zip", compressed=True)
    _write_log(tmp_path / "models" / "cpu-control", compressed=False)
    learning_curves.plot(tmp_path / "models", tmp_path / "out")
    (fig,) = drawn_figures
    nll, _, reconstruction = fig.axes
    words = " ".join(
        [ax.get_xlabel() + ax.get_ylabel() + ax.get_title() for ax in fig.axes]
        + [text.get_text() for ax in fig.axes for text in ax.get_legend().get_texts()]
    )
    assert "codes" not in words and "slot-blind" not in words
    assert [line.get_label() for line in nll.lines] == [
        "continual pretraining (cpu-control)",
        "zip2zip (cpu-zip2zip)",
    ]
    assert reconstruction.get_ylim() == (0, 1)  # a fraction
