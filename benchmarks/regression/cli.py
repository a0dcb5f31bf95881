"""``python -m benchmarks.regression``: run every preset, compare with the baselines, print and save the table.

Exit status 0 when every compared metric is within its tolerance and every rendered table matches; 1 on
any failure (a metric outside tolerance, missing, extra or without a rule, a run that crashed, a stale
rendering); 2 on a usage error (such as ``--update-baselines`` from a checkout with uncommitted changes, or
an ``--out`` report inside ``results/``).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

from zip2zip.config_cli import OneLineErrorParser
from zip2zip.provenance import LOCK_FILE, lock_record

from .baselines import baseline_path, dirty_tree_problem, read_baseline, write_baseline
from .compare import Check, compare, uncovered
from .metrics import Metric
from .presets import PRESETS, ROOT, Outcome, Preset, Runner, run_in_subprocess
from .rendering import NAME as RENDERING
from .rendering import file_hashes, render
from .report import run_times_line, summary_lines, table_lines, write_report

CHOICES = (*PRESETS, RENDERING)
DEFAULT_REPORT = Path(tempfile.gettempdir()) / "zip2zip-regression.json"
_LOG_TAIL_LINES = 15


def _parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="python -m benchmarks.regression",
        description=(__doc__ or "").split("\n\n")[0]
        + f"\n\nPresets: {', '.join(PRESETS)}; plus {RENDERING} (committed results render to the committed "
        "paper_tables/out/). Tolerances: benchmarks/regression/tolerances.py.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only", nargs="+", choices=CHOICES, metavar="NAME", help=f"run only these ({', '.join(CHOICES)})"
    )
    parser.add_argument(
        "--update-baselines",
        action="store_true",
        help="rewrite the baselines of the presets run (refused on a checkout with uncommitted changes)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_REPORT, help=f"JSON report (default {DEFAULT_REPORT})"
    )
    parser.add_argument(
        "--baselines",
        type=Path,
        default=Path("results/regression"),
        help="baseline folder, relative to the repository (default results/regression)",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="keep the runs' outputs and logs here (default: a temporary folder, removed)",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, runner: Runner = run_in_subprocess, repo: Path = ROOT) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    names = list(dict.fromkeys(args.only or CHOICES))
    if args.update_baselines and (problem := dirty_tree_problem(repo)):
        parser.error(problem)
    results = (repo / "results").resolve()
    if args.work_dir is not None and args.work_dir.resolve().is_relative_to(results):
        parser.error(f"--work-dir {args.work_dir} is inside results/; pick a scratch folder")
    if args.out.resolve().is_relative_to(results):  # baselines go there only through --update-baselines
        parser.error(
            f"--out {args.out} is inside results/, which holds results, not reports; pick another path"
        )
    baselines = repo / args.baselines
    print(_environment_line(repo), flush=True)
    with tempfile.TemporaryDirectory(prefix="zip2zip-regression-") as scratch:
        work = args.work_dir or Path(scratch)
        checks, outcomes = _run_all(names, work, baselines, runner, repo=repo, update=args.update_baselines)
    if args.update_baselines and not any(c.failed for c in checks):
        print(f"{run_times_line(outcomes)}\nbaselines written to {baselines}")
    elif args.update_baselines:
        print("\n".join(summary_lines(checks, outcomes)))
    else:
        print("\n".join(table_lines(checks) + summary_lines(checks, outcomes)))
    print(f"wrote {write_report(args.out, checks, outcomes, repo=repo)}")
    if any(c.failed for c in checks):
        raise SystemExit(1)


def _environment_line(repo: Path) -> str:
    """Whether this environment is the lock the baselines were made with (a difference may move metrics)."""
    record = lock_record(repo)
    if record is None:
        return f"environment: no {LOCK_FILE} in {repo}, so not compared with the lock"
    if record["matches_environment"]:
        return f"environment: exactly {LOCK_FILE} (sha256 {record['sha256'][:12]})"
    differences = record["differences"]
    return "\n".join(
        [
            f"environment: NOT the lock {LOCK_FILE} that the baselines were made with "
            f"({len(differences)} differences; metrics may move for that reason alone):",
            *(f"  {line}" for line in differences),
        ]
    )


def _run_all(
    names: list[str], work: Path, baselines: Path, runner: Runner, *, repo: Path, update: bool
) -> tuple[list[Check], dict[str, Outcome]]:
    checks: list[Check] = []
    outcomes: dict[str, Outcome] = {}
    for number, name in enumerate(names, start=1):
        print(f"[{number}/{len(names)}] {name} ...", flush=True)
        if name == RENDERING:
            if update:
                print(f"  {RENDERING} has no baseline file (it compares with paper_tables/out/): skipped")
                continue
            outcome = render(repo, work / name)
            found = file_hashes(work / name / "out") if outcome.returncode == 0 else None
            expected = file_hashes(repo / "paper_tables" / "out")
            new = _outcome_checks(name, outcome) if found is None else compare(expected, found)
        else:
            preset = PRESETS[name]
            outcome = runner(preset, work / name)
            new = _outcome_checks(name, outcome) or _preset_checks(
                preset, work / name, baselines, repo=repo, update=update
            )
        outcomes[name] = outcome
        checks += new
        failed = sum(c.failed for c in new)
        print(
            f"  {name}: {outcome.duration_s:.0f} s ({outcome.cpu_s:.0f} s CPU), {len(new)} checks, {failed} failed",
            flush=True,
        )
    return checks, outcomes


def _outcome_checks(name: str, outcome: Outcome) -> list[Check]:
    """Nothing if the run succeeded; else one failing check, with the end of its log printed."""
    if outcome.returncode == 0:
        return []
    lines = outcome.log.read_text(encoding="utf-8", errors="replace").splitlines()[-_LOG_TAIL_LINES:]
    print(f"  {name} failed (exit status {outcome.returncode}); last lines of {outcome.log}:")
    print("\n".join(f"    {line}" for line in lines))
    reason = f"the run failed (last line: {lines[-1] if lines else 'no output'})"
    return [Check(f"{name}/run/exit_status", "", 0, outcome.returncode, "exact", "FAIL", reason)]


def _preset_checks(preset: Preset, folder: Path, baselines: Path, *, repo: Path, update: bool) -> list[Check]:
    """Compare a finished run with its baseline, or (``update``) write the baseline."""
    try:
        metrics = preset.metrics(folder)
    except (OSError, ValueError, KeyError) as exc:
        return [_setup_failure(preset.name, "output", f"its output could not be read: {exc}")]
    path = baseline_path(baselines, preset.name)
    if update:
        return _update(preset, folder, metrics, path, repo=repo)
    if not path.is_file():
        return [_setup_failure(preset.name, "baseline", f"no baseline {path}: run --update-baselines")]
    try:
        command, expected = read_baseline(path)
    except ValueError as exc:
        return [_setup_failure(preset.name, "baseline", str(exc))]
    if command != preset.recorded_command():
        reason = f"the preset's command changed since {path} was written: run --update-baselines"
        return [_setup_failure(preset.name, "command", reason)]
    return compare(expected, metrics)


def _update(
    preset: Preset, folder: Path, metrics: dict[str, Metric], path: Path, *, repo: Path
) -> list[Check]:
    if problem := dirty_tree_problem(repo):  # checked at the start too; files may change during a run
        return [_setup_failure(preset.name, "baseline", f"{path} not written: {problem}")]
    missing_rules = uncovered(metrics)
    if missing_rules:
        print(f"  not writing {path}: no tolerance rule for {len(missing_rules)} metrics")
        return compare({}, {n: metrics[n] for n in missing_rules})
    write_baseline(
        path,
        name=preset.name,
        command=preset.recorded_command(),
        metrics=metrics,
        assets=preset.assets(folder),
        repo=repo,
    )
    print(f"  wrote {path} ({len(metrics)} metrics)")
    return []


def _setup_failure(name: str, what: str, reason: str) -> Check:
    return Check(f"{name}/setup/{what}", "", None, None, "--", "FAIL", reason)
