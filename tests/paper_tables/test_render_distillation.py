"""Distillation experiment: gaps to the control per shared held-out step, the verdict, and the curves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from paper_tables import distillation

ROOT = Path(__file__).resolve().parents[2]


def _log(path: Path, nll_by_step: dict[int, float], final: float, **config: float | str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    log = {
        "config": {"preset": path.name, "use_compression": "control" not in path.name, **config},
        "validation": [
            {"step": s, "nll_per_base_token": v, "num_train_codes_seen": 1000 * s, "base_loss": v}
            for s, v in nll_by_step.items()
        ],
        "summary": {"final_heldout": {"nll_per_base_token": final}},
    }
    (path / "train_log.json").write_text(json.dumps(log))
    return path / "train_log.json"


def test_gaps_and_verdicts_come_from_the_logs(tmp_path):
    models = tmp_path / "models"
    control = _log(models / "smollm2-cpu-control", {0: 2.5, 100: 2.0, 200: 1.9}, 1.85)
    plain = _log(models / "smollm2-cpu-zip2zip", {0: 3.5, 100: 2.5, 200: 2.3}, 2.35)
    _log(
        tmp_path / "exp" / "smollm2-cpu-distill",
        {0: 3.5, 100: 2.3, 200: 2.1, 300: 2.0},
        2.1,
        distill_first_token_weight=1.0,
        distill_split_weight=1.0,
    )
    _log(
        tmp_path / "exp" / "smollm2-cpu-distill-control",
        {0: 3.5, 100: 2.4, 200: 2.2},
        2.3,
        distill_first_token_weight=1.0,
        distill_split_weight=0.5,
        distill_teacher="models/smollm2-cpu-control",
    )
    written = distillation.render(
        tmp_path / "exp", plain, control, tmp_path / "no-diagnose", tmp_path / "out"
    )
    assert {p.name for p in written} == {"distillation.md", "distillation.png", "distillation.pdf"}
    text = (tmp_path / "out" / "distillation.md").read_text()
    assert "| 200 | 1.900 | 2.300 (+0.400) | 2.100 (+0.200, 0.50) | 2.200 (+0.300, 0.75) |" in text
    assert "| final | 1.850 | 2.350 (+0.500) | 2.100 (+0.250, 0.50) | 2.300 (+0.450, 0.90) |" in text
    assert "| 300 |" not in text  # only steps every run evaluated
    assert (
        "- `smollm2-cpu-distill` (first-token weight 1.0, split weight 1.0, teacher the base model, LoRA off): "
        "at step 200 its gap to the control is 50% of the plain run's; the target (a gap at least 30% smaller) "
        "is reached." in text
    )
    assert (
        "- `smollm2-cpu-distill-control` (first-token weight 1.0, split weight 0.5, teacher the adapter of "
        "`models/smollm2-cpu-control`): at step 200 its gap to the control is 75% of the plain run's; the "
        "target (a gap at least 30% smaller) is not reached." in text
    )


def test_missing_logs_render_nothing_and_say_so(tmp_path):
    control = _log(tmp_path / "models" / "smollm2-cpu-control", {0: 2.5}, 2.5)
    plain = _log(tmp_path / "models" / "smollm2-cpu-zip2zip", {0: 3.5}, 3.5)
    with pytest.warns(UserWarning, match="not rendered: no .*exp/\\*/train_log.json"):
        assert distillation.render(tmp_path / "exp", plain, control, tmp_path, tmp_path / "out") == []
    _log(tmp_path / "exp" / "smollm2-cpu-distill", {0: 3.5}, 3.5)
    with pytest.warns(UserWarning, match="not rendered: no .*nowhere.json"):
        assert (
            distillation.render(tmp_path / "exp", tmp_path / "nowhere.json", control, tmp_path, tmp_path)
            == []
        )


def test_the_diagnosis_table_names_each_checkpoint_and_its_teacher(tmp_path):
    """One row per committed ``benchmarks.diagnose`` result and corpus, read from the file."""
    models = tmp_path / "models"
    control = _log(models / "smollm2-cpu-control", {0: 2.5}, 2.5)
    plain = _log(models / "smollm2-cpu-zip2zip", {0: 3.5}, 3.5)
    _log(tmp_path / "exp" / "smollm2-cpu-distill", {0: 3.5}, 3.5)
    diagnose = tmp_path / "diagnose"
    diagnose.mkdir()
    committed = ROOT / "results" / "diagnose" / "smollm2-cpu-distill.json"
    shutil.copy(committed, diagnose / committed.name)
    distillation.render(tmp_path / "exp", plain, control, diagnose, tmp_path / "out")
    text = (tmp_path / "out" / "distillation.md").read_text()
    wikitext = next(r for r in json.loads(committed.read_text())["rows"] if r["corpus"] == "wikitext")
    kl = wikitext["metrics"]["first_token_kl"]["value"]
    assert "| checkpoints/smollm2-cpu-distill/final | control | wikitext | " in text
    assert f"| {kl:.3f} |" in text
