"""Command-line pieces every benchmark shares: its command line (a flag per Config field, from
:mod:`zip2zip.config_cli`, plus ``--smoke``, ``--out``, ``--force``, ``--allow-dirty``, ``--resume``), path checks,
the closing summary, and :func:`run_and_write`, which strings those together with the one resume/write path
(:class:`benchmarks._result_file.ResultFile`) as the end of every benchmark's ``main``.

Usage errors are one line on stderr and exit status 2, raised while the arguments are parsed, before any
work: a typo in a name (``--corpora wikitext103``, declared with :class:`zip2zip.config_cli.Names`), a path
that names nothing, a count out of range (refused by the benchmark's Config, :func:`check_at_least`), a
damaged ``--resume`` file, an ``--out`` this run must not replace (:func:`benchmarks._result_file.out_problem`).
Only what the user cannot fix by retyping (an unreachable hub, a package that is not installed) is left
to the benchmark, which skips it with the reason recorded in the result.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from zip2zip.config_cli import ConfigCommandLine, ParsedCommandLine
from zip2zip.evaluation.results import PARTIAL_SUFFIX, BenchmarkResult, is_partial, refuse_dirty_checkout
from zip2zip.modeling.pretrained_cache import reuse_loaded_models
from zip2zip.registry import unknown_name_message

from ._result_file import BASELINES_DIR, RESULTS_DIR, ResultFile, run_tag

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

C = TypeVar("C", bound="DataclassInstance")  # a benchmark Config: ``dataclasses.replace`` needs a dataclass
C_contra = TypeVar("C_contra", contravariant=True)


class Run(Protocol[C_contra]):
    """A benchmark's ``run``, as :func:`run_and_write` calls it: the Config, then what a resumed run keeps
    (``previous`` rows and their ``previous_assets``), and ``on_progress(rows so far, assets)`` after each new
    cell, which saves them to the partial file."""

    def __call__(
        self,
        config: C_contra,
        /,
        *,
        status: str,
        previous: list[dict[str, Any]],
        previous_assets: dict[str, Any],
        on_progress: Callable[[list[dict[str, Any]], dict[str, Any]], None],
    ) -> BenchmarkResult: ...


def new_command_line(
    benchmark: str,
    config_type: type[C],
    description: str | None,
    *,
    presets: Callable[[argparse.Namespace], C] | None = None,
) -> ConfigCommandLine[C]:
    """The command line of ``python -m benchmarks.<benchmark>``: a flag per ``config_type`` field and the
    common arguments. ``presets(first)``: the Config giving the defaults, from ``--smoke`` (``first.smoke``);
    by default ``config_type.smoke()`` or ``config_type()``."""
    command = ConfigCommandLine(
        config_type,
        prog=f"python -m benchmarks.{benchmark}",
        description=description,
        presets=presets or (lambda first: config_type.smoke() if first.smoke else config_type()),  # type: ignore[attr-defined]
    )
    add_common_arguments(command, benchmark=benchmark)
    return command


def add_common_arguments(command: ConfigCommandLine[Any], *, benchmark: str) -> None:
    """``--smoke``, ``--out``, ``--force`` and ``--allow-dirty``, worded the same in every benchmark."""
    command.add_argument(
        "--smoke",
        action="store_true",
        read_first=True,
        help="seconds-long run on tiny settings (for tests); --smoke --help shows its defaults",
    )
    command.add_argument(
        "--out",
        metavar="PATH",
        type=argument_type(_result_path),
        help=f"result JSON path (default: {RESULTS_DIR}/{benchmark}/<run-tag>.json, e.g. {run_tag()})",
    )
    command.add_argument(
        "--force",
        action="store_true",
        help=f"let a smoke run replace a full or committed {benchmark} result (never another benchmark's "
        f"file, nor {BASELINES_DIR}/)",
    )
    command.add_argument(
        "--allow-dirty",
        action="store_true",
        help="write a full result although the git checkout has uncommitted changes (recorded as dirty)",
    )


def add_resume_argument(command: ConfigCommandLine[Any], *, kept: str, same: str = "") -> None:
    """``--resume``, worded the same in every benchmark: "<kept> of an interrupted run ..., else of --out"
    (``same``: what the earlier run must share, e.g. "sampling config")."""
    command.add_argument(
        "--resume",
        action="store_true",
        help=f"{kept} of an interrupted run (its .partial.json file), else of --out"
        + (f" (same {same})" if same else ""),
    )


def parse_args(command: ConfigCommandLine[C], argv: Sequence[str] | None) -> ParsedCommandLine[C]:
    """The Config and flags of ``argv``, then a usage error at once, not after a long run, if the full
    result could not be written (uncommitted changes without ``--allow-dirty``)."""
    parsed = command.parse(argv)
    if not parsed.args.smoke:
        try:
            refuse_dirty_checkout(parsed.args.allow_dirty)
        except ValueError as exc:
            command.error(str(exc))
    return parsed


def check_at_least(config: object, minimum: float, *names: str, hint: str = "") -> None:
    """Raise ValueError naming the first field of ``config`` among ``names`` (each item of a tuple field;
    None passes: "not set") that is below ``minimum``: for a Config's ``__post_init__``, so a count that would
    crash late, loop or measure nothing is refused before any work, for the CLI and for ``run(Config(...))``
    alike. ``hint``: the fix, appended to the message."""
    for name in names:
        value = getattr(config, name)
        for item in value if isinstance(value, tuple) else (value,):
            if item is not None and item < minimum:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{name}={value!r} ({flag}): must be >= {minimum}{hint}")


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


_HF_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def tokenizer_name(text: str) -> str:
    """A ``--tokenizer`` value: a registry name, an existing folder, or something shaped like a Hugging Face
    id (``org/name``, checked when it is loaded)."""
    from zip2zip.data.tokenizers import TOKENIZERS

    if text in TOKENIZERS or Path(text).exists() or _HF_ID.fullmatch(text):
        return text
    raise ValueError(unknown_name_message("tokenizer", text, TOKENIZERS, also="a Hugging Face id or folder"))


def check_hub_tokenizers(command: ConfigCommandLine[Any], names: Iterable[str]) -> None:
    """Load each non-registry tokenizer (a hub id or folder) once, before any work: one that does not load
    while the hub is reachable is a usage error. With the hub unreachable the benchmark skips it, saying so."""
    from zip2zip.data.hub_reachability import hub_is_reachable
    from zip2zip.data.tokenizers import TOKENIZERS, get_tokenizer

    for name in names:
        if name in TOKENIZERS:
            continue
        try:
            get_tokenizer(name)
        except ValueError as exc:
            if Path(name).exists() or hub_is_reachable():
                command.error(str(exc))


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


def run_and_write(
    command: ConfigCommandLine[C],
    parsed: ParsedCommandLine[C],
    *,
    benchmark: str,
    run: Run[C],
    summary_lines: Callable[[BenchmarkResult], list[str]],
    config_dict: Mapping[str, Any],
    must_match: Iterable[str],
    row_keys: Iterable[str],
    device: str = "cpu",
    variant: str = "",
    check_existing: Callable[[ResultFile], None] | None = None,
    renamed_keys: Mapping[str, str] | None = None,
) -> None:
    """The close of every resumable benchmark's ``main``, once the command line is parsed: pick ``--out``
    (:meth:`ResultFile.for_args`, which refuses one this run must not replace), resume what ``--resume`` keeps
    (:class:`ResultFile`), call ``run`` (:class:`Run`), write the result and print the summary.

    ``config_dict``: the config as recorded (and compared on ``--resume``; ``renamed_keys`` as in
    :class:`ResultFile`); ``row_keys``: the benchmark's ``ROW_KEYS``; ``device``, ``variant``: as in ``run_tag``;
    ``check_existing``: called with the :class:`ResultFile` when ``--out`` already exists, before anything is
    resumed (to refuse, with ``command.error``, a file this run must not continue or replace).
    """
    args = parsed.args
    results = ResultFile.for_args(
        command.parser,
        args,
        benchmark=benchmark,
        config=config_dict,
        device=device,
        variant=variant,
        must_match=must_match,
        row_keys=row_keys,
        renamed_keys=renamed_keys,
    )
    if check_existing is not None and results.out.exists():
        check_existing(results)
    saved = results.begin(resume=args.resume)
    with reuse_loaded_models():  # the rows of one run share their base models' weights, read once
        result = run(
            parsed.config,
            status="smoke" if args.smoke else "full",
            previous=saved.rows,
            previous_assets=saved.assets,
            on_progress=results.save_progress,
        )
    result.command = recorded_command(benchmark, parsed)
    if variant:  # the tables render the default run; a variant's own renderer finds it by this
        result.assets["variant"] = variant
    results.write(result)
    print_summary(result, summary_lines(result), results.out)


def recorded_command(benchmark: str, parsed: ParsedCommandLine[Any]) -> list[str]:
    """The command line of this run, as a result records it: ``["python", "-m", "benchmarks.codec", ...]``."""
    return ["python", "-m", f"benchmarks.{benchmark}", *parsed.argv]


def print_summary(result: BenchmarkResult, lines: list[str], out: Path) -> None:
    """Human summary after a run: the table lines, what was skipped, where the JSON went."""
    print("\n".join(lines))
    for item in result.skipped:
        print(f"skipped {item['name']}: {item['reason']}")
    print(f"wrote {out} ({result.status}, {result.duration_s:.1f} s)")
