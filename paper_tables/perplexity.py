"""Byte-level perplexity table (Markdown + LaTeX) from a ``results/perplexity/*.json`` result.

One row per method: the paper's Phi-3.5-4B byte perplexity beside ours per corpus (with our 95%
bootstrap interval and the text our run actually scored: hub corpus or a named offline stand-in), then
zip2zip's relative increase over the control and the base model next to the paper's. The paper has no
continual-pretraining perplexity row (``--``). Every number comes from the JSON.
"""

from __future__ import annotations

from typing import Any

from zip2zip.evaluation.results import BenchmarkResult

from ._format import MISSING, fmt, footer_lines, latex_escape
from .paper_numbers import PERPLEXITY, PERPLEXITY_CORPORA, PERPLEXITY_SOURCE

PAPER_MODEL = "Phi-3.5-4B"
_PAPER_METHOD = {"base": "baseline", "control": None, "zip2zip": "zip2zip"}
_LABEL = {"base": "Baseline", "control": "Continual pretraining", "zip2zip": "zip2zip"}


def _ours(result: BenchmarkResult) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["model"], r["corpus"]): r for r in result.rows if "versus" not in r}


def _increase(result: BenchmarkResult) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (r["versus"], r["corpus"]): r["metrics"]["byte_perplexity_increase_pct"]
        for r in result.rows
        if "versus" in r
    }


def _paper_increase(corpus: str) -> float | None:
    paper = PERPLEXITY[PAPER_MODEL]
    base, ours = paper["baseline"].get(corpus), paper["zip2zip"].get(corpus)
    return None if base is None or ours is None else 100 * (ours / base - 1)


def _rows(result: BenchmarkResult) -> list[list[str]]:
    ours, increase = _ours(result), _increase(result)
    corpora = [c for c in PERPLEXITY_CORPORA if any(k[1] == c for k in ours)]
    rows = []
    for model in ("base", "control", "zip2zip"):
        if not any(k[0] == model for k in ours):
            continue
        method = _PAPER_METHOD[model]
        cells = [_LABEL[model]]
        for corpus in corpora:
            paper = PERPLEXITY[PAPER_MODEL][method].get(corpus) if method else None
            row = ours.get((model, corpus))
            ppl = row["metrics"]["byte_perplexity"] if row else None
            cells += [
                fmt(paper, 2),
                MISSING
                if ppl is None
                else f"{ppl['value']:.3f} [{ppl['ci95'][0]:.3f}, {ppl['ci95'][1]:.3f}]",
            ]
        rows.append(cells)
    for versus in ("control", "base"):
        if not any(k[0] == versus for k in increase):
            continue
        cells = [f"zip2zip vs {_LABEL[versus].lower()}, %"]
        for corpus in corpora:
            paper = _paper_increase(corpus) if versus == "base" else None
            inc = increase.get((versus, corpus))
            cells += [
                fmt(paper, 1, signed=True),
                MISSING
                if inc is None
                else f"{inc['value']:+.1f} [{inc['ci95'][0]:+.1f}, {inc['ci95'][1]:+.1f}]",
            ]
        rows.append(cells)
    return [_header(corpora), *rows]


def _header(corpora: list[str]) -> list[str]:
    return ["Method"] + [f"{c} {side}" for c in corpora for side in ("paper", "ours [95% CI]")]


def _setup_lines(result: BenchmarkResult) -> list[str]:
    ours = _ours(result)
    lines = [f"Paper: {PAPER_MODEL} ({PERPLEXITY_SOURCE})."]
    for model, info in result.assets.get("models", {}).items():
        what = info.get("checkpoint") or info.get("name")
        training = info.get("training") or {}
        how = (
            f" ({training['preset']} preset, {training['num_steps']} steps)" if training.get("preset") else ""
        )
        lines.append(f"Ours, {_LABEL.get(model, model)}: {what}{how}.")
    for corpus, facts in result.assets.get("corpora", {}).items():
        source = next((r["corpus_source"] for (m, c), r in ours.items() if c == corpus), facts.get("source"))
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
