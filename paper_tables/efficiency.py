"""Token-efficiency table (Markdown + LaTeX) and plots from a ``results/efficiency/*.json`` result.

Columns: paper | ours | delta for bytes per base token, bytes per zip2zip id and the gain, plus our
hypertoken reuse fraction; a second table shows the M / codebook-size sweep, a third (when the run measured
it, ``--protect-digits-variant``) what digit protection costs: base tokens and bytes per compressed id with all
ids mergeable and with the tokenizer's digit ids never merged. Rounding happens here only;
every number comes from the JSON (the delta is the difference of the two displayed values).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zip2zip.evaluation.results import BenchmarkResult

from ._format import MISSING, delta, fmt, footer_lines, latex_escape, value
from .paper_numbers import EFFICIENCY, HYPERTOKEN_REUSE_FRACTION, SOURCE

_HEADER = [
    "Tokenizer",
    "Domain",
    "Base B/tok paper",
    "ours",
    "Δ",
    "zip2zip B/tok paper",
    "ours",
    "Δ",
    "Gain % paper",
    "ours",
    "Δ",
    "Reuse",
]


def _main_rows(result: BenchmarkResult) -> list[dict[str, Any]]:
    return [r for r in result.rows if r.get("setting") == "main"]


def _cells(row: dict[str, Any]) -> list[str]:
    paper = EFFICIENCY.get((row["tokenizer"], row["corpus"]))
    p_base, p_zip, p_gain = paper if paper else (None, None, None)
    base, zipped = value(row, "bytes_per_base_token"), value(row, "bytes_per_compressed_id")
    gain, reuse = value(row, "gain_pct"), value(row, "hypertoken_reuse_fraction")
    r1 = lambda x: None if x is None else round(x, 1)  # noqa: E731  (delta of displayed values)
    r0 = lambda x: None if x is None else round(x)  # noqa: E731
    return [
        row.get("tokenizer_label", row["tokenizer"]),
        row["corpus"],
        fmt(p_base, 1),
        fmt(base, 2),
        delta(r1(base), p_base, 1),
        fmt(p_zip, 1),
        fmt(zipped, 2),
        delta(r1(zipped), p_zip, 1),
        fmt(p_gain, 0),
        fmt(gain, 1),
        delta(r0(gain), p_gain, 0),
        fmt(reuse, 2),
    ]


def _sweep_cells(result: BenchmarkResult) -> list[list[str]]:
    rows = [r for r in result.rows if r.get("setting", "").startswith("sweep")]
    rows.sort(key=lambda r: (r["setting"], r["corpus"], r["max_subtokens"], r["max_codebook_size"]))
    return [
        [
            _label(r),
            r["corpus"],
            str(r["max_subtokens"]),
            str(r["max_codebook_size"]),
            fmt(value(r, "bytes_per_compressed_id"), 2),
            fmt(value(r, "gain_pct"), 1),
            fmt(value(r, "hypertoken_reuse_fraction"), 2),
        ]
        for r in rows
    ]


def _digit_protection_cells(result: BenchmarkResult) -> list[list[str]]:
    rows = [r for r in result.rows if r.get("setting") == "protect_digits"]
    return [
        [
            _label(r),
            r["corpus"],
            fmt(value(r, "num_protected_digit_ids"), 0),
            fmt(value(r, "unprotected_base_tokens_per_compressed_id"), 3),
            fmt(value(r, "base_tokens_per_compressed_id"), 3),
            fmt(value(r, "unprotected_bytes_per_compressed_id"), 2),
            fmt(value(r, "bytes_per_compressed_id"), 2),
            fmt(value(r, "bytes_per_compressed_id_loss_pct"), 1),
        ]
        for r in rows
    ]


def render_markdown(result: BenchmarkResult, *, caption: str) -> str:
    lines = [f"**{caption}**", "", "| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in _main_rows(result)]
    lines += [
        "",
        f"Paper: {SOURCE}; {MISSING} = not reported there. Paper's hypertoken reuse: "
        f"~{HYPERTOKEN_REUSE_FRACTION:.0%}. Ours: M={result.config.get('max_subtokens')}, codebook "
        f"{result.config.get('max_codebook_size')}, ratios of totals over each domain.",
    ]
    sweep = _sweep_cells(result)
    if sweep:
        head = ["Tokenizer", "Domain", "M", "Codebook", "zip2zip B/tok", "Gain %", "Reuse"]
        lines += [
            "",
            "**Sweep over M and codebook size**",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
        ]
        lines += ["| " + " | ".join(c) + " |" for c in sweep]
    digits = _digit_protection_cells(result)
    if digits:
        head = [
            "Tokenizer",
            "Domain",
            "Digit ids",
            "Base tok/id all",
            "digits protected",
            "zip2zip B/tok all",
            "digits protected",
            "Loss %",
        ]
        lines += [
            "",
            "**Digit protection** (zip2zip++: digit ids never merged into hypertokens; same documents, M and "
            "codebook; Loss: fewer bytes per compressed id than with every id mergeable)",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
        ]
        lines += ["| " + " | ".join(c) + " |" for c in digits]
    lines += [""] + [f"- {line}" for line in footer_lines(result)]
    return "\n".join(lines) + "\n"


def render_latex(result: BenchmarkResult, *, caption: str, label: str) -> str:
    body = [" & ".join(latex_escape(c) for c in _cells(r)) + r" \\" for r in _main_rows(result)]
    notes = " ".join(latex_escape(line) for line in footer_lines(result))
    return (
        "\n".join(
            [
                r"\begin{table}[t]",
                r"\centering",
                r"\small",
                rf"\caption{{{latex_escape(caption)}}}",
                rf"\label{{{label}}}",
                r"\begin{tabular}{ll rrr rrr rrr r}",
                r"\toprule",
                r" & & \multicolumn{3}{c}{Base bytes/token} & \multicolumn{3}{c}{zip2zip bytes/token} "
                r"& \multicolumn{3}{c}{Gain (\%)} & Reuse \\",
                r"Tokenizer & Domain & paper & ours & $\Delta$ & paper & ours & $\Delta$ & paper & ours & $\Delta$ & ours \\",
                r"\midrule",
                *body,
                r"\bottomrule",
                r"\end{tabular}",
                rf"\par\smallskip{{\footnotesize Paper: {latex_escape(SOURCE)}. {notes}}}",
                r"\end{table}",
            ]
        )
        + "\n"
    )


def plot(result: BenchmarkResult, out_dir: Path) -> list[Path]:
    """Bytes/token per domain and tokenizer (base vs zip2zip, the paper's values marked beside ours) and,
    with a sweep, gain vs M / codebook size. Writes PNG + PDF; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = _main_rows(result)
    corpora = list(dict.fromkeys(r["corpus"] for r in rows))
    fig, axes = plt.subplots(1, len(corpora), figsize=(3.2 * len(corpora), 3.9), sharey=True, squeeze=False)
    for ax, corpus in zip(axes[0], corpora, strict=True):
        _draw_domain(ax, [r for r in rows if r["corpus"] == corpus])
        ax.set_title(corpus)
    axes[0][0].set_ylabel("UTF-8 bytes per token (higher is better)")
    _legend_once(fig, axes[0][-1])
    fig.text(
        0.5,
        0.01,
        f"Bars: this reproduction. Black lines: the paper's value where it reports one ({SOURCE}).",
        ha="center",
        fontsize=7,
    )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    written = _save(fig, out_dir / "efficiency_bytes_per_token")
    plt.close(fig)
    sweep_rows = [r for r in result.rows if r.get("setting", "").startswith("sweep")]
    if sweep_rows:
        written += _plot_sweep(result, sweep_rows, corpora, out_dir)
    return written


def _draw_domain(ax: Any, rows: list[dict[str, Any]]) -> None:
    """One domain's bars (ours) with the paper's base and zip2zip values as black lines across each bar."""
    xs = range(len(rows))
    for offset, name, method in (
        (-0.2, "bytes_per_base_token", "base"),
        (0.2, "bytes_per_compressed_id", "zip2zip"),
    ):
        ours = [value(r, name) for r in rows]
        ax.bar([x + offset for x in xs], [v or 0 for v in ours], 0.4, label=f"{method} (ours)")
    for x, row in zip(xs, rows, strict=True):
        paper = EFFICIENCY.get((row["tokenizer"], row["corpus"]))
        if paper is not None:
            ax.hlines(paper[:2], [x - 0.4, x], [x, x + 0.4], colors="black", linewidth=2, label="paper")
    ax.set_xticks(list(xs), [_label(r) for r in rows], rotation=30, ha="right")


def _plot_sweep(
    result: BenchmarkResult, sweep_rows: list[dict[str, Any]], corpora: list[str], out_dir: Path
) -> list[Path]:
    """Gain vs M and vs codebook size per domain; the paper's gain (M = 3, same tokenizer) as open markers."""
    import matplotlib.pyplot as plt

    sweeps = [
        ("sweep_max_subtokens", "max_subtokens", "M (max base tokens per hypertoken)"),
        ("sweep_codebook_size", "max_codebook_size", "codebook size (entries)"),
    ]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), squeeze=False)
    for ax, (setting, key, xlabel) in zip(axes[0], sweeps, strict=True):
        for index, corpus in enumerate(corpora):
            pts = sorted(
                (r[key], value(r, "gain_pct"))
                for r in sweep_rows
                if r["setting"] == setting and r["corpus"] == corpus
            )
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=f"C{index}", label=corpus)
            paper = EFFICIENCY.get((sweep_rows[0]["tokenizer"], corpus))
            if key == "max_subtokens" and paper is not None:
                ax.plot(3, paper[2], marker="D", ms=8, mfc="none", color=f"C{index}", ls="", label="_paper")
        ax.set_xlabel(xlabel)
        if key == "max_codebook_size":
            ax.set_xscale("log", base=2)
        else:
            ax.set_xticks(sorted({r[key] for r in sweep_rows if r["setting"] == setting}))
        ax.set_ylim(bottom=0)
        ax.set_ylabel("gain in bytes per token (%)")
        ax.grid(alpha=0.3)
    tokenizer = _label(sweep_rows[0])
    axes[0][0].set_title(f"{tokenizer}, codebook {result.config.get('max_codebook_size')}")
    axes[0][1].set_title(f"{tokenizer}, M = {result.config.get('max_subtokens')}")
    axes[0][0].plot([], [], "D", ms=8, mfc="none", color="black", label="paper (M = 3)")
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="center right", fontsize=7)
    fig.text(
        0.5,
        0.01,
        "Lines: this reproduction. Open diamonds: the paper's gain (M = 3, its codebook) "
        "in the domain's colour, where it reports one.",
        ha="center",
        fontsize=7,
    )
    fig.tight_layout(rect=(0, 0.04, 0.86, 1))
    written = _save(fig, out_dir / "efficiency_sweep")
    plt.close(fig)
    return written


def _legend_once(fig: Any, ax: Any) -> None:
    """A legend on ``ax`` naming each label of the figure once (the paper mark recurs in every cell)."""
    entries: dict[str, Any] = {}
    for each in fig.axes:
        for handle, label in zip(*each.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    ax.legend(list(entries.values()), list(entries), fontsize=7)


def _label(row: dict[str, Any]) -> str:
    """The tokenizer's name as in the tables (the paper's, e.g. "Llama-3-128K")."""
    return str(row.get("tokenizer_label", row["tokenizer"]))


def _save(fig: Any, stem: Path) -> list[Path]:
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1], metadata={"CreationDate": None})  # no timestamp: stable files
    return paths
