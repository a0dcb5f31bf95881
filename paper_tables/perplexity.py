"""Byte-level perplexity table (Markdown + LaTeX) from a ``results/perplexity/*.json`` result.

One row per method: the paper's Phi-3.5-4B byte perplexity beside ours per corpus (with our 95%
bootstrap interval and the text our run actually scored: hub corpus or a named offline stand-in), then
zip2zip's relative increase over the control and the base model next to the paper's. The paper has no
continual-pretraining perplexity row (``--``). A result with canonical scores adds zip2zip's canonical byte
perplexity (softmax renormalised over the codes the parse can produce; no paper number) and the mean
probability per step its unmasked softmax put on impossible codes. Every number comes from the JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zip2zip.evaluation import result_frame
from zip2zip.evaluation.results import BenchmarkResult

from ._format import MISSING, fmt, footer_lines, latex_escape, with_ci
from .paper_numbers import PERPLEXITY, PERPLEXITY_CORPORA, PERPLEXITY_SOURCE

if TYPE_CHECKING:
    import pandas as pd

PAPER_MODEL = "Phi-3.5-4B"
_PAPER_METHOD = {"base": "baseline", "control": None, "zip2zip": "zip2zip"}
_LABEL = {"base": "Baseline", "control": "Continual pretraining", "zip2zip": "zip2zip"}


def _by_corpus(frame: pd.DataFrame, metric: str, by: str) -> pd.DataFrame:
    """One metric's rows indexed by (``by``, corpus): ``by`` is ``model`` for our measurements, ``versus`` for
    zip2zip's increase over that reference."""
    return frame[frame["metric"] == metric].set_index([by, "corpus"], drop=False)


def _paper_increase(corpus: str) -> float | None:
    paper = PERPLEXITY[PAPER_MODEL]
    base, ours = paper["baseline"].get(corpus), paper["zip2zip"].get(corpus)
    return None if base is None or ours is None else 100 * (ours / base - 1)


def _rows(result: BenchmarkResult) -> list[list[str]]:
    frame = result_frame(result)
    ours = _by_corpus(frame, "byte_perplexity", by="model")
    increase = _by_corpus(frame, "byte_perplexity_increase_pct", by="versus")
    measured = frame[~frame["is_comparison"]]
    corpora = [c for c in PERPLEXITY_CORPORA if c in set(measured["corpus"])]
    rows = []
    for model in ("base", "control", "zip2zip"):
        if model not in set(measured["model"]):
            continue
        method = _PAPER_METHOD[model]
        cells = [_LABEL[model]]
        for corpus in corpora:
            paper = PERPLEXITY[PAPER_MODEL][method].get(corpus) if method else None
            cells += [fmt(paper, 2), with_ci(ours, (model, corpus), ".3f")]
        rows.append(cells)
        if model == "zip2zip":
            rows += _canonical_rows(frame, corpora)
    for versus in ("control", "base"):
        if versus not in set(increase["versus"]):
            continue
        cells = [f"zip2zip vs {_LABEL[versus].lower()}, %"]
        for corpus in corpora:
            paper = _paper_increase(corpus) if versus == "base" else None
            cells += [fmt(paper, 1, signed=True), with_ci(increase, (versus, corpus), "+.1f")]
        rows.append(cells)
    return [_header(corpora), *rows]


def _canonical_rows(frame: pd.DataFrame, corpora: list[str]) -> list[list[str]]:
    """zip2zip's canonical byte perplexity and impossible-code mass per step, if the result has them."""
    canonical = _by_corpus(frame, "canonical_byte_perplexity", by="model")
    if "zip2zip" not in set(canonical["model"]):
        return []
    mass = _by_corpus(frame, "impossible_code_mass", by="model")
    ppl_cells, mass_cells = ["zip2zip, canonical"], ["zip2zip, mass on impossible codes per step"]
    for corpus in corpora:
        ppl_cells += [MISSING, with_ci(canonical, ("zip2zip", corpus), ".3f")]
        key = ("zip2zip", corpus)
        mass_cells += [MISSING, fmt(mass.loc[key]["value"] if key in mass.index else None, 3)]
    return [ppl_cells, mass_cells]


def _header(corpora: list[str]) -> list[str]:
    return ["Method"] + [f"{c} {side}" for c in corpora for side in ("paper", "ours [95% CI]")]


def _setup_lines(result: BenchmarkResult) -> list[str]:
    lines = [f"Paper: {PAPER_MODEL} ({PERPLEXITY_SOURCE})."]
    for model, info in result.assets.get("models", {}).items():
        what = info.get("checkpoint") or info.get("name")
        training = info.get("training") or {}
        how = (
            f" ({training['preset']} preset, {training['num_steps']} steps)" if training.get("preset") else ""
        )
        lines.append(f"Ours, {_LABEL.get(model, model)}: {what}{how}.")
    for corpus, facts in result.assets.get("corpora", {}).items():
        source = next(
            (r["corpus_source"] for r in result.rows if r["corpus"] == corpus and "versus" not in r),
            facts.get("source"),
        )
        what = facts.get("dataset") if source == "hub" else f"offline stand-in: {facts.get('stand_in')}"
        lines.append(f"Scored text for {corpus}: {what}.")
    c = result.config
    lines.append(
        f"Windows of {c.get('max_length')} base tokens (lm-eval rolling, 1 token of context); byte "
        f"perplexity = exp(total NLL / total bytes); 95% CI: {c.get('bootstrap_samples')} document "
        "bootstrap resamples (paired for the increases)."
    )
    return lines


def render_markdown(result: BenchmarkResult, *, caption: str) -> str:
    header, *rows = _rows(result)
    out = [f"**{caption}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out += [""] + [f"{line}  " for line in _setup_lines(result) + footer_lines(result)]
    return "\n".join(out) + "\n"


def render_latex(result: BenchmarkResult, *, caption: str, label: str) -> str:
    header, *rows = _rows(result)
    out = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in header) + r" \\",
        r"\midrule",
    ]
    out += [" & ".join(latex_escape(c) for c in r) + r" \\" for r in rows]
    notes = " ".join(latex_escape(line) for line in _setup_lines(result))
    out += [
        r"\bottomrule",
        r"\end{tabular}",
        f"\\caption{{{latex_escape(caption)} {notes}}}",
        f"\\label{{{label}}}",
        r"\end{table}",
    ]
    return "\n".join(out) + "\n"
