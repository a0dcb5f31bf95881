"""Command-line pieces every benchmark shares: common flags, default result paths, the closing summary."""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from zip2zip.results import BenchmarkResult, refuse_dirty_checkout

RESULTS_DIR = Path("results")


def add_common_arguments(parser: argparse.ArgumentParser, *, benchmark: str) -> None:
    """``--smoke``, ``--out`` and ``--allow-dirty``, worded the same in every benchmark."""
    parser.add_argument("--smoke", action="store_true", help="seconds-long run on tiny settings (for tests)")
    parser.add_argument(
        "--out",
        type=Path,
        help=f"result JSON path (default: {RESULTS_DIR}/{benchmark}/<run-tag>.json, e.g. {run_tag()})",
    )
    parser.add_argument(
        "--allow-dirty",
        action="store_true",
        help="write a full result although the git checkout has uncommitted changes (recorded as dirty)",
    )


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser.parse_args``, then a usage error at once, not after a long run, if the full result
    could not be written (uncommitted changes without ``--allow-dirty``)."""
    args = parser.parse_args(argv)
    if not args.smoke:
        try:
            refuse_dirty_checkout(args.allow_dirty)
        except ValueError as exc:
            parser.error(str(exc))
    return args


def comma_list(kind: Callable[[str], Any]) -> Callable[[str], tuple[Any, ...]]:
    """argparse ``type=`` for ``--flag 1,2,3``; an empty string gives an empty tuple (e.g. "no sweep")."""
    return lambda text: tuple(kind(x) for x in text.split(",") if x)


def run_tag(*, smoke: bool = False, device: str = "cpu") -> str:
    """Names a result by where it ran, e.g. ``cpu-x86_64-2cores``; smoke runs are tagged (and git-ignored)."""
    tag = f"{device}-{platform.machine()}-{os.cpu_count()}cores"
    return f"smoke-{tag}" if smoke else tag


def default_output_path(benchmark: str, *, smoke: bool = False, device: str = "cpu") -> Path:
    return RESULTS_DIR / benchmark / f"{run_tag(smoke=smoke, device=device)}.json"


def print_summary(result: BenchmarkResult, lines: list[str], out: Path) -> None:
    """Human summary after a run: the table lines, what was skipped, where the JSON went."""
    print("\n".join(lines))
    for item in result.skipped:
        print(f"skipped {item['name']}: {item['reason']}")
    print(f"wrote {out} ({result.status}, {result.duration_s:.1f} s)")


def partial_path(out: Path) -> Path:
    """Where a long run keeps the rows measured so far, so that an interrupted run can ``--resume``."""
    return out.with_name(out.stem + ".partial.json")


def rows_to_resume(
    parser: argparse.ArgumentParser, out: Path, config: dict[str, Any], must_match: Sequence[str]
) -> list[dict[str, Any]]:
    """Measured rows ``--resume`` keeps: from an interrupted run's partial file, else from ``out``.

    Derived rows (``versus`` another model) are dropped, since they are recomputed. A saved run whose
    config differs in any key of ``must_match`` is a usage error, never a silent mix of two setups.
    """
    partial = partial_path(out)
    source = partial if partial.exists() else out if out.exists() else None
    if source is None:
        return []
    saved = json.loads(source.read_text(encoding="utf-8"))
    differing = [key for key in must_match if saved["config"].get(key) != config[key]]
    if differing:
        parser.error(
            f"--resume: {source} was made with another {', '.join(differing)}; remove it or drop --resume"
        )
    return [row for row in saved["rows"] if "versus" not in row]
