"""Throughput table (Markdown + LaTeX) and plot from a ``results/throughput/*.json`` result.

Per (domain, decode mode) block and setting: the paper's prefill and decode gains beside ours (gains
only: absolute tokens/s are not comparable across machines), the compression ratio r our run achieved,
our speedups divided by r (marked ``*`` below the run's target, e.g. 0.9), and our absolute base
tokens/s for reference. Every number comes from the JSON; rounding and marking happen here only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zip2zip.evaluation.results import BenchmarkResult

from ._format import fmt, footer_lines, latex_escape, value
from .paper_numbers import THROUGHPUT, THROUGHPUT_SOURCE

_HEADER = [
    "Setting",
    "Prefill gain % paper",
    "ours",
    "Decode gain % paper",
    "ours",
    "r prompt",
    "prefill x / r",
    "r decode",
    "decode x / r",
    "Prefill tok/s base",
    "zip2zip",
    "Decode tok/s base",
    "zip2zip",
]


def _blocks(result: BenchmarkResult) -> dict[tuple[str, str], dict[str, dict[tuple[str, str], dict]]]:
    """(corpus, mode) -> setting -> (method, phase) -> row, in the order the run measured them."""
    blocks: dict[tuple[str, str], dict[str, dict[tuple[str, str], dict]]] = {}
    for row in result.rows:
        cell = blocks.setdefault((row["corpus"], row["mode"]), {}).setdefault(row["setting"], {})
        cell[(row["method"], row["phase"])] = row
    return blocks


def _per_r(row: dict[str, Any] | None, name: str, target: float | None) -> str:
    x = value(row, name) if row else None
    text = fmt(x, 2)
    return text + "*" if x is not None and target is not None and x < target else text


def _cells(setting: str, cell: dict[tuple[str, str], dict], target: float | None) -> list[str]:
    paper = THROUGHPUT.get(setting)
    zp, zd = cell.get(("zip2zip", "prefill")), cell.get(("zip2zip", "decode"))
    bp, bd = cell.get(("baseline", "prefill")), cell.get(("baseline", "decode"))
    get = lambda row, name: value(row, name) if row else None  # noqa: E731
    return [
        setting,
        fmt(paper[4] if paper else None, 1, signed=True),
        fmt(get(zp, "prefill_gain_pct"), 1, signed=True),
        fmt(paper[5] if paper else None, 1, signed=True),
        fmt(get(zd, "decode_gain_pct"), 1, signed=True),
        fmt(get(zp, "prompt_compression_ratio"), 2),
        _per_r(zp, "prefill_speedup_per_r", target),
        fmt(get(zd, "compression_ratio"), 2),
        _per_r(zd, "decode_speedup_per_r", target),
        fmt(get(bp, "prefill_base_tokens_per_s"), 1),
        fmt(get(zp, "prefill_base_tokens_per_s"), 1),
        fmt(get(bd, "decode_base_tokens_per_s"), 1),
        fmt(get(zd, "decode_base_tokens_per_s"), 1),
    ]


def _setup(result: BenchmarkResult) -> str:
    c, a = result.config, result.assets
    model = a.get("model", {})
    return (
        f"ours: {model.get('name', c.get('model'))} ({model.get('hyper_encoders', 'hyper-encoders ?')}), "
        f"{c.get('dtype')} on {a.get('device_name', c.get('device'))}, batch 1, M={c.get('max_subtokens')}, "
        f"codebook {c.get('max_codebook_size')}, median of {_rounds(result)}{_adaptive_rule(c)} interleaved rounds"
        f"{_turns(c)} after {c.get('num_warmup')} warm-up; torch threads {c.get('num_threads')}"
    )


def _turns(config: dict) -> str:
    """How the two methods shared a round (results before turns existed ran them one after the other)."""
    steps = config.get("decode_block_steps")
    return "" if steps is None else f" (decoding in turns of {steps} steps)"


def _rounds(result: BenchmarkResult) -> str:
    """How many timed rounds each point is the median of: the fixed count, or the range adaptive cells took."""
    if result.config.get("num_repeats") is not None:
        return str(result.config["num_repeats"])
    counts = sorted(
        cell["rounds"]["num_rounds"] for cell in result.assets.get("cells", {}).values() if "rounds" in cell
    )
    if not counts:
        return "?"
    return str(counts[0]) if counts[0] == counts[-1] else f"{counts[0]}-{counts[-1]}"


def _adaptive_rule(config: dict) -> str:
    """What ended an adaptive cell's rounds (nothing for a fixed count)."""
    if config.get("num_repeats") is not None:
        return ""
    return (
        f" (per cell: until each ratio's 95% interval was within +-{100 * config['target_ratio_half_width']:g}% "
        f"or {config['max_cell_seconds']:g} s were used)"
    )


