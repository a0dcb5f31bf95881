"""Renderers: paper | ours | delta from a small synthetic result; missing values print as ``--``."""

from __future__ import annotations

import pytest

from paper_tables import efficiency
from paper_tables.build import build
from paper_tables.tables import TABLES
from zip2zip.evaluation.results import BenchmarkResult, metric, write_result


def _row(
    tokenizer: str, corpus: str, base: float, zipped: float, setting: str = "main", m: int = 3, c: int = 2048
) -> dict:
    return {
        "tokenizer": tokenizer,
        "tokenizer_label": tokenizer,
        "corpus": corpus,
        "setting": setting,
        "max_subtokens": m,
        "max_codebook_size": c,
        "metrics": {
            "bytes_per_base_token": metric(base, "bytes/base_token", num_samples=2),
            "bytes_per_compressed_id": metric(zipped, "bytes/compressed_id", num_samples=2),
            "gain_pct": metric(100 * (zipped / base - 1), "%", num_samples=2),
            "hypertoken_reuse_fraction": metric(
                None, "fraction", num_samples=2, reason="no hypertoken was created"
            ),
        },
    }


def _result() -> BenchmarkResult:
    rows = [
        _row("llama3", "code", 4.0, 6.0),
        _row("llama3", "chat", 5.0, 5.5),
        _row("llama3", "code", 4.0, 5.0, setting="sweep_max_subtokens", m=2),
    ]
    return BenchmarkResult(
        benchmark="efficiency",
        status="full",
        config={"max_subtokens": 3, "max_codebook_size": 2048},
        rows=rows,
        duration_s=1.0,
        assets={
            "tokenizers": {
                "llama3": {
                    "package": "llama-models",
                    "version": "0.3.0",
                    "sha256": "ab" * 32,
                    "vocab_size": 128256,
                }
            }
        },
        skipped=[{"name": "tokenizer:gemma3", "reason": "not installed"}],
        git={"commit": "0123456789abcdef", "dirty": False},
        created_utc="2026-01-01T00:00:00+00:00",
    )


def test_markdown_paper_ours_delta() -> None:
    with pytest.warns(UserWarning, match="hypertoken_reuse_fraction"):
        md = efficiency.render_markdown(_result(), caption="cap")
    # paper llama3/code: 4.1 -> 6.3, +54 %; ours 4.00 -> 6.00, +50.0 %
    assert "| llama3 | code | 4.1 | 4.00 | -0.1 | 6.3 | 6.00 | -0.3 | 54 | 50.0 | -4 | -- |" in md
    assert "| llama3 | chat | 5.1 | 5.00 | -0.1 | 6.4 | 5.50 | -0.9 | 25 | 10.0 | -15 | -- |" in md
    assert "| llama3 | code | 2 | 2048 | 5.00 | 25.0 | -- |" in md  # sweep table
    assert "commit 0123456789ab" in md and "Skipped tokenizer:gemma3: not installed" in md
    assert "llama-models==0.3.0" in md


def test_digit_protection_table_shows_both_sides_only_when_measured() -> None:
    result = _result()
    with pytest.warns(UserWarning):
        assert "Digit protection" not in efficiency.render_markdown(result, caption="cap")
    row = _row("llama3", "code", 4.0, 5.8, setting="protect_digits")
    row["metrics"] |= {
        "num_protected_digit_ids": metric(1198, "base_ids", num_samples=2),
        "base_tokens_per_compressed_id": metric(1.169, "base_tokens/compressed_id", num_samples=2),
        "unprotected_base_tokens_per_compressed_id": metric(
            1.209, "base_tokens/compressed_id", num_samples=2
        ),
        "unprotected_bytes_per_compressed_id": metric(6.0, "bytes/compressed_id", num_samples=2),
        "bytes_per_compressed_id_loss_pct": metric(100 * (1 - 5.8 / 6.0), "%", num_samples=2),
    }
    result.rows.append(row)
    with pytest.warns(UserWarning):
        md = efficiency.render_markdown(result, caption="cap")
    assert "| llama3 | code | 1198 | 1.209 | 1.169 | 6.00 | 5.80 | 3.3 |" in md
    assert md.count("| llama3 | code | 4.1 |") == 1  # the variant is no main-table row


def test_latex_is_escaped_and_labelled() -> None:
    with pytest.warns(UserWarning):
        tex = efficiency.render_latex(_result(), caption="50% of it", label="tab:x")
    assert r"\label{tab:x}" in tex and r"50\% of it" in tex
    assert r"llama3 & code & 4.1 & 4.00 & -0.1" in tex
    assert tex.count(r"\begin{tabular}") == 1 and tex.rstrip().endswith(r"\end{table}")


def test_build_renders_latest_full_result(tmp_path) -> None:
    results = tmp_path / "results" / "efficiency"
    write_result(results / "a.json", _result())
    smoke = _result()
    smoke.status = "smoke"
    write_result(results / "smoke-a.json", smoke)
    with pytest.warns(UserWarning):
        written = build(tmp_path / "results", tmp_path / "out")
    names = {p.name for p in written}
    assert {
        "efficiency.md",
        "efficiency.tex",
        "efficiency_bytes_per_token.png",
        "efficiency_bytes_per_token.pdf",
        "efficiency_sweep.png",
        "efficiency_sweep.pdf",
    } <= names
    assert "rendered from a.json" in (tmp_path / "out" / "efficiency.md").read_text()
    assert set(TABLES) >= {"efficiency"}


def test_build_ignores_an_interrupted_runs_partial_file(tmp_path) -> None:
    results = tmp_path / "results" / "efficiency"
    write_result(results / "a.json", _result())
    (results / "a.partial.json").write_text('{"benchmark": "efficiency", "config": {}, "rows": [')
    with pytest.warns(UserWarning):
        build(tmp_path / "results", tmp_path / "out")
    assert "rendered from a.json" in (tmp_path / "out" / "efficiency.md").read_text()


def test_figures_mark_the_papers_values_under_the_tables_names(tmp_path, drawn_figures) -> None:
    result = _result()
    for row in result.rows:
        row["tokenizer_label"] = "Llama-3-128K"
    efficiency.plot(result, tmp_path)
    bars, sweep = drawn_figures
    code = bars.axes[0]
    (paper,) = [c for c in code.collections if c.get_label() == "paper"]
    assert sorted(segment[0][1] for segment in paper.get_segments()) == [4.1, 6.3]  # paper llama3/code
    assert [t.get_text() for t in code.get_xticklabels()] == ["Llama-3-128K"]
    assert code.get_ylim()[0] == 0
    by_m = sweep.axes[0]
    marks = [line for line in by_m.lines if line.get_marker() == "D" and len(line.get_xdata())]
    assert sorted((line.get_xdata()[0], line.get_ydata()[0]) for line in marks) == [(3, 25.0), (3, 54.0)]
    assert [ax.get_ylim()[0] for ax in sweep.axes] == [0, 0]
    assert by_m.get_title().startswith("Llama-3-128K")
