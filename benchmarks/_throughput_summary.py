"""The short table ``benchmarks/throughput.py`` prints after a run, and the line the live view prints per
finished cell: zip2zip's compression ratios and speedups over the baseline. Formatting only (the paper's
table is ``paper_tables/throughput.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from zip2zip.evaluation.results import BenchmarkResult


def cell_line(key: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> str:
    """``code 256+256 replay: prefill x1.31 (r 1.42), decode x1.05 (r 1.38), 5 rounds`` from one cell's rows."""
    zip2zip = {r["phase"]: r["metrics"] for r in rows if r["method"] == "zip2zip"}
    pre, dec = zip2zip["prefill"], zip2zip["decode"]
    return (
        f"{key['corpus']} {key['setting']} {key['mode']}: "
        f"prefill x{pre['prefill_speedup']['value']:.2f} (r {pre['prompt_compression_ratio']['value']:.2f}), "
        f"decode x{dec['decode_base_token_speedup']['value']:.2f} (r {dec['compression_ratio']['value']:.2f}), "
        f"{pre['prefill_speedup']['num_samples']} rounds"
    )


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
