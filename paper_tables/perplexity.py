"""Byte-level perplexity table (Markdown + LaTeX) from a ``results/perplexity/*.json`` result.

One row per method: the paper's Phi-3.5-4B byte perplexity beside ours per corpus (with our 95%
bootstrap interval and the text our run actually scored: hub corpus or a named offline stand-in), then
zip2zip's relative increase over the control and the base model next to the paper's. The paper has no
continual-pretraining perplexity row (``--``). A result with canonical scores adds zip2zip's canonical byte
perplexity (softmax renormalised over the codes the parse can produce; no paper number) and the mean
probability per step its unmasked softmax put on impossible codes; one with multi-view scores adds the exact
multi-view byte perplexity and its first-token bound, zip2zip's base tokens per code and the seconds each
score cost (the authors' zip2zip++ WikiText numbers for these scores go in the notes: another model, another
text). Every number comes from the JSON.
"""

from __future__ import annotations

import pandas as pd

from zip2zip.evaluation import result_frame
from zip2zip.evaluation.results import BenchmarkResult

from ._format import MISSING, fmt, footer_lines, latex_escape, with_ci
from .paper_numbers import (
    MULTIVIEW_SECONDS,
    MULTIVIEW_SOURCE,
    MULTIVIEW_WIKITEXT,
    PERPLEXITY,
    PERPLEXITY_CORPORA,
    PERPLEXITY_SOURCE,
)

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
            rows += _score_rows(frame, corpora)
    for versus in ("control", "base"):
        if versus not in set(increase["versus"]):
            continue
        cells = [f"zip2zip vs {_LABEL[versus].lower()}, %"]
        for corpus in corpora:
            paper = _paper_increase(corpus) if versus == "base" else None
            cells += [fmt(paper, 1, signed=True), with_ci(increase, (versus, corpus), "+.1f")]
        rows.append(cells)
    return [_header(corpora), *rows]


# zip2zip's other scores of the same text: (metric, row label, format); a row shows when the result has it
_SCORE_ROWS = (
    ("canonical_byte_perplexity", "zip2zip, canonical", ".3f"),
    ("impossible_code_mass", "zip2zip, mass on impossible codes per step", ".3f"),
    ("multiview_byte_perplexity", "zip2zip, exact multi-view", ".3f"),
    ("first_token_byte_perplexity", "zip2zip, first-token bound", ".3f"),
    ("compression_ratio", "zip2zip, base tokens per code", ".3f"),
)
_COSTS = (
    ("strict_s", "strict"),
    ("canonical_s", "canonical"),
    ("first_token_s", "first-token"),
    ("multiview_s", "multi-view"),
)


def _score_rows(frame: pd.DataFrame, corpora: list[str]) -> list[list[str]]:
    """zip2zip's canonical and multi-view rows and their costs, for the scores the result has."""
    rows = []
    has_multiview = "zip2zip" in set(_by_corpus(frame, "multiview_byte_perplexity", by="model")["model"])
    for metric_name, label, spec in _SCORE_ROWS:
        values = _by_corpus(frame, metric_name, by="model")
        if "zip2zip" not in set(values["model"]) or (
            metric_name == "compression_ratio" and not has_multiview
        ):
            continue
        cells = [label]
        for corpus in corpora:
            cells += [MISSING, _value_cell(values, ("zip2zip", corpus), spec)]
        rows.append(cells)
    if has_multiview:
        costs = {name: _by_corpus(frame, name, by="model") for name, _ in _COSTS}
        cells = ["zip2zip, seconds: " + " / ".join(label for _, label in _COSTS)]
        for corpus in corpora:
            key = ("zip2zip", corpus)
            seconds = [
                fmt(costs[n].loc[key]["value"] if key in costs[n].index else None, 0) for n, _ in _COSTS
            ]
            cells += [MISSING, " / ".join(seconds)]
        rows.append(cells)
    return rows


def _value_cell(values: pd.DataFrame, key: tuple[str, str], spec: str) -> str:
    """The value with its 95% interval when it has one, else the value alone (``--`` when not measured)."""
    if key in values.index and pd.isna(values.loc[key]["ci95_low"]):
        return f"{values.loc[key]['value']:{spec}}"
    return with_ci(values, key, spec)


def _header(corpora: list[str]) -> list[str]:
    return ["Method"] + [f"{c} {side}" for c in corpora for side in ("paper", "ours [95% CI]")]


def _setup_lines(result: BenchmarkResult) -> list[str]:
    lines = [f"Paper: {PAPER_MODEL} ({PERPLEXITY_SOURCE})."]
    if any("multiview_byte_perplexity" in r["metrics"] for r in result.rows):
        mv, seconds = MULTIVIEW_WIKITEXT, MULTIVIEW_SECONDS
        lines.append(
            f"For the multi-view rows, {MULTIVIEW_SOURCE}: strict {mv['strict']}, exact multi-view "
            f"{mv['multiview']}, first-token {mv['first_token']}; exact multi-view took "
            f"{seconds['sequential']:.0f} s one branch at a time, {seconds['tree_attention']:.0f} s with tree attention."
        )
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
