"""Where a benchmark's result goes and what it may replace or resume: default paths, the ``--out`` rule
(:func:`out_problem`) and the one resume/write path (:class:`ResultFile`).

A result is written once, atomically, when its run is complete; progress goes to a partial file beside it.
What it must not replace is refused before any work, as a one-line usage error: another benchmark's file, the
regression baselines, a full run from a smoke run, a committed file. What ``--resume`` reads is checked row by
row against the schema and the digest written with it. Nothing here parses arguments (``benchmarks._cli``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from zip2zip.evaluation.results import (
    SCHEMA_VERSION,
    BenchmarkResult,
    partial_path,
    row_digest,
    row_problem,
    write_json_atomic,
    write_result,
)

RESULTS_DIR = Path("results")
# the regression baselines: written only by ``python -m benchmarks.regression --update-baselines``
BASELINES_DIR = RESULTS_DIR / "regression"
DERIVED_ROW_KEY = "versus"  # a row computed from two measured rows (a difference), named by what it compares


# ---- result paths ------------------------------------------------------------------------------------


def run_tag(*, smoke: bool = False, device: str = "cpu", variant: str = "") -> str:
    """Names a result by where it ran, e.g. ``cpu-x86_64-2cores``; smoke runs are tagged (and git-ignored); a
    ``variant`` of the default run (e.g. ``lru-C256``) is appended, so that it never replaces the default's file."""
    tag = f"{device}-{platform.machine()}-{os.cpu_count()}cores" + (f"-{variant}" if variant else "")
    return f"smoke-{tag}" if smoke else tag


def codebook_variant(
    codebook_policy: str | None, max_codebook_size: int | None, *, protect_digits: bool = False
) -> str:
    """The ``variant`` of a run under a codebook other than the checkpoint's, e.g. ``lru-C256``, or with digit
    protection, e.g. ``digits`` ("" for none)."""
    parts = [
        codebook_policy or "",
        f"C{max_codebook_size}" if max_codebook_size else "",
        "digits" if protect_digits else "",
    ]
    return "-".join(part for part in parts if part)


def selection_variant(config: Any, given: Set[str], names: Sequence[str]) -> str:
    """``only-<items>`` when the command line narrowed one of ``names`` (selection options such as ``tasks``) to
    less than the default run covers, e.g. ``--models zip2zip --tasks gsm8k`` -> ``only-zip2zip-gsm8k``; ""
    otherwise. Such a run then never replaces the default run's file, nor is rendered as it."""
    defaults = {f.name: f for f in dataclasses.fields(config)}
    narrowed = []
    for name in names:
        field_ = defaults[name]
        default = field_.default_factory() if field_.default is dataclasses.MISSING else field_.default  # type: ignore[misc,operator]
        chosen = getattr(config, name)
        if name in given and set(chosen) < set(default):
            narrowed += list(chosen)
    return "only-" + "-".join(narrowed) if narrowed else ""


def join_variants(*variants: str) -> str:
    """One variant tag from several ("" parts left out): ``join_variants("only-gsm8k", "digits")``."""
    return "-".join(v for v in variants if v)


def default_output_path(
    benchmark: str, *, smoke: bool = False, device: str = "cpu", variant: str = ""
) -> Path:
    return RESULTS_DIR / benchmark / f"{run_tag(smoke=smoke, device=device, variant=variant)}.json"


def results_folder(path: Path) -> Path:
    """The committed results' folder that ``path`` may fall in: ``results/`` at the top of the git checkout
    holding ``path``, else ``./results`` (benchmarks run from the repository root)."""
    top = _git(path, "rev-parse", "--show-toplevel")
    return (Path(top) / RESULTS_DIR if top else RESULTS_DIR).resolve()


def out_problem(out: Path, *, benchmark: str, status: str, force: bool) -> str | None:
    """Why a ``status`` run of ``benchmark`` must not write ``out`` (None if it may), checked before any work.

    Never, even with ``force``: a path in ``results/regression/`` (baselines: ``--update-baselines`` only) or in
    another benchmark's ``results/<name>/``, nor a file that is not this benchmark's result, nor a partial file
    of another benchmark's run (an unreadable one is :meth:`ResultFile.begin`'s to report or replace).
    Without ``force``, a smoke run neither replaces a full run (finished or partial) nor a file committed to git.
    """
    target = out.resolve()
    results = results_folder(target)
    if target.is_relative_to(results / BASELINES_DIR.name):
        return (
            f"{out} is in {BASELINES_DIR}/, the regression baselines, which only "
            "python -m benchmarks.regression --update-baselines writes: pass another --out"
        )
    if target.is_relative_to(results) and not target.is_relative_to(results / benchmark):
        return (
            f"{out} is in {RESULTS_DIR}/ but not in {RESULTS_DIR / benchmark}/, where {benchmark} results go"
        )
    for path in (out, partial_path(out)):
        if not path.is_file() or path.stat().st_size == 0:  # an empty file (mktemp) holds nothing to lose
            continue
        held = _held_result(path)
        if held is None and path == out:
            return f"{path} is not a {benchmark} result, so this run does not replace it: pass another --out"
        if held is None:
            continue
        held_benchmark, held_status = held
        if held_benchmark != benchmark:
            return f"{path} holds a {held_benchmark} result, not {benchmark}: pass another --out"
        if status == "smoke" and not force:
            if held_status == "full":
                return f"{path} holds a full {benchmark} run; a smoke run does not replace it: pass another --out"
            if _git(path.resolve(), "ls-files", "--", path.resolve().name):  # a link's target counts
                return (
                    f"{path} is committed to git; only a full {benchmark} run replaces it: pass another --out"
                )
    return None


