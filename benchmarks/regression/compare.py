"""The comparator: baseline metrics vs this run's, one verdict per metric. Pure: no files, no printing.

Verdicts: ``ok`` (within tolerance), ``ignored`` (its rule says not compared), and the failures ``FAIL``
(outside tolerance, a NaN on either side, or another unit than the baseline's, whatever the rule: a changed
unit is another quantity under the same name), ``MISSING`` (in the baseline, not in this run), ``EXTRA`` (in
this run, not in the baseline) and ``NO RULE`` (no tolerance rule covers it).

An extra metric fails rather than warns: it has no baseline, so nothing checks it, and a warning in a green
CI log is never read. The fix is one command (``--update-baselines``), committed with the change that
added the metric, so the baselines always cover everything the benchmarks report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .metrics import Metric, Value
from .tolerances import RULES, Rule, rule_for

FAILURES = ("FAIL", "MISSING", "EXTRA", "NO RULE")


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    metric: str
    unit: str
    baseline: Value
    now: Value
    tolerance: str
    verdict: str
    reason: str

    @property
    def failed(self) -> bool:
        return self.verdict in FAILURES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(
    baseline: Mapping[str, Metric], now: Mapping[str, Metric], *, rules: tuple[Rule, ...] = RULES
) -> list[Check]:
    """One ``Check`` per metric in either mapping (baseline order first, then this run's extras)."""
    names = list(baseline) + [n for n in now if n not in baseline]
    return [_check(name, baseline.get(name), now.get(name), rules) for name in names]


def _check(name: str, base: Metric | None, new: Metric | None, rules: tuple[Rule, ...]) -> Check:
    known = new or base
    assert known is not None  # ``name`` comes from one of the two mappings
    rule = rule_for(known.benchmark, known.field, rules, row=known.row)
    unit = known.unit
    base_value = None if base is None else base.value
    new_value = None if new is None else new.value
    if rule is None:
        return Check(name, unit, base_value, new_value, "--", "NO RULE", "add a rule to tolerances.RULES")
    tolerance = rule.tolerance.describe()
    if base is None:
        verdict, reason = "EXTRA", "not in the baseline: rerun with --update-baselines and commit"
    elif new is None:
        verdict, reason = "MISSING", "in the baseline but not reported by this run"
    elif base.unit != new.unit:
        verdict = "FAIL"
        reason = (
            f"unit changed from {base.unit!r} to {new.unit!r}: another quantity under the same name; if "
            "intended, rerun with --update-baselines and commit"
        )
    elif rule.tolerance.kind == "ignore":
        verdict, reason = "ignored", rule.reason
    elif _is_nan(base.value) or _is_nan(new.value):
        verdict, reason = "FAIL", "NaN is no measurement: fix the run (or rule the metric 'ignore')"
    elif rule.tolerance.accepts(base.value, new.value):
        verdict, reason = "ok", rule.reason
    else:
        verdict, reason = "FAIL", rule.reason
    return Check(name, unit, base_value, new_value, tolerance, verdict, reason)


def _is_nan(value: Value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def uncovered(metrics: Mapping[str, Metric], *, rules: tuple[Rule, ...] = RULES) -> list[str]:
    """Names of metrics no rule covers (``--update-baselines`` refuses to write a baseline with any)."""
    return [name for name, m in metrics.items() if rule_for(m.benchmark, m.field, rules, row=m.row) is None]
