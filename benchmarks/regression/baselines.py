"""Baseline files: ``results/regression/<preset>.json``, one per benchmark, written by ``--update-baselines``.

Each holds the metrics of one run of the preset and where they came from, like any result: the git
commit (of a clean checkout: writing from uncommitted code is refused), package versions and hardware,
the preset's command line and the assets the run used (tokenizer, corpus and model hashes, checkpoints and
how they were trained). A baseline whose command differs from the preset's current one is stale: the
comparison says so instead of comparing two different setups.
"""

from __future__ import annotations

import datetime as _dt
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zip2zip.evaluation.results import write_json_atomic
from zip2zip.provenance import GENERATED_PATHS, capture_environment, git_info

from .metrics import Metric, from_plain

SCHEMA_VERSION = 1


def dirty_tree_problem(repo: Path) -> str | None:
    """Why baselines cannot be written from ``repo``'s checkout now (None if they can): not a checkout,
    uncommitted changes, or untracked files that git does not ignore (a new module the runs import, which
    the recorded commit does not hold)."""
    git = git_info(repo)
    if git.get("commit") is None:
        return f"{repo} is not a git checkout: baselines must record the commit they come from"
    if git.get("dirty"):
        return "refusing to update baselines from a checkout with uncommitted changes: commit first"
    # the jobs' outputs (results/ ...) do not make a checkout dirty, as in ``git_info``
    excluded = [f":(exclude){path}" for path in GENERATED_PATHS]
    listed = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard", "--", ".", *excluded],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        return f"cannot list untracked files in {repo}: {listed.stderr.strip()}"
    untracked = listed.stdout.splitlines()
    if untracked:
        shown = ", ".join(untracked[:3]) + (f" and {len(untracked) - 3} more" if len(untracked) > 3 else "")
        return (
            f"refusing to update baselines from a checkout with untracked files ({shown}): commit, ignore or "
            "remove them first"
        )
    return None


def baseline_path(folder: Path, name: str) -> Path:
    return folder / f"{name}.json"


def write_baseline(
    path: Path,
    *,
    name: str,
    command: list[str],
    metrics: Mapping[str, Metric],
    assets: Mapping[str, Any],
    repo: Path,
) -> Path:
    """Write one baseline with its provenance (sorted, indented JSON, atomically)."""
    payload = {
        "schema_version": SCHEMA_VERSION,
        "benchmark": name,
        "command": command,
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "git": git_info(repo),
        "environment": capture_environment(),
        "assets": dict(assets),
        "metrics": {n: {"value": m.value, "unit": m.unit} for n, m in metrics.items()},
    }
    return write_json_atomic(path, payload)


def read_baseline(path: Path) -> tuple[list[str], dict[str, Metric]]:
    """(recorded command, metrics) of a baseline file. Raises ValueError naming the file if it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"schema_version={data.get('schema_version')!r}, this code reads {SCHEMA_VERSION}"
            )
        metrics = {n: from_plain(n, m["value"], m.get("unit", "")) for n, m in data["metrics"].items()}
        return list(data["command"]), metrics
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is not a readable baseline ({exc}); rerun --update-baselines") from exc
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}; rerun --update-baselines") from exc
