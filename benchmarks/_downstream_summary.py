"""The lines the downstream benchmark prints after a run: each row's accuracies, zip2zip's differences signed;
and the live view's line per finished (model, task). Formatting only; every number is the result's."""

from __future__ import annotations

from typing import Any

from zip2zip.evaluation.results import BenchmarkResult


def cell_line(row: dict[str, Any]) -> str:
    """``smollm2 arc_easy: acc=0.412 acc_norm=0.398 (31 s)``: one finished (model, task)."""
    fractions = " ".join(
        f"{k}={m['value']:.3f}" for k, m in row["metrics"].items() if m["unit"] == "fraction"
    )
    return f"{row['model']} {row['task']}: {fractions} ({row['duration_s']:.0f} s)"


def summary_lines(result: BenchmarkResult) -> list[str]:
    lines = [f"{'model':15s} {'task':14s} {'source':8s} metrics (fraction of items)"]
    for row in result.rows:
        versus = "versus" in row
        shown = " ".join(
            f"{k}={m['value']:+.3f}" if versus else f"{k}={m['value']:.3f}"
            for k, m in row["metrics"].items()
            if m["unit"] == "fraction"
        )
        who = f"zip2zip-{row['versus']}" if versus else row["model"]
        lines.append(f"{who:15s} {row['task']:14s} {row.get('task_source', ''):8s} {shown}")
    return lines
