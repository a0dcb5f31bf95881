"""Distillation experiment: gaps to the control per shared held-out step, the verdict, and the curves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paper_tables import distillation


def _log(path: Path, nll_by_step: dict[int, float], final: float, **config: float) -> Path:
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


def test_gaps_and_verdict_come_from_the_logs(tmp_path):
    control = _log(tmp_path / "models" / "smollm2-cpu-control", {0: 2.5, 100: 2.0, 200: 1.9}, 1.85)
    _log(tmp_path / "exp" / "smollm2-cpu", {0: 3.5, 100: 2.5, 200: 2.3}, 2.35)
    _log(
        tmp_path / "exp" / "smollm2-cpu-distill",
        {0: 3.5, 100: 2.3, 200: 2.1, 300: 2.0},
        2.1,
        distill_split_weight=1.0,
    )
    written = distillation.render(tmp_path / "exp", control, tmp_path / "no-diagnose", tmp_path / "out")
    assert {p.name for p in written} == {"distillation.md", "distillation.png", "distillation.pdf"}
    text = (tmp_path / "out" / "distillation.md").read_text()
    assert "| 200 | 1.900 | 2.300 | 2.100 | +0.400 | +0.200 | 0.50 |" in text
    assert "| final | 1.850 | 2.350 | 2.100 | +0.500 | +0.250 | 0.50 |" in text
    assert "| 300 |" not in text  # only steps every run evaluated
    assert "At step 200 the distilled run's gap to the control is 50% of the plain run's" in text
    assert "is reached" in text


def test_missing_logs_render_nothing_and_say_so(tmp_path):
    with pytest.warns(UserWarning, match="not rendered"):
        assert distillation.render(tmp_path, tmp_path / "control.json", tmp_path, tmp_path / "out") == []
