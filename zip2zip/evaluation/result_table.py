"""Result files as one pandas table in long format: one row per (result file, result row, metric).

Long because every benchmark has its own row keys and metrics: one frame holds them all, and a researcher
pivots the part they need (``frame.pivot_table(index=["model", "corpus"], columns="metric",
values="value")``). Columns, left to right:

- the file: ``benchmark``, ``run`` (the run tag, the file name without ``.json``), ``path``, ``status``
  (``full``, ``smoke``, or ``partial`` for an interrupted run's progress file), ``created_utc``,
  ``git_commit``, ``git_dirty``, ``device`` (the GPU names when the run used CUDA, else the CPU model),
  ``assets`` (the real tokenizers, corpora and models used, as canonical JSON text: ``json.loads`` it),
  ``command`` (the command line that made the file, shell-quoted; missing in files older than its record);
- the row: ``row`` (its index in the file), ``is_comparison`` (a difference between two methods, whose
  ``versus`` names the reference, rather than a measurement), then the row's keys (``model``, ``corpus``,
  ``setting``, ...; missing where a row lacks one). Keys holding lists or objects (per-document NLLs,
  per-item scores, generations) are raw data, not keys: read them with ``read_result``;
- the metric: ``metric``, ``value`` (NaN when not computable, ``reason`` says why), ``unit``,
  ``num_samples``, and the spread where the benchmark measured one: ``stdev``, ``stderr``, ``ci95_low``,
  ``ci95_high``. Raw repeated timings (``values``) stay in the file.

Files are read through :func:`zip2zip.evaluation.results.read_result`; nothing is rounded or aggregated.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zip2zip.evaluation.results import PARTIAL_SUFFIX, BenchmarkResult, is_partial, read_result, row_problem
from zip2zip.registry import suggestion

if TYPE_CHECKING:
    import pandas as pd

# Under the results folder but not results: the regression check's baselines (``results/regression/``).
_NOT_RESULTS = ("regression",)
_FILE_COLUMNS = (
    "benchmark",
    "run",
    "path",
    "status",
    "created_utc",
    "git_commit",
    "git_dirty",
    "device",
    "assets",
    "command",
)
_METRIC_COLUMNS = (
    "metric",
    "value",
    "unit",
    "num_samples",
    "stdev",
    "stderr",
    "ci95_low",
    "ci95_high",
    "reason",
)
# Fixed columns keep their dtype in every file, so concatenating files never degrades them to ``object``.
_DTYPES = {
    **dict.fromkeys(("benchmark", "run", "path", "status", "created_utc", "git_commit", "device"), "str"),
    **dict.fromkeys(("assets", "command", "versus", "metric", "unit", "reason"), "str"),
    **dict.fromkeys(("value", "stdev", "stderr", "ci95_low", "ci95_high"), "float64"),
    "git_dirty": "boolean",
    "row": "Int64",
    "is_comparison": "boolean",
    "num_samples": "Int64",
}
# ``versus`` is a row key, but always a column: measurement rows have it missing.
_ROW_COLUMNS = ("row", "is_comparison", "versus")
_RESERVED = {*_FILE_COLUMNS, "row", "is_comparison", *_METRIC_COLUMNS}


def load_results(
    path_or_folder: Path | str, *, benchmark: str | None = None, include_partial: bool = False
) -> pd.DataFrame:
    """Every result under ``path_or_folder`` as one long table (columns: see the module docstring).

    Args:
        path_or_folder: a result file; a benchmark's folder (``results/throughput``); or the results folder,
            whose subfolders are read (except ``regression/``, which holds baselines, not results).
        benchmark: keep only this benchmark's results (``load_results("results", benchmark="throughput")``).
        include_partial: also read interrupted runs' progress files (``*.partial.json``, status ``partial``).
            A file named directly is always read.

    Raises:
        ValueError: a file that is not a result (one line naming it), or no result found (naming the
            benchmarks that are there).
    """
    import pandas as pd

    root = Path(path_or_folder)
    paths = _result_paths(root, benchmark=benchmark, include_partial=include_partial)
    tables = [_read(path) for path in paths]
    kept = [table for name, table in tables if benchmark is None or name == benchmark]
    if not kept:
        raise ValueError(_nothing_found(root, benchmark, sorted({name for name, _ in tables})))
    frame = pd.concat(kept, ignore_index=True)
    fixed = [*_FILE_COLUMNS, *_ROW_COLUMNS]
    keys = [c for c in frame.columns if c not in fixed and c not in _METRIC_COLUMNS]  # in order of appearance
    return frame[[*fixed, *keys, *_METRIC_COLUMNS]]


def result_frame(result: BenchmarkResult, *, path: Path | str | None = None) -> pd.DataFrame:
    """One result as the long table :func:`load_results` returns (``path``, if given, fills ``run``, ``path``
    and the ``partial`` status); for a result in hand, e.g. in a renderer or right after ``run(config)``."""
    import pandas as pd

    file_columns = {
        "benchmark": result.benchmark,
        "run": _run_tag(path) if path is not None else None,
        "path": str(path) if path is not None else None,
        "status": "partial" if path is not None and is_partial(path) else result.status,
        "created_utc": result.created_utc or None,
        "git_commit": result.git.get("commit"),
        "git_dirty": result.git.get("dirty"),
        "device": _device(result),
        "assets": json.dumps(result.assets, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        "command": shlex.join(result.command) if result.command else None,
    }
    keys = [k for k in _row_keys(result.rows) if k != "versus"]
    records: list[dict[str, Any]] = []
    for index, row in enumerate(result.rows):
        head = {"row": index, "is_comparison": "versus" in row, "versus": row.get("versus")}
        head |= {k: row.get(k) for k in keys}
        records += [head | _metric_columns(name, m) for name, m in row["metrics"].items()]
    columns = [*_ROW_COLUMNS, *keys, *_METRIC_COLUMNS]
    num_rows = len(records)
    return pd.DataFrame(
        {
            **{name: _column([value] * num_rows, name) for name, value in file_columns.items()},
            **{name: _column([r[name] for r in records], name) for name in columns},
        }
    )


def _column(values: list[Any], name: str) -> pd.Series:
    """Fixed columns as ``_DTYPES`` says (metric values and spreads ``float64``, NaN when absent); integer row
    keys as nullable ``Int64``, so a row without the key does not turn them into floats; the rest as pandas
    infers it."""
    import pandas as pd

    if name in _DTYPES:
        return pd.Series(values, dtype=_DTYPES[name])
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="Int64")
    if present and all(isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="boolean")
    return pd.Series(values)


def _metric_columns(name: str, m: dict[str, Any]) -> dict[str, Any]:
    ci95 = m.get("ci95") or (None, None)
    return {
        "metric": name,
        "value": m["value"],
        "unit": m["unit"],
        "num_samples": m.get("num_samples"),
        "stdev": m.get("stdev"),
        "stderr": m.get("stderr"),
        "ci95_low": ci95[0],
        "ci95_high": ci95[1],
        "reason": m.get("reason"),
    }


def _row_keys(rows: list[dict[str, Any]]) -> list[str]:
    """Scalar-valued row keys in order of first appearance (lists and objects are raw data, not keys)."""
    keys: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if key != "metrics" and (value is None or isinstance(value, str | int | float | bool)):
                keys.setdefault(key)
    clash = sorted(_RESERVED & set(keys))
    if clash:
        raise ValueError(
            f"row keys {clash} have the names of load_results columns; rename them in the benchmark"
        )
    return list(keys)


def _device(result: BenchmarkResult) -> str:
    """The hardware that ran the benchmark: GPU names when its ``device`` was CUDA, else the CPU model."""
    environment = result.environment
    gpus = environment.get("accelerators", {}).get("gpus") or []
    if str(result.config.get("device", "cpu")).startswith("cuda") and gpus:
        return ", ".join(gpu["name"] for gpu in gpus)
    return str(environment.get("cpu_model", "unknown CPU"))


def _run_tag(path: Path | str) -> str:
    name = Path(path).name
    return name.removesuffix(PARTIAL_SUFFIX) if is_partial(name) else name.removesuffix(".json")


def _result_paths(root: Path, *, benchmark: str | None, include_partial: bool) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise ValueError(f"{root}: no such file or folder")
    if benchmark is not None and (root / benchmark).is_dir():
        root = root / benchmark
    folders = [root, *(p for p in sorted(root.iterdir()) if p.is_dir() and p.name not in _NOT_RESULTS)]
    paths = [path for folder in folders for path in sorted(folder.glob("*.json"))]
    return [p for p in paths if include_partial or not is_partial(p)]


def _read(path: Path) -> tuple[str, pd.DataFrame]:
    """(benchmark, table) of one file, read by ``read_result`` and checked for the shape the table relies on;
    any problem is one ValueError naming the file."""
    try:
        result = read_result(path)
        problem = _shape_problem(result)
        table = result_frame(result, path=path) if problem is None else None
    except (OSError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(message if message.startswith(str(path)) else f"{path}: {message}") from exc
    if table is None:
        raise ValueError(f"{path}: {problem}")
    return result.benchmark, table


def _shape_problem(result: BenchmarkResult) -> str | None:
    for name in ("config", "assets", "environment", "git"):
        if not isinstance(getattr(result, name), dict):
            return f"'{name}' is not an object"
    if not isinstance(result.git.get("dirty", False), bool):
        return "'git.dirty' is not true or false"
    if not isinstance(result.rows, list):
        return "'rows' is not a list"
    for index, row in enumerate(result.rows):
        if (problem := row_problem(row)) is not None:
            return f"row {index}: {problem}"
    return None


def _nothing_found(root: Path, benchmark: str | None, found: list[str]) -> str:
    if benchmark is None:
        return f"no result files under {root}"
    there = f"results there: {', '.join(found)}." if found else "no results there."
    return f"no {benchmark!r} results under {root}; {there}{suggestion(benchmark, found)}"
