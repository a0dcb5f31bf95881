"""What ``benchmarks/efficiency.py`` prints: the live view's line per finished cell and the closing table.
Printing only; the numbers are the result's rows."""

from __future__ import annotations

from typing import Any

from zip2zip.evaluation.results import BenchmarkResult


def cell_line(rows: list[dict[str, Any]]) -> str:
    """``smollm2 wikitext: gain 21.3% (main), 4 settings``: the live view's line of one finished cell."""
    shown = next((r for r in rows if r["setting"] == "main"), rows[0])
    gain = shown["metrics"]["gain_pct"]["value"]
    return (
        f"{shown['tokenizer']} {shown['corpus']}: gain {gain:.1f}% ({shown['setting']}), {len(rows)} settings"
    )


def summary_lines(result: BenchmarkResult) -> list[str]:
    lines = [
        f"{'tokenizer':10s} {'corpus':13s} {'base B/tok':>10s} {'zip2zip B/id':>12s} {'gain %':>7s} {'reuse':>6s}"
    ]
    for r in result.rows:
        if r["setting"] != "main":
            continue
        m = r["metrics"]
        reuse = m["hypertoken_reuse_fraction"]["value"]
        lines.append(
            f"{r['tokenizer']:10s} {r['corpus']:13s} {m['bytes_per_base_token']['value']:10.2f} "
            f"{m['bytes_per_compressed_id']['value']:12.2f} {m['gain_pct']['value']:7.1f} "
            f"{'--' if reuse is None else f'{reuse:.2f}':>6s}"
        )
    return lines
