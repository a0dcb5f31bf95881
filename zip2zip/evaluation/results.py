"""Result files shared by every benchmark: schema, environment capture, atomic JSON writes.

One JSON object per file (``indent=2``, sorted keys, UTF-8, trailing newline) so that committed results
diff cleanly. Benchmarks build a :class:`BenchmarkResult` and hand it to :func:`write_result`; renderers
read it back with :func:`read_result`. Nothing here rounds or aggregates numbers.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zip2zip.provenance import capture_environment, git_info

SCHEMA_VERSION = 1
STATUSES = ("full", "smoke")
# An interrupted run keeps its progress beside the result it will write (``cpu.json`` -> ``cpu.partial.json``):
# not a result, so renderers skip it and git ignores it.
PARTIAL_SUFFIX = ".partial.json"


@dataclass
class BenchmarkResult:
    """Everything one benchmark run produced; serialised as-is to JSON.

    ``rows`` hold the measurements: identifying keys (``model``, ``corpus``, ``setting`` ...) plus a
    ``metrics`` dict whose values are ``metric(...)`` objects; ``row_sha256`` their digests
    (:func:`row_digest`; absent in files written before them), so ``--resume`` refuses an edited row.
    ``assets`` says which real tokenizers, corpora and models were actually used (names, versions, file
    hashes), ``skipped`` what was not and why; ``command`` the command line that made it (absent in files
    written before it was recorded).
    """

    benchmark: str
    status: str
    config: dict[str, Any]
    rows: list[dict[str, Any]]
    duration_s: float
    assets: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    git: dict[str, Any] = field(default_factory=dict)
    created_utc: str = ""
    schema_version: int = SCHEMA_VERSION
    row_sha256: list[str] = field(default_factory=list)  # row_digest of each row, filled by write_result
    command: list[str] = field(
        default_factory=list
    )  # e.g. ["python", "-m", "benchmarks.efficiency", "--smoke"]

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status={self.status!r}; expected one of {STATUSES}")
        if not self.benchmark.isidentifier():
            raise ValueError(f"benchmark={self.benchmark!r} must be a snake_case name such as 'efficiency'")


def metric(
    value: float | int | None,
    unit: str,
    *,
    num_samples: int | None = None,
    values: list[float] | None = None,
    stdev: float | None = None,
    ci95: list[float] | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """One measured quantity. ``value=None`` must come with a ``reason`` (never a sentinel number).
    ``ci95``: [low, high] of a 95% interval (how it was computed is the benchmark's to document)."""
    if value is None and not reason:
        raise ValueError(f"metric with unit {unit!r} has no value: say why in reason=...")
    out: dict[str, Any] = {"value": value, "unit": unit, "num_samples": num_samples}
    if values is not None:
        out["values"] = list(values)
    if stdev is not None:
        out["stdev"] = stdev
    if ci95 is not None:
        out["ci95"] = list(ci95)
    if reason:
        out["reason"] = reason
    return out


def _to_jsonable(obj: Any) -> Any:
    """Numpy scalars/arrays, paths and dataclasses -> plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return obj.tolist()
    return obj


def write_json_atomic(path: Path | str, payload: Any, *, indent: int | None = 2) -> Path:
    """Write ``payload`` as sorted, indented JSON (one line with ``indent=None``): temp file in the same
    folder, then rename.

    ``payload`` is arbitrary JSON (plus numpy values, paths and dataclasses, converted), hence ``Any``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_to_jsonable(payload), indent=indent, sort_keys=True, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


_DIRTY_REFUSAL = (
    "refusing to write a 'full' result from a checkout with uncommitted changes: commit first, "
    "or pass --allow-dirty (the result then records dirty=true)"
)


def refuse_dirty_checkout(allow_dirty: bool) -> None:
    """Fail before a long run, not after it, if ``write_result`` would refuse its full result."""
    if not allow_dirty and git_info().get("dirty"):
        raise ValueError(_DIRTY_REFUSAL)


def write_result(path: Path | str, result: BenchmarkResult, *, allow_dirty: bool = False) -> Path:
    """Fill in environment, git and timestamp, refuse a ``full`` result from a dirty tree, write atomically."""
    result.environment = result.environment or capture_environment()
    result.git = result.git or git_info()
    result.created_utc = result.created_utc or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    if result.status == "full" and result.git.get("dirty") and not allow_dirty:
        raise ValueError(_DIRTY_REFUSAL)
    result.row_sha256 = [row_digest(result.config, row) for row in result.rows]
    return write_json_atomic(path, result)


def row_digest(config: Any, row: Any) -> str:
    """sha256 of a row together with the config it was measured under, over canonical JSON (sorted keys, no
    spaces): written beside the rows, so a row edited or damaged since, or moved under another config, is
    told apart from the one the benchmark measured."""
    text = json.dumps(
        _to_jsonable({"config": config, "row": row}),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_METRIC_NUMBERS = ("stdev", "stderr")  # optional; when present, a finite number >= 0


def row_problem(row: Any) -> str | None:
    """Why ``row`` is not a result row (None if it is): an object whose ``metrics`` maps names to
    :func:`metric` objects (a finite ``value``, or ``null`` with a ``reason``; a text ``unit``; a count or
    ``null`` for ``num_samples``; lists of finite numbers for ``values`` and ``ci95``), and no NaN or
    infinity anywhere in it."""
    if not isinstance(row, dict):
        return f"a JSON {_json_type(row)}, not an object"
    if (where := _non_finite(row, "")) is not None:
        return f"{where.lstrip('.')} is not a finite number"
    metrics = row.get("metrics")
    if not isinstance(metrics, dict):
        return f"'metrics' is a JSON {_json_type(metrics)}, not an object of metrics"
    for name, m in metrics.items():
        if (problem := _metric_problem(m)) is not None:
            return f"metric {name!r}: {problem}"
    return None


def _metric_problem(m: Any) -> str | None:
    if not isinstance(m, dict):
        return f"a JSON {_json_type(m)}, not a metric object"
    if not isinstance(m.get("unit"), str):
        return "no text 'unit'"
    if "value" not in m:
        return "no 'value'"
    value = m["value"]
    if value is None:
        if not (isinstance(m.get("reason"), str) and m["reason"]):
            return "value null without a 'reason'"
    elif not _is_number(value):
        return f"value {value!r} is not a number"
    count = m.get("num_samples")
    if count is not None and not (isinstance(count, int) and not isinstance(count, bool) and count >= 0):
        return f"num_samples {count!r} is not a count"
    for key in _METRIC_NUMBERS:
        if key in m and not (_is_number(m[key]) and m[key] >= 0):
            return f"{key} {m[key]!r} is not a number >= 0"
    for key in ("values", "ci95"):
        if key in m and not (isinstance(m[key], list) and all(_is_number(x) for x in m[key])):
            return f"{key} is not a list of numbers"
    if "ci95" in m and len(m["ci95"]) != 2:
        return f"ci95 has {len(m['ci95'])} bounds, not 2"
    return None


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _non_finite(obj: Any, where: str) -> str | None:
    """Where in ``obj`` a NaN or infinity is (``.metrics.nll.value``), None if nowhere."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return where
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        found = _non_finite(value, f"{where}.{key}" if isinstance(key, str) else f"{where}[{key}]")
        if found is not None:
            return found
    return None


def _json_type(obj: Any) -> str:
    """The JSON name of a parsed value's type (``string``, ``number`` ...), as a user editing the file sees it."""
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "boolean"
    if isinstance(obj, int | float):
        return "number"
    if isinstance(obj, str):
        return "string"
    return "array" if isinstance(obj, list) else "object" if isinstance(obj, dict) else type(obj).__name__


def partial_path(out: Path | str) -> Path:
    """Where a long run writing ``out`` keeps the rows measured so far (for ``--resume``)."""
    out = Path(out)
    return out.with_name(out.stem + PARTIAL_SUFFIX)


def is_partial(path: Path | str) -> bool:
    """True for an interrupted run's progress file, which is never a result."""
    return Path(path).name.endswith(PARTIAL_SUFFIX)


def read_result(path: Path | str) -> BenchmarkResult:
    """Load a result file. A file that is not one (bad JSON, another schema version, unknown or missing
    keys) raises ValueError naming the file and the problem."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a JSON {type(data).__name__}, not a result object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"{path}: schema_version={version!r}, this code reads {SCHEMA_VERSION}")
    known = {f.name for f in dataclasses.fields(BenchmarkResult)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}")
    required = {
        f.name
        for f in dataclasses.fields(BenchmarkResult)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    missing = sorted(required - set(data))
    if missing:
        raise ValueError(f"{path}: missing keys {missing}")
    return BenchmarkResult(**data)
