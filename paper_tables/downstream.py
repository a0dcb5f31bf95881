"""Downstream-task table (Markdown + LaTeX) from a ``results/downstream/*.json`` result.

Table 1: per method (baseline, continual pretraining, zip2zip, and zip2zip scored over canonical parses when
the run has it: no paper number) the paper's Phi-3.5-4B score beside ours for each of the seven tasks. Ours shows every metric variant the run kept (acc / acc_norm; WinoGrande acc;
GSM8K exact match strict-match / flexible-extract) since the paper does not say which it reports, and a
dagger marks offline stand-in tasks. A last row gives zip2zip's compression r (base tokens per model step)
on what it scored or generated. Table 2: zip2zip minus the baseline (paper and ours) and minus the control
(ours), per metric variant, with our paired-bootstrap 95% intervals. Every number comes from the JSON.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from zip2zip.evaluation import result_frame
from zip2zip.evaluation.results import BenchmarkResult

from ._format import MISSING, delta, fmt, footer_lines, latex_escape, with_ci
from .paper_numbers import DOWNSTREAM, DOWNSTREAM_SOURCE, DOWNSTREAM_TASKS

PAPER_MODEL = "Phi-3.5-4B"
TASK_LABELS = {
    "arc_challenge": "ARC-c",
    "arc_easy": "ARC-e",
    "hellaswag": "HellaSwag",
    "openbookqa": "OBQA",
    "piqa": "PIQA",
    "winogrande": "WG",
    "gsm8k": "GSM8K",
}
VARIANTS = ("acc", "acc_norm", "exact_match_strict", "exact_match_flexible")
_METHODS = (
    ("base", "baseline", "Baseline"),
    ("control", "continual_pretraining", "Continual pretraining"),
    ("zip2zip", "zip2zip", "zip2zip"),
    ("zip2zip_canonical", None, "zip2zip, canonical"),  # no paper number: scored over canonical parses only
)
_STAND_IN_MARK = "†"


def _scores(result: BenchmarkResult) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["model"], r["task"]): r for r in result.rows if "versus" not in r}


def _tasks(result: BenchmarkResult) -> list[str]:
    ran = {task for _, task in _scores(result)}
    return [t for t in DOWNSTREAM_TASKS if t in ran]


def _ours(row: dict[str, Any] | None) -> str:
    """``0.553 / 0.580`` over the variants the row has; ``--`` without a row."""
    if row is None:
        return MISSING
    shown = [fmt(row["metrics"][v]["value"], 3) for v in VARIANTS if v in row["metrics"]]
    mark = _STAND_IN_MARK if row.get("task_source") == "offline" else ""
    return " / ".join(shown) + mark if shown else MISSING


def _compression(row: dict[str, Any] | None) -> str:
    if row is None:
        return MISSING
    m = row["metrics"]
    parts = [
        f"{fmt(m[k]['value'], 2)} {label}"
        for k, label in (
            ("input_compression_ratio", "in"),
            ("prompt_compression_ratio", "prompt"),
            ("generated_compression_ratio", "out"),
        )
        if k in m
    ]
    return ", ".join(parts) or MISSING


def _main_rows(result: BenchmarkResult) -> list[list[str]]:
    scores, tasks = _scores(result), _tasks(result)
    header = ["Method"] + [f"{TASK_LABELS[t]} {side}" for t in tasks for side in ("paper", "ours")]
    rows = [header]
    for model, method, label in _METHODS:
        if not any(m == model for m, _ in scores):
            continue
        paper = DOWNSTREAM[PAPER_MODEL][method] if method else {}
        rows.append(
            [label] + [c for t in tasks for c in (fmt(paper.get(t), 2), _ours(scores.get((model, t))))]
        )
    if any(m == "zip2zip" for m, _ in scores):
        rows.append(
            ["zip2zip r (base tokens/step)"]
            + [c for t in tasks for c in (MISSING, _compression(scores.get(("zip2zip", t))))]
        )
    return rows


def _difference_rows(result: BenchmarkResult) -> list[list[str]]:
    frame = result_frame(result)
    scores = frame[~frame["is_comparison"]].set_index(["model", "task", "metric"])
    # zip2zip minus each reference, under the name of the score compared (acc_difference -> acc)
    differences = frame[frame["is_comparison"]].assign(
        metric=lambda d: d["metric"].str.removesuffix("_difference")
    )
    differences = differences.set_index(["versus", "task", "metric"])
    paper = DOWNSTREAM[PAPER_MODEL]
    rows = [
        [
            "Task",
            "Metric",
            "paper zip2zip - baseline",
            "ours zip2zip - base [95% CI]",
            "ours zip2zip - control [95% CI]",
            "items",
        ]
    ]
    for task in _tasks(result):
        for variant in VARIANTS:
            if ("zip2zip", task, variant) not in scores.index:
                continue
            rows.append(
                [
                    TASK_LABELS[task],
                    variant,
                    delta(paper["zip2zip"].get(task), paper["baseline"].get(task), 2),
                    *(
                        with_ci(differences, (reference, task, variant), "+.3f")
                        for reference in ("base", "control")
                    ),
                    _count(scores.at[("zip2zip", task, variant), "num_samples"]),
                ]
            )
    return rows


def _count(x: Any) -> str:
    """An item count as text; ``--`` when the result recorded none."""
    return MISSING if pd.isna(x) else str(x)


def _setup_lines(result: BenchmarkResult) -> list[str]:
    a, scores = result.assets, _scores(result)
    lines = [
        f"Paper: {PAPER_MODEL} ({DOWNSTREAM_SOURCE}); the paper does not say which metric variant it reports."
    ]
    base = a.get("base_model", {})
    labels = {model: label for model, _, label in _METHODS}
    for model, info in a.get("models", {}).items():
        what = info.get("checkpoint") or f"{base.get('name')}" + (
            "" if model == "base" else " + untrained hyper-encoders"
        )
        training = info.get("training") or {}
        how = (
            f" ({training['preset']} preset, {training['num_steps']} steps)" if training.get("preset") else ""
        )
        lines.append(
            f"Ours, {labels.get(model, model)}: {what}{how}, lm-eval model type '{info.get('lm_eval_model')}'."
            + (f" Fallback: {info['fallback_reason']}." if info.get("fallback_reason") else "")
        )
    shots = {t: r.get("num_fewshot") for (_, t), r in scores.items()}
    versions = {t: r.get("lm_eval_task_version") for (_, t), r in scores.items()}
    lines.append(
        f"lm-eval {a.get('lm_eval_version', '?')}; few-shot: "
        + ", ".join(f"{TASK_LABELS[t]} {shots[t]}" for t in _tasks(result))
        + "; task versions: "
        + ", ".join(f"{TASK_LABELS[t]} {versions[t]}" for t in _tasks(result))
        + ". Cells: acc / acc_norm (WG: acc; GSM8K: exact match, strict-match / flexible-extract filter)."
    )
    stand_ins = a.get("stand_ins", {}).get("tasks", {})
    for task in _tasks(result):
        row = next((r for (_, t), r in scores.items() if t == task), None)
        if row is not None and row.get("task_source") == "offline":
            spec = stand_ins.get(row["lm_eval_task"], {})
            lines.append(
                f"{_STAND_IN_MARK} {TASK_LABELS[task]}: offline stand-in '{row['lm_eval_task']}' in {task}'s "
                f"lm-eval format, {row.get('num_items')} items: {spec.get('items', '?')}."
            )
    return lines


def _markdown_table(rows: list[list[str]]) -> list[str]:
    header, *body = rows
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(r) + " |" for r in body
    ]


def render_markdown(result: BenchmarkResult, *, caption: str) -> str:
    out = [
        f"**{caption}**",
        "",
        *_markdown_table(_main_rows(result)),
        "",
        "**Differences (zip2zip minus reference, fraction of items)**",
        "",
        *_markdown_table(_difference_rows(result)),
        "",
    ]
    out += [f"{line}  " for line in _setup_lines(result) + footer_lines(result)]
    return "\n".join(out) + "\n"


def _latex_tabular(rows: list[list[str]]) -> list[str]:
    header, *body = rows
    out = [
        r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in header) + r" \\",
        r"\midrule",
    ]
    out += [
        " & ".join(latex_escape(c).replace(_STAND_IN_MARK, r"$^\dagger$") for c in r) + r" \\" for r in body
    ]
    return [*out, r"\bottomrule", r"\end{tabular}"]


def render_latex(result: BenchmarkResult, *, caption: str, label: str) -> str:
    notes = " ".join(
        latex_escape(line).replace(_STAND_IN_MARK, r"$^\dagger$") for line in _setup_lines(result)
    )
    out = [
        r"\begin{table}[t]",
        r"\centering",
        r"\scriptsize",
        *_latex_tabular(_main_rows(result)),
        r"\par\medskip",
        *_latex_tabular(_difference_rows(result)),
        f"\\caption{{{latex_escape(caption)} {notes}}}",
        f"\\label{{{label}}}",
        r"\end{table}",
    ]
    return "\n".join(out) + "\n"
