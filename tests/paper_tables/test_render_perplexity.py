"""Perplexity table: paper beside ours, CIs and increases straight from the result, stand-ins named."""

from __future__ import annotations

from paper_tables import perplexity
from zip2zip.evaluation.results import BenchmarkResult, metric


def _result() -> BenchmarkResult:
    def row(model: str, ppl: float) -> dict:
        return {
            "model": model,
            "corpus": "wikitext",
            "corpus_source": "offline",
            "metrics": {"byte_perplexity": metric(ppl, "", ci95=[ppl - 0.1, ppl + 0.1])},
        }

    increase = {
        "model": "zip2zip",
        "corpus": "wikitext",
        "versus": "control",
        "metrics": {"byte_perplexity_increase_pct": metric(12.5, "%", ci95=[10.0, 15.0])},
    }
    return BenchmarkResult(
        benchmark="perplexity",
        status="full",
        config={"max_length": 1024, "bootstrap_samples": 2000},
        rows=[row("base", 2.5), row("control", 2.4), row("zip2zip", 2.7), increase],
        duration_s=1.0,
        assets={"corpora": {"wikitext": {"source": "offline", "stand_in": "English Wikipedia leads"}}},
    )


def test_markdown_shows_paper_ours_ci_and_increase():
    text = perplexity.render_markdown(_result(), caption="Perplexity")
    lines = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("|")}
    assert "| 1.58 | 2.500 [2.400, 2.600] |" in lines["Baseline"]
    assert "| -- | 2.400 [2.300, 2.500] |" in lines["Continual pretraining"]  # no paper row
    assert "| 1.69 | 2.700 [2.600, 2.800] |" in lines["zip2zip"]
    assert "+12.5 [+10.0, +15.0]" in lines["zip2zip vs continual pretraining, %"]
    assert "offline stand-in: English Wikipedia leads" in text


def test_canonical_rows_show_when_the_result_has_them():
    result = _result()
    assert "canonical" not in perplexity.render_markdown(result, caption="Perplexity")
    zip2zip = next(r for r in result.rows if r["model"] == "zip2zip" and "versus" not in r)
    zip2zip["metrics"]["canonical_byte_perplexity"] = metric(2.65, "", ci95=[2.55, 2.75])
    zip2zip["metrics"]["impossible_code_mass"] = metric(0.0421, "probability/step")
    text = perplexity.render_markdown(result, caption="Perplexity")
    lines = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("|")}
    assert "| -- | 2.650 [2.550, 2.750] |" in lines["zip2zip, canonical"]
    assert "| -- | 0.042 |" in lines["zip2zip, mass on impossible codes per step"]


def test_multiview_rows_show_the_scores_ratio_and_costs():
    result = _result()
    zip2zip = next(r for r in result.rows if r["model"] == "zip2zip" and "versus" not in r)
    zip2zip["metrics"]["multiview_byte_perplexity"] = metric(2.61, "", ci95=[2.5, 2.7])
    zip2zip["metrics"]["first_token_byte_perplexity"] = metric(2.4, "", ci95=[2.3, 2.5])
    for name, seconds in (("strict", 10.0), ("canonical", 1.0), ("first_token", 2.0), ("multiview", 14.0)):
        zip2zip["metrics"][f"{name}_s"] = metric(seconds, "s")
    text = perplexity.render_markdown(result, caption="Perplexity")
    lines = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("|")}
    assert "| -- | 2.610 [2.500, 2.700] |" in lines["zip2zip, exact multi-view"]
    assert "| -- | 2.400 [2.300, 2.500] |" in lines["zip2zip, first-token bound"]
    zip2zip["metrics"]["compression_ratio"] = metric(1.234, "base tokens/step")
    text = perplexity.render_markdown(result, caption="Perplexity")
    lines = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("|")}
    assert "| -- | 1.234 |" in lines["zip2zip, base tokens per code"]
    assert (
        "| -- | 10 / 1 / 2 / 14 |" in lines["zip2zip, seconds: strict / canonical / first-token / multi-view"]
    )
    assert "zip2zip++" in text and "1.629" in text  # the authors' follow-up numbers, in the notes


def test_latex_escapes_percent():
    tex = perplexity.render_latex(_result(), caption="Perplexity", label="tab:ppl")
    assert r"\label{tab:ppl}" in tex and r"\%" in tex and "2.700 [2.600, 2.800]" in tex


def test_a_run_without_increases_renders_its_measurements_only():
    result = _result()
    result.rows = [r for r in result.rows if "versus" not in r]
    text = perplexity.render_markdown(result, caption="Perplexity")
    assert "2.700 [2.600, 2.800]" in text and "zip2zip vs" not in text
