"""Throughput renderer: paper gains beside ours, speedup / r marked below target, plot and build."""

from __future__ import annotations

import pytest

from paper_tables import throughput
from paper_tables.build import build
from paper_tables.tables import TABLES
from zip2zip.evaluation.results import BenchmarkResult, metric, write_result


def _rows(p: int, *, prefill_x: float, decode_x: float, r: float) -> list[dict]:
    key = {
        "model": "smollm2",
        "corpus": "code",
        "prompt_base_tokens": p,
        "new_base_tokens": 256,
        "setting": f"{p}+256",
        "mode": "replay",
    }
    timed = lambda v, unit: metric(v, unit, num_samples=5, values=[v] * 5, stdev=0.5)  # noqa: E731
    return [
        {
            **key,
            "method": "baseline",
            "phase": "prefill",
            "metrics": {"prefill_base_tokens_per_s": timed(400.0, "base_tokens/s")},
        },
        {
            **key,
            "method": "baseline",
            "phase": "decode",
            "metrics": {"decode_base_tokens_per_s": timed(20.0, "base_tokens/s")},
        },
        {
            **key,
            "method": "zip2zip",
            "phase": "prefill",
            "metrics": {
                "prefill_base_tokens_per_s": timed(400.0 * prefill_x, "base_tokens/s"),
                "prefill_gain_pct": metric(100 * (prefill_x - 1), "%", num_samples=5),
                "prompt_compression_ratio": metric(r, "base_tokens/id", num_samples=1),
                "prefill_speedup_per_r": metric(prefill_x / r, "fraction of r", num_samples=5),
            },
        },
        {
            **key,
            "method": "zip2zip",
            "phase": "decode",
            "metrics": {
                "decode_base_tokens_per_s": timed(20.0 * decode_x, "base_tokens/s"),
                "decode_gain_pct": metric(100 * (decode_x - 1), "%", num_samples=5),
                "compression_ratio": metric(r, "base_tokens/step", num_samples=1),
                "decode_speedup_per_r": metric(decode_x / r, "fraction of r", num_samples=5),
            },
        },
    ]


def _result() -> BenchmarkResult:
    rows = _rows(256, prefill_x=1.3, decode_x=1.2, r=1.4) + _rows(512, prefill_x=1.4, decode_x=1.35, r=1.4)
    config = {
        "model": "smollm2",
        "dtype": "float32",
        "device": "cpu",
        "max_subtokens": 3,
        "max_codebook_size": 2048,
        "num_repeats": 5,
        "num_warmup": 1,
        "num_threads": 1,
        "new_base_tokens": 256,
        "target_speedup_fraction_of_r": 0.9,
    }
    assets = {
        "model": {"name": "SmolLM2-135M-Instruct", "hyper_encoders": "freshly initialised"},
        "device_name": "Test CPU",
    }
    return BenchmarkResult(
        benchmark="throughput",
        status="full",
        config=config,
        rows=rows,
        duration_s=60.0,
        assets=assets,
        git={"commit": "0123456789abcdef", "dirty": False},
        created_utc="2026-01-01T00:00:00+00:00",
    )


def test_markdown_paper_beside_ours() -> None:
    md = throughput.render_markdown(_result(), caption="cap")
    # paper 256+256: +33.6 % prefill, +9.3 % decode; ours +30.0 / +20.0, r 1.40; x/r 0.93 and 0.86 (< 0.9: *)
    assert (
        "| 256+256 | +33.6 | +30.0 | +9.3 | +20.0 | 1.40 | 0.93 | 1.40 | 0.86* | 400.0 | 520.0 | 20.0 | 24.0 |"
        in md
    )
    assert "| 512+256 | +102.6 | +40.0 | +46.6 | +35.0 | 1.40 | 1.00 | 1.40 | 0.96 |" in md
    assert "*Domain code, decode mode replay*" in md and "Test CPU" in md and "commit 0123456789ab" in md


def test_missing_metric_renders_as_marker() -> None:
    result = _result()
    del result.rows[3]["metrics"]["decode_gain_pct"]
    with pytest.warns(UserWarning, match="decode_gain_pct"):
        md = throughput.render_markdown(result, caption="cap")
    assert "| 256+256 | +33.6 | +30.0 | +9.3 | -- |" in md


def test_latex_and_plot(tmp_path) -> None:
    tex = throughput.render_latex(_result(), caption="gains in %", label="tab:tp")
    assert r"\label{tab:tp}" in tex and r"gains in \%" in tex and tex.count(r"\begin{tabular}") == 1
    assert r"256+256 & +33.6 & +30.0 & +9.3 & +20.0" in tex
    names = {p.name for p in throughput.plot(_result(), tmp_path)}
    assert names == {"throughput_base_tokens_per_s.png", "throughput_base_tokens_per_s.pdf"}


def test_build_renders_throughput(tmp_path) -> None:
    write_result(tmp_path / "results" / "throughput" / "cpu.json", _result())
    with pytest.warns(UserWarning, match="no full result"):  # efficiency has none here
        written = build(tmp_path / "results", tmp_path / "out")
    assert {"throughput.md", "throughput.tex", "throughput_base_tokens_per_s.png"} <= {
        p.name for p in written
    }
    assert TABLES["throughput"].renderer == "paper_tables.throughput"


def test_plot_reads_rates_from_zero_and_draws_the_papers_gains(tmp_path, drawn_figures) -> None:
    throughput.plot(_result(), tmp_path)
    (fig,) = drawn_figures
    prefill_rate, decode_rate, prefill_gain, decode_gain = fig.axes
    assert prefill_rate.get_ylim()[0] == 0 and decode_rate.get_ylim()[0] == 0
    for ax, paper_gains in (
        (prefill_gain, [33.6, 102.6, 60.9, 85.4]),
        (decode_gain, [9.3, 46.6, 16.6, 16.5]),
    ):
        (paper,) = [line for line in ax.lines if line.get_label() == "paper"]
        assert list(paper.get_ydata()) == paper_gains  # 256, 512, 1024, 2048 + 256
        assert ax.get_ylim()[0] <= 0
    assert "error bars: one standard deviation" in fig.get_suptitle()


def test_an_adaptive_run_says_how_many_rounds_its_cells_took() -> None:
    result = _result()
    result.config.update(num_repeats=None, target_ratio_half_width=0.03, max_cell_seconds=240.0)
    result.assets["cells"] = {
        "code/256/replay": {"rounds": {"num_rounds": 6}},
        "code/512/replay": {"rounds": {"num_rounds": 9}},
    }
    md = throughput.render_markdown(result, caption="cap")
    assert (
        "median of 6-9 (per cell: until each ratio's 95% interval was within +-3% or 240 s were used)" in md
    )
    assert "None" not in md
