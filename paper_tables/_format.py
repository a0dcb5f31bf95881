"""Formatting shared by all renderers: numbers with a fixed precision, explicit ``--`` for missing values,
LaTeX escaping and the provenance footer. Never computes a metric."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from zip2zip.evaluation.results import BenchmarkResult

if TYPE_CHECKING:
    import pandas as pd

MISSING = "--"


def value(row: dict[str, Any], name: str) -> float | None:
    """A metric's value, or None (with a warning) when the row lacks it or it was not computable."""
    entry = row.get("metrics", {}).get(name)
    if entry is None or entry.get("value") is None:
        reason = entry.get("reason", "not in the result") if entry else "not in the result"
        warnings.warn(
            f"{row.get('tokenizer')}/{row.get('corpus')}: metric {name!r} missing ({reason})", stacklevel=2
        )
        return None
    return float(entry["value"])


def fmt(x: float | None, digits: int, *, signed: bool = False) -> str:
    """``fmt(1.234, 2) == "1.23"``; None -> ``--``."""
    if x is None:
        return MISSING
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def delta(ours: float | None, paper: float | None, digits: int) -> str:
    """Signed difference ours - paper as displayed (a renderer may subtract two shown numbers)."""
    if ours is None or paper is None:
        return MISSING
    return fmt(ours - paper, digits, signed=True)


def with_ci(table: pd.DataFrame, key: tuple[str, ...], spec: str) -> str:
    """``2.500 [2.400, 2.600]``: the metric at ``key`` of a ``result_frame`` indexed by row keys, with its 95%
    interval, in format ``spec`` (``".3f"``); ``--`` when ``key`` was not measured."""
    if key not in table.index:
        return MISSING
    m = table.loc[key]
    return f"{m['value']:{spec}} [{m['ci95_low']:{spec}}, {m['ci95_high']:{spec}}]"


def latex_escape(text: str) -> str:
    for char, repl in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("#", r"\#"),
        ("$", r"\$"),
        ("{", r"\{"),
        ("}", r"\}"),
    ):
        text = text.replace(char, repl)
    return text


def footer_lines(result: BenchmarkResult) -> list[str]:
    """Provenance: commit, date, status, duration, and every asset actually used or skipped."""
    git = result.git or {}
    commit = (git.get("commit") or "unknown")[:12] + (" (dirty)" if git.get("dirty") else "")
    lines = [
        f"Run: commit {commit}, {result.created_utc or 'unknown date'}, status {result.status}, "
        f"{result.duration_s:.0f} s on {result.environment.get('cpu_count', '?')} CPUs."
    ]
    for name, tok in sorted(result.assets.get("tokenizers", {}).items()):
        where = f"{tok.get('package', tok.get('hf_id', '?'))}=={tok.get('version', '?')}"
        digest = tok.get("sha256") or tok.get("gguf_sha256") or tok.get("tokenizer_json_sha256") or "?"
        lines.append(
            f"Tokenizer {name}: {where}, {tok.get('file', '')} sha256 {digest[:12]}, V={tok.get('vocab_size')}."
        )
    for name, corpus in sorted(result.assets.get("corpora", {}).items()):
        src = corpus.get("dataset") or corpus.get("package") or corpus.get("source")
        attribution = corpus.get("attribution") or next(
            (w.get("attribution") for w in corpus.get("wikipedia", {}).values() if w.get("attribution")), None
        )
        facts = [f"{corpus.get('source')}" + (f" {src}" if src != corpus.get("source") else "")]
        facts += [
            f"{corpus[key]} {label}"
            for key, label in (
                ("num_docs", "docs"),
                ("num_bytes", "bytes"),
                ("num_base_tokens", "base tokens"),
            )
            if key in corpus
        ]
        digest = corpus.get("sha256") or corpus.get("doc_sha256_prefix")
        if digest:
            facts.append(f"sample sha256 {digest[:12]}")
        extra = f" ({attribution})" if attribution else ""
        lines.append(f"Corpus {name}: {', '.join(facts)}{extra}.")
    for item in result.skipped:
        lines.append(f"Skipped {item['name']}: {item['reason']}")
    return lines