def _held_result(path: Path) -> tuple[str, str | None] | None:
    """(benchmark, status) of the result or partial file at ``path``; None if it is neither."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not (isinstance(data, dict) and isinstance(data.get("benchmark"), str) and "rows" in data):
        return None
    status = data.get("status")
    return data["benchmark"], status if isinstance(status, str) else None


def _git(path: Path, *command: str) -> str:
    """Output of ``git <command>`` run in ``path``'s folder (or its nearest existing parent); "" if it fails."""
    folder = path if path.is_dir() else path.parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    try:
        done = subprocess.run(["git", *command], cwd=folder, capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


# ---- the one resume/write path -----------------------------------------------------------------------


@dataclass
class Saved:
    """What ``--resume`` keeps of an earlier run: its measured rows and the assets recorded with them."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    assets: dict[str, Any] = field(default_factory=dict)


class ResultFile:
    """``--out`` of one run, written once, atomically, when the run is complete; never partly.

    Made before any work, it refuses (a usage error) an ``--out`` this run must not replace
    (:func:`out_problem`). Progress of a long run goes to ``partial_path(out)`` (``save_progress`` after each
    finished cell), which the final write removes. So a run killed at any point leaves ``--out`` exactly as it
    was, and ``--resume`` continues from the partial file (else from a finished ``--out``), keeping every
    finished cell whose row is still a valid row and still matches the digest written with it. A run that
    measured nothing writes nothing and exits with status 1.

    ``status``: ``"full"`` or ``"smoke"``, what this run writes; ``force``: ``--force``.
    ``must_match``: config keys an earlier run must share to be resumed (a differing one is a usage error,
    never a silent mix of two setups); ``renamed_keys``: old key -> new key, for runs saved before a
    rename. ``row_keys``: the benchmark's ``ROW_KEYS``, what identifies a row (a saved row without them is
    damaged; ``versus`` names only the derived rows, which are dropped and recomputed).
    """

    def __init__(
        self,
        parser: argparse.ArgumentParser,
        out: Path,
        *,
        benchmark: str,
        config: Mapping[str, Any],
        status: str,
        force: bool = False,
        must_match: Iterable[str] = (),
        row_keys: Iterable[str] = (),
        renamed_keys: Mapping[str, str] | None = None,
        allow_dirty: bool = False,
    ) -> None:
        if problem := out_problem(out, benchmark=benchmark, status=status, force=force):
            parser.error(problem)
        self.parser = parser
        self.out = out
        self.partial = partial_path(out)
        self.benchmark = benchmark
        self.config = _plain(config)
        self.status = status
        self.must_match = tuple(must_match)
        self.row_keys = tuple(row_keys)
        self.renamed_keys = dict(renamed_keys or {})
        self.allow_dirty = allow_dirty
        self._row_digests: dict[int, tuple[dict[str, Any], str]] = {}  # id(row) -> (row, its digest)

    @classmethod
    def for_args(
        cls,
        parser: argparse.ArgumentParser,
        args: argparse.Namespace,
        *,
        benchmark: str,
        config: Mapping[str, Any],
        device: str = "cpu",
        variant: str = "",
        **options: Any,
    ) -> ResultFile:
        """The result file of a parsed command line: ``--out`` (default :func:`default_output_path`, tagged
        with ``device`` and ``variant``), ``--smoke``, ``--force`` and ``--allow-dirty``; ``options`` as in the
        constructor."""
        return cls(
            parser,
            args.out or default_output_path(benchmark, smoke=args.smoke, device=device, variant=variant),
            benchmark=benchmark,
            config=config,
            status="smoke" if args.smoke else "full",
            force=args.force,
            allow_dirty=args.allow_dirty,
            **options,
        )

    def read(self, path: Path, *, context: str = "") -> dict[str, Any]:
        """A saved run (partial or finished) of this benchmark; a damaged file is a one-line usage error."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            problem = _schema_problem(data, self.benchmark, self.row_keys)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            problem = f"not readable JSON: {exc}"
        if problem:
            self._damaged(path, problem, context)
        return data

    def _damaged(self, path: Path, problem: str, context: str) -> NoReturn:
        fix = "remove it or drop --resume" if context == "--resume" else "remove it or pass another --out"
        self.parser.error(f"{context + ': ' if context else ''}{path} is damaged ({problem}); {fix}")

    def begin(self, *, resume: bool) -> Saved:
        """What the run keeps: with ``resume``, the rows of the partial file, else of a finished ``--out``
        (derived rows, ``versus``, are dropped: they are recomputed from the measured ones), each checked
        against the row schema and its digest. Without it, nothing; a partial file left by an interrupted run
        is then replaced, which is said on stderr."""
        source = self.partial if self.partial.exists() else self.out if self.out.exists() else None
        if not resume:
            if self.partial.exists():
                print(
                    f"note: starting afresh; {self.partial} (an interrupted run) will be replaced "
                    "(pass --resume to continue it)",
                    file=sys.stderr,
                )
            return Saved()
        if source is None:
            return Saved()
        saved = self.read(source, context="--resume")
        if problem := self._rows_problem(saved):
            self._damaged(source, problem, "--resume")
        saved_config = {self.renamed_keys.get(k, k): v for k, v in saved["config"].items()}
        differing = [k for k in self.must_match if saved_config.get(k) != self.config.get(k)]
        if differing:
            self.parser.error(
                f"--resume: {source} was made with another {', '.join(differing)}; remove it or drop --resume"
            )
        rows = [row for row in saved["rows"] if DERIVED_ROW_KEY not in row]
        print(f"resuming {len(rows)} rows from {source}", file=sys.stderr)
        return Saved(rows, saved.get("assets") or {})

    def _rows_problem(self, saved: Mapping[str, Any]) -> str | None:
        """Why the saved rows cannot be kept: one is not a row, or does not match its ``row_sha256`` digest
        (edited or damaged since it was written); a file without digests cannot be checked, so is not kept."""
        digests = saved.get("row_sha256")
        rows = saved["rows"]
        if not (isinstance(digests, list) and len(digests) == len(rows)):
            return f"'row_sha256' does not hold one digest per row ({len(rows)} rows), so its rows cannot be checked"
        for number, (row, digest) in enumerate(zip(rows, digests, strict=True)):
            label = ", ".join(f"{k}={row[k]}" for k in self.row_keys if k in row)
            where = f"row {number}" + (f" ({label})" if label else "")
            if (problem := row_problem(row)) is not None:
                return f"{where}: {problem}"
            if digest != row_digest(saved["config"], row):
                return f"{where} does not match its sha256 in 'row_sha256': edited or damaged since it was written"
        return None

    def save_progress(self, rows: Sequence[dict[str, Any]], assets: Mapping[str, Any] | None = None) -> None:
        """The rows finished so far (with their digests and assets) to the partial file; ``--out`` is not
        touched. A row is final once saved: its digest is computed once, not at every save (the final
        write computes them all afresh). Written without indentation: only ``--resume`` reads it, and
        json's indenting encoder is pure Python (a run saves after every cell)."""
        write_json_atomic(
            self.partial,
            {
                "benchmark": self.benchmark,
                "status": self.status,
                "config": self.config,
                "rows": list(rows),
                "row_sha256": [self._digest(row) for row in rows],
                "assets": dict(assets or {}),
            },
            indent=None,
        )

    def _digest(self, row: dict[str, Any]) -> str:
        saved = self._row_digests.get(id(row))
        if saved is None or saved[0] is not row:  # the row is kept, so its id is not reused meanwhile
            saved = row, row_digest(self.config, row)
            self._row_digests[id(row)] = saved
        return saved[1]

    def write(self, result: BenchmarkResult) -> None:
        """Write the complete result to ``--out`` and remove the partial file. No rows: nothing is written,
        and the process exits with status 1 saying why (what was skipped)."""
        if not result.rows:
            reasons = "; ".join(f"{s['name']}: {s['reason']}" for s in result.skipped) or "nothing to measure"
            print(
                f"{self.parser.prog}: error: no rows measured, {self.out} not written ({reasons})",
                file=sys.stderr,
            )
            raise SystemExit(1)
        write_result(self.out, result, allow_dirty=self.allow_dirty)
        self.partial.unlink(missing_ok=True)


def _plain(obj: Any) -> Any:
    """Tuples -> lists, as a config reads back from JSON (so saved and current configs compare equal)."""
    return json.loads(json.dumps(obj))


def _schema_problem(data: Any, benchmark: str, row_keys: Sequence[str]) -> str | None:
    """Why ``data`` is not a saved run of ``benchmark`` (None if it is one)."""
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}, not an object"
    if data.get("benchmark", benchmark) != benchmark:
        return f"a {data['benchmark']!r} result, not {benchmark!r}"
    if "schema_version" in data and data["schema_version"] != SCHEMA_VERSION:
        return f"schema_version={data['schema_version']!r}, this code reads {SCHEMA_VERSION}"
    if not isinstance(data.get("config"), dict):
        return "no 'config' object"
    rows = data.get("rows")
    needed = {"metrics", *row_keys} - {DERIVED_ROW_KEY}
    if not isinstance(rows, list) or not all(isinstance(r, dict) and needed <= set(r) for r in rows):
        return f"'rows' is not a list of rows with {', '.join(sorted(needed))}"
    if not isinstance(data.get("assets", {}), dict):
        return "'assets' is not an object"
    return None
