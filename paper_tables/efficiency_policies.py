"""Codebook-policy tables (Markdown + LaTeX) and plot from the ``policy_sweep`` rows of an efficiency result.

One grid per quantity: a row per (documents, domain, policy), a column per codebook size C. Gain in bytes
per token (%) as the efficiency table defines it, entries created, the share of entries ever used while live,
and entries evicted. Rounding happens here only; every number comes from the JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zip2zip.evaluation.results import BenchmarkResult

from ._format import MISSING, fmt, footer_lines, latex_escape, value

SETTING = "policy_sweep"
DOC_LENGTHS = ("normal", "long")
# (metric, heading, digits) of each grid; the first is the headline, also in LaTeX and in the README.
GRIDS = (
    ("gain_pct", "Gain in bytes per token (%)", 1),
    ("entry_reuse_fraction", "Share of entries ever reused", 2),
    ("num_entries_created", "Entries created", 0),
    ("num_entries_evicted", "Entries evicted", 0),
)


def policy_rows(result: BenchmarkResult) -> list[dict[str, Any]]:
    return [r for r in result.rows if r.get("setting") == SETTING]


def _sizes(rows: list[dict[str, Any]]) -> list[int]:
    return sorted({int(r["max_codebook_size"]) for r in rows})


def _grid(rows: list[dict[str, Any]], name: str, digits: int) -> tuple[list[str], list[list[str]]]:
    """Header and body of one quantity's grid: (documents, domain, policy) x codebook size."""
    sizes = _sizes(rows)
    by_cell = {(r["doc_length"], r["corpus"], r["policy"], int(r["max_codebook_size"])): r for r in rows}
    lines = list(dict.fromkeys((r["doc_length"], r["corpus"], r["policy"]) for r in rows))
    lines.sort(key=lambda k: DOC_LENGTHS.index(k[0]) if k[0] in DOC_LENGTHS else len(DOC_LENGTHS))
    body = [
        [
            length,
            corpus,
            policy,
            *(
                fmt(value(by_cell[(length, corpus, policy, c)], name), digits)
                if (length, corpus, policy, c) in by_cell
                else MISSING
                for c in sizes
            ),
        ]
        for length, corpus, policy in lines
    ]
    return ["Documents", "Domain", "Policy", *(f"C={c}" for c in sizes)], body


def _describe(result: BenchmarkResult, rows: list[dict[str, Any]]) -> str:
    tokenizer = rows[0].get("tokenizer_label", rows[0]["tokenizer"])
    return (
        f"{tokenizer}, M = {rows[0]['max_subtokens']}. Normal: the efficiency table's documents; long: each "
        f"domain's documents joined into ones of at least {result.config.get('long_doc_min_base_tokens')} base "
        "tokens. freeze: the paper's codebook (full = no new entries); reset: all entries dropped when full; "
        "lru: the least recently used leaf entry replaced. Reused: an entry's id appears while it is live."
    )


def render_gain_markdown(result: BenchmarkResult) -> str:
    """The headline grid (gain %) alone, as the README shows it."""
    name, _, digits = GRIDS[0]
    head, body = _grid(policy_rows(result), name, digits)
    return _markdown_table(head, body)


def _markdown_table(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in body]) + "\n"


def render_markdown(result: BenchmarkResult, *, caption: str) -> str:
    rows = policy_rows(result)
    if not rows:
        return f"**{caption}**\n\n{MISSING}: the result has no {SETTING} rows.\n"
    lines = [f"**{caption}**", "", _describe(result, rows)]
    for name, heading, digits in GRIDS:
        head, body = _grid(rows, name, digits)
        lines += ["", f"**{heading}**", "", _markdown_table(head, body).rstrip("\n")]
    lines += [""] + [f"- {line}" for line in footer_lines(result)]
    return "\n".join(lines) + "\n"


def render_latex(result: BenchmarkResult, *, caption: str, label: str) -> str:
    rows = policy_rows(result)
    if not rows:
        return f"% {MISSING}: the result has no {SETTING} rows\n"
    name, heading, digits = GRIDS[0]
    head, body = _grid(rows, name, digits)
    return (
        "\n".join(
            [
                r"\begin{table}[t]",
                r"\centering",
                r"\small",
                rf"\caption{{{latex_escape(caption)}: {latex_escape(heading)}}}",
                rf"\label{{{label}}}",
                r"\begin{tabular}{lll" + "r" * (len(head) - 3) + "}",
                r"\toprule",
                " & ".join(latex_escape(h) for h in head) + r" \\",
                r"\midrule",
                *(" & ".join(latex_escape(c) for c in cells) + r" \\" for cells in body),
                r"\bottomrule",
                r"\end{tabular}",
                rf"\par\smallskip{{\footnotesize {latex_escape(_describe(result, rows))}}}",
                r"\end{table}",
            ]
        )
        + "\n"
    )


def plot(result: BenchmarkResult, out_dir: Path) -> list[Path]:
    """Gain vs codebook size, one line per policy; a column per domain, a row per document length.
    Writes PNG + PDF; returns the paths (none without policy rows)."""
    rows = policy_rows(result)
    if not rows:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    lengths = [length for length in DOC_LENGTHS if any(r["doc_length"] == length for r in rows)]
    corpora = list(dict.fromkeys(r["corpus"] for r in rows))
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    fig, axes = plt.subplots(
        len(lengths), len(corpora), figsize=(2.8 * len(corpora), 2.6 * len(lengths) + 0.6), squeeze=False
    )
    for i, length in enumerate(lengths):
        for j, corpus in enumerate(corpora):
            ax = axes[i][j]
            for k, policy in enumerate(policies):
                pts = sorted(
                    (int(r["max_codebook_size"]), value(r, "gain_pct"))
                    for r in rows
                    if (r["doc_length"], r["corpus"], r["policy"]) == (length, corpus, policy)
                )
                ax.plot(
                    [p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, color=f"C{k}", label=policy
                )
            ax.set_xscale("log", base=2)
            ax.set_title(f"{corpus}, {length} documents", fontsize=9)
            ax.grid(alpha=0.3)
            if j == 0:
                ax.set_ylabel("gain in bytes per token (%)")
            if i == len(lengths) - 1:
                ax.set_xlabel("codebook size C (entries)")
    axes[0][-1].legend(fontsize=7)
    tokenizer = rows[0].get("tokenizer_label", rows[0]["tokenizer"])
    fig.suptitle(f"Codebook policies: {tokenizer}, M = {rows[0]['max_subtokens']}", fontsize=10)
    fig.tight_layout()
    paths = [out_dir / "efficiency_policies.png", out_dir / "efficiency_policies.pdf"]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1], metadata={"CreationDate": None})  # no timestamp: stable files
    plt.close(fig)
    return paths
