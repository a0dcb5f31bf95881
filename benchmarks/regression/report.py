"""The report: one table (metric, baseline, now, tolerance, verdict) on stdout, and the same as JSON.

The printed table leaves out the ``ignored`` metrics (absolute timings: dozens of lines that never fail);
the JSON keeps every line. Failures are listed again under the table, so the end of a CI log names them.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from zip2zip.evaluation.results import write_json_atomic
from zip2zip.provenance import git_info

from .compare import Check
from .metrics import Value
from .presets import Outcome

_HASH_DIGITS = 12  # of a sha256: enough to tell two files apart in a table


def format_value(value: Value) -> str:
    if value is None:
        return "--"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, str) and len(value) == 64:
        return value[:_HASH_DIGITS]
    return str(value)


def table_lines(checks: Sequence[Check]) -> list[str]:
    """The aligned table of the checks that are compared (``ignored`` ones left out)."""
    header = ("metric", "baseline", "now", "tolerance", "verdict")
    cells = [
        (c.metric, format_value(c.baseline), format_value(c.now), c.tolerance, c.verdict)
        for c in checks
        if c.verdict != "ignored"
    ]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]
    lines = [
        "  ".join(text.ljust(w) for text, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *cells]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def run_times_line(outcomes: Mapping[str, Outcome]) -> str:
    """Wall time per run (and CPU time: on a busy machine, closer to what an idle one would take)."""
    parts = ", ".join(f"{name} {o.duration_s:.0f} s ({o.cpu_s:.0f} s CPU)" for name, o in outcomes.items())
    wall_s = sum(o.duration_s for o in outcomes.values())
    cpu_s = sum(o.cpu_s for o in outcomes.values())
    return f"run times: {parts}; total {wall_s:.0f} s ({cpu_s:.0f} s CPU)"


def summary_lines(checks: Sequence[Check], outcomes: Mapping[str, Outcome]) -> list[str]:
    """Run times, counts per verdict, and each failure with its reason."""
    failed = [c for c in checks if c.failed]
    counts: dict[str, int] = {}
    for c in checks:
        counts[c.verdict] = counts.get(c.verdict, 0) + 1
    lines = [
        run_times_line(outcomes),
        "verdicts: "
        + ", ".join(f"{n} {verdict}" for verdict, n in counts.items())
        + " (ignored: absolute timings and memory, listed in the JSON report)",
    ]
    if not failed:
        return [*lines, f"regression check passed: {len(checks)} metrics"]
    lines.append(f"REGRESSION: {len(failed)} of {len(checks)} metrics failed:")
    lines += [
        f"  {c.verdict}: {c.metric} (baseline {format_value(c.baseline)}, now {format_value(c.now)}, "
        f"tolerance {c.tolerance}): {c.reason}"
        for c in failed
    ]
    return lines


def write_report(path: Path, checks: Sequence[Check], outcomes: Mapping[str, Outcome], *, repo: Path) -> Path:
    payload: dict[str, Any] = {
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "git": git_info(repo),
        "passed": not any(c.failed for c in checks),
        "num_failed": sum(c.failed for c in checks),
        "runs": {
            name: {"wall_s": o.duration_s, "cpu_s": o.cpu_s, "exit_status": o.returncode}
            for name, o in outcomes.items()
        },
        "checks": [c.to_dict() for c in checks],
    }
    return write_json_atomic(path, payload)
