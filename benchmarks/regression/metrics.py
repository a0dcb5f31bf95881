"""Benchmark outputs -> flat named metrics, the unit the regression check compares.

A metric is named ``<benchmark>/<row>/<field>``: the benchmark, the row's identifying keys
(``tokenizer=llama3,corpus=code,...``: its benchmark's ``ROW_KEYS``) and the metric's name in the row
(``bytes_per_base_token``). Every ``metrics`` entry of a row gives one metric (its ``value``), and so does
every other number in the row outside the identifying keys (``num_docs_used``, ``duration_s``). Lists
(per-document scores, raw timing samples) and text are not metrics: what they sum to is.

Training logs (``train_log.json``) flatten the same way: the final held-out evaluation, each learning-curve
point, the last training step and the run's totals.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Value = float | int | str | None


def row_keys(benchmark: str) -> tuple[str, ...]:
    """What identifies a row of ``benchmark``: the ``ROW_KEYS`` its module declares where its rows are
    built (a row has those that apply to it; missing ones are left out of its name, e.g. ``versus``)."""
    try:
        module = importlib.import_module(f"benchmarks.{benchmark}")
    except ModuleNotFoundError:
        raise ValueError(f"no benchmark {benchmark!r} (no module benchmarks.{benchmark})") from None
    return tuple(module.ROW_KEYS)


@dataclass(frozen=True)
class Metric:
    """One named number (or, for rendered files, a content hash)."""

    benchmark: str
    row: str
    field: str
    value: Value
    unit: str = ""

    @property
    def name(self) -> str:
        return f"{self.benchmark}/{self.row}/{self.field}"


def split_name(name: str) -> tuple[str, str, str]:
    """``"codec/data=bytes/speedup"`` -> ``("codec", "data=bytes", "speedup")``; the row may hold ``/``."""
    benchmark, rest = name.split("/", 1)
    row, field = rest.rsplit("/", 1)
    return benchmark, row, field


def from_plain(name: str, value: Value, unit: str = "") -> Metric:
    """A metric from its name, as baselines store it."""
    return Metric(*split_name(name), value=value, unit=unit)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def row_id(row: Mapping[str, Any], keys: Iterable[str]) -> str:
    """``tokenizer=llama3,corpus=code``: the row's identifying keys that it has, in ``keys`` order."""
    return ",".join(f"{k}={row[k]}" for k in keys if k in row) or "all"


def result_metrics(result: Mapping[str, Any]) -> dict[str, Metric]:
    """Every metric of a benchmark result file (``BenchmarkResult`` as JSON). Raises ValueError for a
    unknown benchmark or two rows with the same name (the names would collide)."""
    benchmark = result["benchmark"]
    keys = row_keys(benchmark)
    out: dict[str, Metric] = {}
    for row in result["rows"]:
        rid = row_id(row, keys)
        found = [
            Metric(benchmark, rid, field, m.get("value"), m.get("unit") or "")
            for field, m in row["metrics"].items()
        ]
        found += [
            Metric(benchmark, rid, field, value)
            for field, value in row.items()
            if field not in keys and field != "metrics" and _is_number(value)
        ]
        for metric in found:
            if metric.name in out:
                raise ValueError(
                    f"two rows of {benchmark} are both named {rid!r}: add a key to benchmarks.{benchmark}.ROW_KEYS"
                )
            out[metric.name] = metric
    return out


def _flat_numbers(prefix: str, record: Mapping[str, Any]) -> dict[str, Value]:
    """Numbers of a record, nested dicts joined with dots: ``{"grad_norms": {"lora": 1.0}}`` ->
    ``{"grad_norms.lora": 1.0}``."""
    out: dict[str, Value] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out |= _flat_numbers(f"{name}.", value)
        elif _is_number(value) or value is None:
            out[name] = value
    return out


def train_log_metrics(log: Mapping[str, Any], *, benchmark: str = "training") -> dict[str, Metric]:
    """Metrics of a training log: final held-out evaluation, learning-curve points, last step, totals."""
    summary = log.get("summary") or {}
    records: list[tuple[str, Mapping[str, Any]]] = [
        ("final_heldout", summary.get("final_heldout") or {}),
        ("final_train_step", summary.get("final_train_step") or {}),
        ("heldout_reference", log.get("heldout_reference") or {}),
        ("run", {k: v for k, v in summary.items() if not isinstance(v, Mapping)}),
        ("run", {"num_trainable_params": log.get("num_trainable_params")}),
    ]
    records += [(f"validation_step={p['step']}", p) for p in log.get("validation", [])]
    out: dict[str, Metric] = {}
    for row, record in records:
        for field, value in _flat_numbers("", record).items():
            if field == "step":
                continue
            metric = Metric(benchmark, row, field, value)
            out[metric.name] = metric
    return out
