"""Command-line pieces every benchmark shares: the parser, name/path validators, default result paths, the
one resume/write path (:class:`ResultFile`), the closing summary, and :func:`run_and_write`, which
strings those together as the end of every benchmark's ``main``.

Usage errors are one line on stderr and exit status 2, raised while the arguments are parsed, before any
work: a typo in a name (``--corpora wikitext103``), a path that names nothing, a damaged ``--resume`` file,
an ``--out`` this run must not replace (:func:`out_problem`).
Only what the user cannot fix by retyping (an unreachable hub, a package that is not installed) is left
to the benchmark, which skips it with the reason recorded in the result.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from zip2zip.evaluation.results import (
    PARTIAL_SUFFIX,
    SCHEMA_VERSION,
    BenchmarkResult,
    is_partial,
    partial_path,
    refuse_dirty_checkout,
    row_digest,
    row_problem,
    write_json_atomic,
    write_result,
)
from zip2zip.modeling.pretrained_cache import reuse_loaded_models
from zip2zip.registry import check_name, unknown_name_message

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

RESULTS_DIR = Path("results")
BASELINES_DIR = RESULTS_DIR / "regression"  # written only by ``python -m benchmarks.regression --update-baselines``
C = TypeVar("C", bound="DataclassInstance")  # a benchmark Config: ``dataclasses.replace`` needs a dataclass


class _Parser(argparse.ArgumentParser):
    """``argparse`` whose usage errors are one line (the full usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def new_parser(benchmark: str, description: str | None) -> argparse.ArgumentParser:
    """The parser of ``python -m benchmarks.<benchmark>``, with the common arguments already added."""
    parser = _Parser(
        prog=f"python -m benchmarks.{benchmark}",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser, benchmark=benchmark)
    return parser


def add_common_arguments(parser: argparse.ArgumentParser, *, benchmark: str) -> None:
    """``--smoke``, ``--out``, ``--force`` and ``--allow-dirty``, worded the same in every benchmark."""
    parser.add_argument("--smoke", action="store_true", help="seconds-long run on tiny settings (for tests)")
    parser.add_argument(
        "--out",
        type=argument_type(_result_path),
        help=f"result JSON path (default: {RESULTS_DIR}/{benchmark}/<run-tag>.json, e.g. {run_tag()})",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help=f"let a smoke run replace a full or committed {benchmark} result (never another benchmark's "
        f"file, nor {BASELINES_DIR}/)",
    )
    parser.add_argument(
        "--allow-dirty",
        action="store_true",
        help="write a full result although the git checkout has uncommitted changes (recorded as dirty)",
    )


def add_resume_argument(parser: argparse.ArgumentParser, *, kept: str, same: str = "") -> None:
    """``--resume``, worded the same in every benchmark: "<kept> of an interrupted run ..., else of --out"
    (``same``: what the earlier run must share, e.g. "sampling config")."""
    parser.add_argument(
        "--resume",
        action="store_true",
        help=f"{kept} of an interrupted run (its .partial.json file), else of --out"
        + (f" (same {same})" if same else ""),
    )


def add_corpus_source_argument(parser: argparse.ArgumentParser, *, auto: str | None = None) -> None:
    """``--corpus-source``, one of the corpus sources; ``auto``: what the benchmark does with "auto" (said
    in the help after the sources)."""
    from zip2zip.data.corpora import SOURCES

    parser.add_argument(
        "--corpus-source",
        type=one_of(SOURCES, kind="corpus source"),
        help=", ".join(SOURCES) + (f"; auto: {auto}" if auto else ""),
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


def resolve_config(parser: argparse.ArgumentParser, base: C, overrides: Mapping[str, Any]) -> C:
    """``base`` with the overrides that are not None; a value the Config rejects is a usage error."""
    try:
        return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        parser.error(str(exc))


def given_fields(args: argparse.Namespace, config_type: type) -> dict[str, Any]:
    """The flags that map 1:1 to a field of ``config_type`` (``--max-length`` -> ``max_length``)."""
    return {f.name: getattr(args, f.name, None) for f in dataclasses.fields(config_type)}


# ---- validators (argparse ``type=``) ----------------------------------------------------------------


def argument_type(check: Callable[[str], Any]) -> Callable[[str], Any]:
    """argparse ``type=`` from a function that raises ValueError: its message becomes the usage error
    (argparse itself would only say "invalid value")."""

    def parse(text: str) -> Any:
        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def one_of(known: Iterable[str], *, kind: str) -> Callable[[str], str]:
    """argparse ``type=`` for one registry name; a typo names the closest known name."""
    names = tuple(known)
    return argument_type(lambda text: check_name(text, names, kind=kind))


def comma_list_of(known: Iterable[str], *, kind: str) -> Callable[[str], tuple[str, ...]]:
    """argparse ``type=`` for ``--flag a,b``: at least one name, each known, repeats dropped (order kept)."""
    names = tuple(known)

    def check(text: str) -> tuple[str, ...]:
        chosen = tuple(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))
        if not chosen:
            raise ValueError(f"no {kind} given; choose from {', '.join(names)}")
        return tuple(check_name(x, names, kind=kind) for x in chosen)

    return argument_type(check)


def comma_list(kind: Callable[[str], Any]) -> Callable[[str], tuple[Any, ...]]:
    """argparse ``type=`` for ``--flag 1,2,3``; an empty string gives an empty tuple (e.g. "no sweep")."""

    def check(text: str) -> tuple[Any, ...]:
        try:
            return tuple(kind(x) for x in text.split(",") if x)
        except ValueError:
            if kind not in (int, float):  # a validator's own message names the bad item
                raise
            raise ValueError(f"{text!r} is not a comma list of {kind.__name__}") from None

    return argument_type(check)


_HF_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def tokenizer_name(text: str) -> str:
    """A ``--tokenizer`` value: a registry name, an existing folder, or something shaped like a Hugging Face
    id (``org/name``, checked when it is loaded)."""
    from zip2zip.data.tokenizers import TOKENIZERS

    if text in TOKENIZERS or Path(text).exists() or _HF_ID.fullmatch(text):
        return text
    raise ValueError(unknown_name_message("tokenizer", text, TOKENIZERS, also="a Hugging Face id or folder"))


def check_hub_tokenizers(parser: argparse.ArgumentParser, names: Iterable[str]) -> None:
    """Load each non-registry tokenizer (a hub id or folder) once, before any work: one that does not load
    while the hub is reachable is a usage error. With the hub unreachable the benchmark skips it, saying so."""
    from zip2zip.data.hub import hub_is_reachable
    from zip2zip.data.tokenizers import TOKENIZERS, get_tokenizer

    for name in names:
        if name in TOKENIZERS:
            continue
        try:
            get_tokenizer(name)
        except ValueError as exc:
            if Path(name).exists() or hub_is_reachable():
                parser.error(str(exc))


def _result_path(text: str) -> Path:
    """``--out``: a file path whose folder exists or can be made; never a folder or a partial file."""
    path = Path(text)
    if is_partial(path):
        raise ValueError(
            f"{path} is a partial-progress file name; pick a name not ending in {PARTIAL_SUFFIX}"
        )
    if path.is_dir():
        raise ValueError(f"{path} is a folder; pass a file path such as {path / 'result.json'}")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"cannot write {path}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK):
        raise ValueError(f"cannot write {path}: {ancestor} is not writable")
    return path


# ---- result paths ------------------------------------------------------------------------------------


def run_tag(*, smoke: bool = False, device: str = "cpu") -> str:
    """Names a result by where it ran, e.g. ``cpu-x86_64-2cores``; smoke runs are tagged (and git-ignored)."""
    tag = f"{device}-{platform.machine()}-{os.cpu_count()}cores"
    return f"smoke-{tag}" if smoke else tag


def default_output_path(benchmark: str, *, smoke: bool = False, device: str = "cpu") -> Path:
    return RESULTS_DIR / benchmark / f"{run_tag(smoke=smoke, device=device)}.json"


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
        return f"{out} is in {RESULTS_DIR}/ but not in {RESULTS_DIR / benchmark}/, where {benchmark} results go"
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
            if _git(path, "ls-files", "--full-name", "--", path.name):
                return f"{path} is committed to git; only a full {benchmark} run replaces it: pass another --out"
    return None


def _held_result(path: Path) -> tuple[str, str | None] | None:
    """(benchmark, status) of the result or partial file at ``path``; None if it is neither."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
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
    rename. ``row_keys``: what identifies a row (a saved row without them is damaged).
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

    @classmethod
    def for_args(
        cls,
        parser: argparse.ArgumentParser,
        args: argparse.Namespace,
        *,
        benchmark: str,
        config: Mapping[str, Any],
        device: str = "cpu",
        **options: Any,
    ) -> ResultFile:
        """The result file of a parsed command line: ``--out`` (default :func:`default_output_path`, tagged
        with ``device``), ``--smoke``, ``--force`` and ``--allow-dirty``; ``options`` as in the constructor."""
        return cls(
            parser,
            args.out or default_output_path(benchmark, smoke=args.smoke, device=device),
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
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
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
        rows = [row for row in saved["rows"] if "versus" not in row]
        print(f"resuming {len(rows)} rows from {source}", file=sys.stderr)
        return Saved(rows, saved.get("assets") or {})

    def _rows_problem(self, saved: Mapping[str, Any]) -> str | None:
        """Why the saved rows cannot be kept: one is not a row, or does not match its ``row_sha256`` digest
        (edited or damaged since it was written); a file without digests cannot be checked, so is not kept."""
        digests = saved.get("row_sha256")
        rows = saved["rows"]
        if not (isinstance(digests, list) and len(digests) == len(rows)):
            return (
                f"'row_sha256' does not hold one digest per row ({len(rows)} rows), so its rows cannot be checked"
            )
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
        touched."""
        write_json_atomic(
            self.partial,
            {
                "benchmark": self.benchmark,
                "status": self.status,
                "config": self.config,
                "rows": list(rows),
                "row_sha256": [row_digest(self.config, row) for row in rows],
                "assets": dict(assets or {}),
            },
        )

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
    needed = {"metrics", *row_keys}
    if not isinstance(rows, list) or not all(isinstance(r, dict) and needed <= set(r) for r in rows):
        return f"'rows' is not a list of rows with {', '.join(sorted(needed))}"
    if not isinstance(data.get("assets", {}), dict):
        return "'assets' is not an object"
    return None


def run_and_write(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    config: Any,
    *,
    benchmark: str,
    run: Callable[..., BenchmarkResult],
    summary_lines: Callable[[BenchmarkResult], list[str]],
    config_dict: Mapping[str, Any],
    must_match: Iterable[str],
    row_keys: Iterable[str],
    device: str = "cpu",
    check_existing: Callable[[ResultFile], None] | None = None,
    renamed_keys: Mapping[str, str] | None = None,
) -> None:
    """The close of every benchmark's ``main``, once the arguments and the Config are checked: pick ``--out``
    (:meth:`ResultFile.for_args`, which refuses one this run must not replace), resume what ``--resume`` keeps (:class:`ResultFile`), call
    ``run(config, status=, previous=, previous_assets=, on_progress=)``, write the result and print the summary.

    ``config_dict``: the config as recorded (and compared on ``--resume``; ``renamed_keys`` as in
    :class:`ResultFile`); ``device``: the run tag's device;
    ``check_existing``: called with the :class:`ResultFile` when ``--out`` already exists, before anything is
    resumed (to refuse, with ``parser.error``, a file this run must not continue or replace).
    """
    results = ResultFile.for_args(
        parser,
        args,
        benchmark=benchmark,
        config=config_dict,
        device=device,
        must_match=must_match,
        row_keys=row_keys,
        renamed_keys=renamed_keys,
    )
    if check_existing is not None and results.out.exists():
        check_existing(results)
    saved = results.begin(resume=args.resume)
    with reuse_loaded_models():  # the rows of one run share their base models' weights, read once
        result = run(
            config,
            status="smoke" if args.smoke else "full",
            previous=saved.rows,
            previous_assets=saved.assets,
            on_progress=results.save_progress,
        )
    results.write(result)
    print_summary(result, summary_lines(result), results.out)


def print_summary(result: BenchmarkResult, lines: list[str], out: Path) -> None:
    """Human summary after a run: the table lines, what was skipped, where the JSON went."""
    print("\n".join(lines))
    for item in result.skipped:
        print(f"skipped {item['name']}: {item['reason']}")
    print(f"wrote {out} ({result.status}, {result.duration_s:.1f} s)")
