"""The short table ``benchmarks/throughput.py`` prints after a run: per cell, zip2zip's compression ratios
and speedups over the baseline. Formatting only (the paper's table is ``paper_tables/throughput.py``)."""

from __future__ import annotations

from zip2zip.evaluation.results import BenchmarkResult


def summary_lines(result: BenchmarkResult) -> list[str]:
    """One line per (domain, setting, mode): r, speedup and speedup / r of prefill, then of decode."""
    lines = [
        f"{'domain':12s} {'setting':9s} {'mode':8s} {'r prompt':>8s} {'prefill x':>9s} {'/r':>5s} "
        f"{'r decode':>8s} {'decode x':>8s} {'/r':>5s}"
    ]
    for r in result.rows:
        if r["method"] != "zip2zip":
            continue
        m = r["metrics"]
        if r["phase"] == "prefill":
            pre = (
                m["prompt_compression_ratio"]["value"],
                m["prefill_speedup"]["value"],
                m["prefill_speedup_per_r"]["value"],
            )
        else:
            lines.append(
                f"{r['corpus']:12s} {r['setting']:9s} {r['mode']:8s} {pre[0]:8.3f} {pre[1]:9.3f} "
                f"{pre[2]:5.2f} {m['compression_ratio']['value']:8.3f} "
                f"{m['decode_base_token_speedup']['value']:8.3f} {m['decode_speedup_per_r']['value']:5.2f}"
            )
    return lines
