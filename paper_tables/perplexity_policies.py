"""zip2zip's byte perplexity and bytes per code under each codebook policy and size: the full results of
``nox -s perplexity -- --models zip2zip --codebook-policy P --max-codebook-size C`` (files tagged ``-P-CN``),
beside the main result's zip2zip row (the checkpoint's own codebook) -> ``perplexity_policies.md``.

The policies change which entries exist, not the model (trained with ``freeze``; its hyper-encoders are
context-free), so a cell shows what a policy buys at a size: bytes per code (higher: fewer decode steps and a
smaller head per byte) at the perplexity it costs. Every number comes from the JSON files.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from zip2zip.evaluation.results import BenchmarkResult, is_partial, read_result

from ._format import fmt
from .paper_numbers import PERPLEXITY_CORPORA

POLICIES = ("freeze", "lru", "reset")


def _codebook(result: BenchmarkResult) -> tuple[str, int] | None:
    """(policy, C) zip2zip scored under in ``result``, or None if it has no zip2zip model."""
    model = result.assets.get("models", {}).get("zip2zip")
    if model is None:
        return None
    compression = model.get("compression") or model.get("config", {}).get("compression", {})
    return compression.get("codebook_policy", "freeze"), int(compression["max_codebook_size"])


def _zip2zip_rows(result: BenchmarkResult) -> dict[str, dict[str, Any]]:
    return {r["corpus"]: r["metrics"] for r in result.rows if r["model"] == "zip2zip" and not r.get("versus")}


def collect(folder: Path) -> dict[tuple[str, int], tuple[Path, BenchmarkResult]]:
    """(policy, C) -> the newest full result scoring zip2zip under that codebook (variants and main run)."""
    found: dict[tuple[str, int], tuple[Path, BenchmarkResult]] = {}
    for path in sorted(folder.glob("*.json")):
        if is_partial(path):
            continue
        result = read_result(path)
        codebook = _codebook(result) if result.status == "full" else None
        if codebook is None:
            continue
        if codebook not in found or result.created_utc > found[codebook][1].created_utc:
            found[codebook] = (path, result)
    return found


def _cell(metrics: dict[str, Any] | None) -> str:
    """``2.161 / 4.52``: byte perplexity / bytes per code; ``--`` when not measured."""
    if metrics is None:
        return "-- / --"
    bytes_per_code = metrics["num_bytes"]["value"] / metrics["num_steps"]["value"]
    return f"{fmt(metrics['byte_perplexity']['value'], 3)} / {fmt(bytes_per_code, 2)}"


def render_markdown(found: dict[tuple[str, int], tuple[Path, BenchmarkResult]]) -> str:
    sizes = sorted({c for _, c in found})
    policies = [p for p in POLICIES if any(q == p for q, _ in found)]
    rows = {key: _zip2zip_rows(result) for key, (_, result) in found.items()}
    corpora = [c for c in PERPLEXITY_CORPORA if any(c in r for r in rows.values())]
    lines = [
        "**zip2zip (trained with `freeze`, C = 2048) scored under each codebook policy and size: byte perplexity"
        " / bytes per code**",
        "",
        "| Corpus | C | " + " | ".join(policies) + " |",
        "|---|---|" + "---|" * len(policies),
    ]
    for corpus in corpora:
        for size in sizes:
            cells = [_cell(rows[(p, size)].get(corpus) if (p, size) in rows else None) for p in policies]
            lines.append(f"| {corpus} | {size} | " + " | ".join(cells) + " |")
    sources = sorted(
        {f"`{path.name}` ({result.git.get('commit', '?')[:7]})" for path, result in found.values()}
    )
    lines += ["", "From " + ", ".join(sources) + "."]
    return "\n".join(lines) + "\n"


def render(folder: Path, out_dir: Path) -> list[Path]:
    """Write ``out_dir/perplexity_policies.md`` when a result scores zip2zip under a codebook of its own."""
    found = collect(folder) if folder.is_dir() else {}
    if len(found) < 2:
        warnings.warn(
            f"no perplexity result under another codebook in {folder}: nothing rendered", stacklevel=2
        )
        return []
    out = out_dir / "perplexity_policies.md"
    out.write_text(render_markdown(found), encoding="utf-8")
    return [out]
