"""The lines the perplexity benchmark prints after a run: byte perplexity per (model, corpus) and zip2zip's
increase over each reference; and the live view's line per finished (model, corpus). Formatting only; every
number is the result's."""

from __future__ import annotations

from typing import Any

from zip2zip.evaluation.results import BenchmarkResult


def cell_line(row: dict[str, Any]) -> str:
    """``smollm2 wikitext: byte perplexity 2.871 (95% CI 2.80-2.95), r 1.00``: one finished (model, corpus)."""
    ppl, r = row["metrics"]["byte_perplexity"], row["metrics"]["compression_ratio"]["value"]
    return (
        f"{row['model']} {row['corpus']}: byte perplexity {ppl['value']:.3f} "
        f"(95% CI {ppl['ci95'][0]:.3f}-{ppl['ci95'][1]:.3f}), r {r:.2f}"
    )


def summary_lines(result: BenchmarkResult) -> list[str]:
    lines = [
        f"{'model':8s} {'corpus':9s} {'source':8s} {'byte ppl':>9s} {'95% CI':>15s} {'bits/B':>7s} {'r':>5s}"
    ]
    for row in result.rows:
        if "versus" in row:
            m = row["metrics"]["byte_perplexity_increase_pct"]
            lines.append(
                f"zip2zip vs {row['versus']:7s} {row['corpus']:9s} {m['value']:+.1f}% "
                f"(95% CI {m['ci95'][0]:+.1f}..{m['ci95'][1]:+.1f})"
            )
            continue
        m = row["metrics"]
        ppl = m["byte_perplexity"]
        lines.append(
            f"{row['model']:8s} {row['corpus']:9s} {row['corpus_source']:8s} {ppl['value']:9.3f} "
            f"{ppl['ci95'][0]:7.3f}-{ppl['ci95'][1]:<7.3f} {m['bits_per_byte']['value']:7.3f} "
            f"{m['compression_ratio']['value']:5.2f}"
        )
        if "canonical_byte_perplexity" in m:
            lines[-1] += (
                f"  canonical {m['canonical_byte_perplexity']['value']:.3f}, "
                f"impossible-code mass {m['impossible_code_mass']['value']:.3f}/step"
            )
        if "multiview_byte_perplexity" in m:
            lines[-1] += (
                f", multi-view {m['multiview_byte_perplexity']['value']:.3f} "
                f"({m['multiview_s']['value']:.1f} s vs {m['strict_s']['value']:.1f} s strict), "
                f"first-token {m['first_token_byte_perplexity']['value']:.3f}"
            )
    return lines