def render_markdown(result: BenchmarkResult, *, caption: str) -> str:
    target = result.config.get("target_speedup_fraction_of_r")
    lines = [f"**{caption}**", ""]
    for (corpus, mode), settings in _blocks(result).items():
        lines += [
            f"*Domain {corpus}, decode mode {mode}*",
            "",
            "| " + " | ".join(_HEADER) + " |",
            "|" + "---|" * len(_HEADER),
        ]
        lines += ["| " + " | ".join(_cells(s, cell, target)) + " |" for s, cell in settings.items()]
        lines.append("")
    lines += [
        f"Paper: {THROUGHPUT_SOURCE}. Gains in % of base tokens/s; x / r = our speedup divided by "
        f"the compression ratio r achieved on the same text (* = below the target {target}). "
        f"{_setup(result)}."
    ]
    lines += [""] + [f"- {line}" for line in footer_lines(result)]
    return "\n".join(lines) + "\n"


def render_latex(result: BenchmarkResult, *, caption: str, label: str) -> str:
    target = result.config.get("target_speedup_fraction_of_r")
    body: list[str] = []
    for (corpus, mode), settings in _blocks(result).items():
        body.append(rf"\multicolumn{{{len(_HEADER)}}}{{l}}{{\emph{{{latex_escape(corpus)}, {mode}}}}} \\")
        body += [
            " & ".join(latex_escape(c) for c in _cells(s, cell, target)) + r" \\"
            for s, cell in settings.items()
        ]
    notes = " ".join(latex_escape(line) for line in [_setup(result) + ".", *footer_lines(result)])
    return (
        "\n".join(
            [
                r"\begin{table}[t]",
                r"\centering",
                r"\small",
                rf"\caption{{{latex_escape(caption)}}}",
                rf"\label{{{label}}}",
                r"\begin{tabular}{l rr rr rr rr rr rr}",
                r"\toprule",
                r" & \multicolumn{2}{c}{Prefill gain (\%)} & \multicolumn{2}{c}{Decode gain (\%)} "
                r"& \multicolumn{2}{c}{Prefill} & \multicolumn{2}{c}{Decode} "
                r"& \multicolumn{2}{c}{Prefill tok/s} & \multicolumn{2}{c}{Decode tok/s} \\",
                r"Setting & paper & ours & paper & ours & $r$ & $\times/r$ & $r$ & $\times/r$ & base & zip2zip & base & zip2zip \\",
                r"\midrule",
                *body,
                r"\bottomrule",
                r"\end{tabular}",
                rf"\par\smallskip{{\footnotesize Paper: {latex_escape(THROUGHPUT_SOURCE)}. "
                rf"$\times/r$: speedup over the achieved compression ratio (* below {target}). {notes}}}",
                r"\end{table}",
            ]
        )
        + "\n"
    )


