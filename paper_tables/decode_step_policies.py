"""What a codebook policy costs and keeps per decode step: the policy rows of the newest full ``decode_step``
result (``nox -s decode_step -- --policy-variants lru:256,freeze:2048``) -> ``decode_step_policies.md``.

A policy variant is timed in the same rounds as the main ones, so its step ratio (zip2zip / base model of
the same round) compares directly with the other variant's. Beside it: the head's mean hypertoken columns per
step (the joint softmax's extra width), entries the policy removed, the compression the decoded stream kept
(base ids per decode step, forced mode) and the encoder's time per step. Every number comes from the JSON file.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from zip2zip.evaluation.results import BenchmarkResult, is_partial, read_result

from ._format import fmt

HEADER = (
    "| model | batch | mode | policy | C | step ratio vs base | head columns / step | entries removed "
    "| base ids / step | encoder ms / step |"
)


def latest_with_policies(folder: Path) -> tuple[Path, BenchmarkResult] | None:
    """The newest full result in ``folder`` that has policy rows, or None."""
    found = []
    for path in sorted(folder.glob("*.json")):
        if is_partial(path):
            continue
        result = read_result(path)
        if result.status == "full" and any("codebook_policy" in row for row in result.rows):
            found.append((path, result))
    return max(found, key=lambda pr: (pr[1].created_utc, pr[0].name)) if found else None


def _value(metrics: dict[str, Any], name: str, digits: int) -> str:
    return fmt(metrics[name]["value"], digits) if name in metrics else "--"


def _base_ids_per_step(metrics: dict[str, Any]) -> str:
    """Forced mode feeds the text: base ids per decoded id is the compression the stream kept."""
    if "decoded_compression_ratio" not in metrics:
        return "--"
    return fmt(metrics["decoded_compression_ratio"]["value"], 3)


def render_markdown(path: Path, result: BenchmarkResult) -> str:
    rows = [r for r in result.rows if "codebook_policy" in r and r.get("phase") == "decode"]
    rows.sort(key=lambda r: (r["model"], r["batch_size"], r["decode_mode"], r["max_codebook_size"]))
    lines = ["**Per decode step under each codebook policy (zip2zip / base model, same rounds)**", "", HEADER]
    lines.append("|---" * (HEADER.count("|") - 1) + "|")
    for row in rows:
        m = row["metrics"]
        lines.append(
            f"| {row['model']} | {row['batch_size']} | {row['decode_mode']} | {row['codebook_policy']} "
            f"| {row['max_codebook_size']} | {_value(m, 'decode_step_time_ratio_vs_base', 3)} "
            f"| {_value(m, 'num_entries_in_head_per_step', 0)} | {_value(m, 'num_entries_removed', 0)} "
            f"| {_base_ids_per_step(m)} | {_value(m, 'profile_encoder_ms_per_step', 2)} |"
        )
    lines += ["", f"From `{path.name}` ({result.git.get('commit', '?')[:7]})."]
    return "\n".join(lines) + "\n"


def render(folder: Path, out_dir: Path) -> list[Path]:
    """Write ``out_dir/decode_step_policies.md`` when a full decode_step result has policy rows."""
    latest = latest_with_policies(folder) if folder.is_dir() else None
    if latest is None:
        warnings.warn(f"no decode_step result with policy rows in {folder}: nothing rendered", stacklevel=2)
        return []
    out = out_dir / "decode_step_policies.md"
    out.write_text(render_markdown(*latest), encoding="utf-8")
    return [out]
