"""Downstream table: zip2zip's differences joined to its scores per task and metric variant, CIs as measured."""

from __future__ import annotations

from paper_tables import downstream
from zip2zip.evaluation.results import BenchmarkResult, metric


def _result() -> BenchmarkResult:
    def score(model: str, acc: float) -> dict:
        return {
            "model": model,
            "task": "piqa",
            "task_source": "hub",
            "num_fewshot": 0,
            "lm_eval_task": "piqa",
            "lm_eval_task_version": 1.0,
            "metrics": {"acc": metric(acc, "fraction", num_samples=150), "acc_norm": metric(acc, "fraction")},
        }

    versus_base = {
        "model": "zip2zip",
        "task": "piqa",
        "versus": "base",
        "metrics": {"acc_difference": metric(-0.05, "fraction", ci95=[-0.09, -0.01])},
    }
    return BenchmarkResult(
        benchmark="downstream",
        status="full",
        config={},
        rows=[score("base", 0.7), score("zip2zip", 0.65), versus_base],
        duration_s=1.0,
    )


def test_difference_rows_join_scores_and_differences() -> None:
    text = downstream.render_markdown(_result(), caption="Downstream")
    lines = [line for line in text.splitlines() if line.startswith("| PIQA |")]
    # acc: a difference from the base row, none from the (absent) control; items from zip2zip's score
    assert lines[0] == "| PIQA | acc | +0.03 | -0.050 [-0.090, -0.010] | -- | 150 |"
    # acc_norm: scored, but no difference row measured it, and no item count recorded
    assert lines[1] == "| PIQA | acc_norm | +0.03 | -- | -- | -- |"