def plot(result: BenchmarkResult, out_dir: Path) -> list[Path]:
    """Top: base tokens/s vs prompt length, baseline vs zip2zip (median, error bars one stdev over the
    rounds). Bottom: zip2zip's gain over the baseline, ours beside the paper's. Every axis includes 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(2, 2, figsize=(9, 7.0), squeeze=False)
    c, a = result.config, result.assets
    lengths = sorted({row["prompt_base_tokens"] for row in result.rows})
    for column, phase in enumerate(("prefill", "decode")):
        rate_ax, gain_ax = axes[0][column], axes[1][column]
        _draw_rates(rate_ax, result, phase)
        _draw_gains(gain_ax, result, phase)
        for ax in (rate_ax, gain_ax):
            ax.set_xscale("log", base=2)
            ax.set_xticks(lengths, [str(p) for p in lengths])
            ax.minorticks_off()
            ax.set_xlabel(f"prompt length (base tokens), +{c.get('new_base_tokens')} generated")
            ax.grid(alpha=0.3)
        rate_ax.set_ylim(bottom=0)
        rate_ax.set_ylabel(f"{phase}: base tokens/s")
        rate_ax.set_title(f"{phase} speed (ours)")
        gain_ax.axhline(0, color="black", linewidth=0.8)
        gain_ax.set_ylabel(f"{phase} gain of zip2zip (%)")
        gain_ax.set_title(f"{phase} gain over the baseline")
        rate_ax.legend(fontsize=7)
        gain_ax.legend(fontsize=7)
    name = a.get("model", {}).get("name", c.get("model"))
    fig.suptitle(
        f"Ours: {name}, {c.get('dtype')}, {a.get('device_name', c.get('device'))}, batch 1. Points: median of "
        f"{_rounds(result)} rounds; error bars: one standard deviation over the rounds.\n"
        f"Paper: Phi-3.5-4B on one H100 (gains only: absolute tokens/s differ by machine).",
        fontsize=8,
    )
    fig.tight_layout()
    stem = out_dir / "throughput_base_tokens_per_s"
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1], metadata={"CreationDate": None})  # no timestamp: stable files
    plt.close(fig)
    return paths


def _series(settings: dict[str, dict[tuple[str, str], dict]], key: tuple[str, str]) -> list[tuple[int, dict]]:
    """(prompt length, row) of one (method, phase) across the settings of a block, shortest prompt first."""
    return sorted(
        ((cell[key]["prompt_base_tokens"], cell[key]) for cell in settings.values() if key in cell),
        key=lambda pr: pr[0],
    )


def _draw_rates(ax: Any, result: BenchmarkResult, phase: str) -> None:
    name = f"{phase}_base_tokens_per_s"
    for (corpus, mode), settings in _blocks(result).items():
        for method, style in (("baseline", "--"), ("zip2zip", "-")):
            pts = _series(settings, (method, phase))
            if pts:
                ax.errorbar(
                    [p for p, _ in pts],
                    [value(row, name) or 0.0 for _, row in pts],
                    yerr=[row["metrics"][name].get("stdev") or 0.0 for _, row in pts],
                    linestyle=style,
                    marker="o",
                    capsize=3,
                    label=f"{method} ({corpus} text, {mode} decoding)",
                )


def _draw_gains(ax: Any, result: BenchmarkResult, phase: str) -> None:
    column = 4 if phase == "prefill" else 5
    paper = sorted((int(s.split("+")[0]), gains[column]) for s, gains in THROUGHPUT.items())
    ax.plot([p for p, _ in paper], [g for _, g in paper], "D", color="black", mfc="none", label="paper")
    for (corpus, mode), settings in _blocks(result).items():
        pts = [(p, value(row, f"{phase}_gain_pct")) for p, row in _series(settings, ("zip2zip", phase))]
        measured = [(p, g) for p, g in pts if g is not None]  # a missing gain is left out, never drawn as 0
        ax.plot(
            [p for p, _ in measured],
            [g for _, g in measured],
            marker="o",
            label=f"ours ({corpus} text, {mode} decoding)",
        )
