"""The codebook-policy tables and plot from a small synthetic result; the README shows the rendered gain grid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from paper_tables import efficiency_policies
from paper_tables.build import build, latest_result
from paper_tables.tables import TABLES
from zip2zip.evaluation.results import BenchmarkResult, metric, write_result

ROOT = Path(__file__).resolve().parents[2]


def _row(corpus: str, policy: str, length: str, c: int, gain: float | None) -> dict:
    n = 3
    return {
        "tokenizer": "llama3",
        "tokenizer_label": "Llama-3-128K",
        "corpus": corpus,
        "setting": "policy_sweep",
        "max_subtokens": 3,
        "max_codebook_size": c,
        "policy": policy,
        "doc_length": length,
        "metrics": {
            "gain_pct": metric(gain, "%", num_samples=n, reason=None if gain is not None else "test"),
            "entry_reuse_fraction": metric(0.25, "fraction", num_samples=n),
            "num_entries_created": metric(4 * c, "entries", num_samples=n),
            "num_entries_evicted": metric(0 if policy == "freeze" else 3 * c, "entries", num_samples=n),
        },
    }


def _result() -> BenchmarkResult:
    rows = [
        {"tokenizer": "llama3", "corpus": "code", "setting": "main", "metrics": {}},
        _row("code", "freeze", "long", 64, 1.04),
        _row("code", "lru", "long", 64, 19.46),
        _row("code", "freeze", "normal", 64, 2.0),
        _row("code", "freeze", "normal", 128, None),
        _row("code", "lru", "normal", 128, 25.0),
    ]
    return BenchmarkResult(
        benchmark="efficiency",
        status="full",
        config={"long_doc_min_base_tokens": 16384},
        rows=rows,
        duration_s=1.0,
        git={"commit": "0123456789abcdef", "dirty": False},
        created_utc="2026-01-01T00:00:00+00:00",
    )


def test_markdown_grids_by_codebook_size_normal_before_long() -> None:
    with pytest.warns(UserWarning, match="gain_pct"):
        md = efficiency_policies.render_markdown(_result(), caption="cap")
    assert "| Documents | Domain | Policy | C=64 | C=128 |" in md
    assert "| normal | code | freeze | 2.0 | -- |" in md  # None -> --, with a warning
    assert "| normal | code | lru | -- | 25.0 |" in md  # a cell not measured -> --
    assert md.index("| normal | code | freeze |") < md.index("| long | code | freeze | 1.0 | -- |")
    assert "| long | code | lru | 19.5 | -- |" in md
    assert "| long | code | lru | 0.25 | -- |" in md and "| long | code | lru | 192 | -- |" in md
    assert "at least 16384 base tokens" in md and "commit 0123456789ab" in md


def test_latex_has_the_gain_grid_only() -> None:
    with pytest.warns(UserWarning):
        tex = efficiency_policies.render_latex(_result(), caption="Policies", label="tab:p")
    assert r"\label{tab:p}" in tex and r"Gain in bytes per token (\%)" in tex
    assert r"long & code & lru & 19.5 & -- \\" in tex and r"\begin{tabular}{lllrr}" in tex
    assert "0.25" not in tex


def test_a_result_without_policy_rows_says_so() -> None:
    result = _result()
    result.rows = result.rows[:1]
    assert "--: the result has no policy_sweep rows" in efficiency_policies.render_markdown(
        result, caption="c"
    )
    assert efficiency_policies.plot(result, Path("/nonexistent")) == []


def test_plot_one_line_per_policy_normal_and_long_panels(tmp_path, drawn_figures) -> None:
    with pytest.warns(UserWarning):
        paths = efficiency_policies.plot(_result(), tmp_path)
    assert {p.name for p in paths} == {"efficiency_policies.png", "efficiency_policies.pdf"}
    (figure,) = drawn_figures
    normal, long = figure.axes
    assert [line.get_label() for line in normal.lines] == ["freeze", "lru"]
    assert list(long.lines[1].get_xdata()) == [64] and list(long.lines[1].get_ydata()) == [19.46]
    assert normal.get_title() == "code, normal documents"


def test_build_renders_the_policy_table_from_the_efficiency_results(tmp_path) -> None:
    write_result(tmp_path / "results" / "efficiency" / "a.json", _result())
    with pytest.warns(UserWarning):
        build(tmp_path / "results", tmp_path / "out")
    assert TABLES["efficiency_policies"].results_folder == "efficiency"
    assert "rendered from a.json" in (tmp_path / "out" / "efficiency_policies.md").read_text()
    assert (tmp_path / "out" / "efficiency_policies.png").is_file()


def test_readme_shows_the_gain_grid_of_the_committed_result() -> None:
    """The README's policy table is the rendered one, so its numbers are the committed run's, not typed."""
    latest = latest_result(ROOT / "results" / "efficiency")
    assert latest is not None
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"<!-- policy table: .*? -->\n(.*?)<!-- end policy table -->", readme, re.S)
    assert shown is not None, "README.md lost its policy table markers"
    assert shown.group(1) == efficiency_policies.render_gain_markdown(latest[1])


def test_readme_percentages_are_cells_of_the_table() -> None:
    """Each "(41.0%)" the README's policy paragraph quotes is a cell of the rendered gain grid below it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Codebook policies") : readme.index("<!-- end policy table -->")]
    prose, grid = section.split("<!-- policy table:")
    quoted = re.findall(r"\((\d+\.\d)%\)", prose)
    cells = {cell.strip() for line in grid.splitlines()[1:] for cell in line.split("|")}
    assert quoted and set(quoted) <= cells, set(quoted) - cells
