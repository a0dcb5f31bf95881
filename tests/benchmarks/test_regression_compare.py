"""The regression comparator, its tolerance table and the metric flattening, on hand-made results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.regression.compare import compare, uncovered
from benchmarks.regression.metrics import Metric, from_plain, result_metrics, split_name, train_log_metrics
from benchmarks.regression.presets import PRESETS
from benchmarks.regression.tolerances import RULES, Rule, Tolerance, rule_for

ROOT = Path(__file__).resolve().parents[2]


def _metrics(benchmark: str, row: str, **values: float | int | str | None) -> dict[str, Metric]:
    found = [Metric(benchmark, row, field, value) for field, value in values.items()]
    return {m.name: m for m in found}


def _verdicts(checks: list) -> dict[str, str]:
    return {c.metric.rsplit("/", 1)[1]: c.verdict for c in checks}


def test_within_tolerance_is_ok() -> None:
    base = _metrics("perplexity", "model=base", bits_per_byte=0.8, num_bytes=47666, decode_s=1.0)
    now = _metrics("perplexity", "model=base", bits_per_byte=0.8 * (1 + 5e-5), num_bytes=47666, decode_s=9.0)
    assert _verdicts(compare(base, now)) == {"bits_per_byte": "ok", "num_bytes": "ok", "decode_s": "ignored"}


def test_outside_tolerance_fails() -> None:
    base = _metrics("perplexity", "model=base", bits_per_byte=0.8, num_bytes=47666)
    now = _metrics("perplexity", "model=base", bits_per_byte=0.81, num_bytes=47667)
    checks = compare(base, now)
    assert _verdicts(checks) == {"bits_per_byte": "FAIL", "num_bytes": "FAIL"}
    assert all(c.failed for c in checks)


def test_a_changed_unit_fails_naming_both_units() -> None:
    """Same name, same number, another quantity: fails whatever the rule, ``ignore`` included."""
    base = {
        "bits": Metric("perplexity", "model=base", "bits_per_byte", 0.8, "bits/byte"),
        "time": Metric("perplexity", "model=base", "decode_s", 1.0, "s"),
    }
    now = {
        "bits": Metric("perplexity", "model=base", "bits_per_byte", 0.8, "nats/byte"),
        "time": Metric("perplexity", "model=base", "decode_s", 1.0, "ms"),
    }
    checks = compare(base, now)
    assert [c.verdict for c in checks] == ["FAIL", "FAIL"]
    assert "unit changed from 'bits/byte' to 'nats/byte'" in checks[0].reason
    assert "unit changed from 's' to 'ms'" in checks[1].reason


@pytest.mark.parametrize(
    ("bench", "field", "verdict"),
    [
        ("perplexity", "bits_per_byte", "FAIL"),
        ("perplexity", "num_bytes", "FAIL"),
        ("throughput", "speedup_vs_base", "FAIL"),
        ("perplexity", "decode_s", "ignored"),
    ],
    ids=["close", "exact", "ratio", "ignore"],
)
@pytest.mark.parametrize(("base", "now"), [("nan", "nan"), ("nan", "0.8"), ("0.8", "nan")])
def test_nan_on_either_side_fails_unless_ignored(bench, field, verdict, base, now) -> None:
    """A NaN baseline does not "equal" a NaN now: NaN is no measurement, so two of them are not unchanged."""
    checks = compare(
        _metrics(bench, "r", **{field: float(base)}), _metrics(bench, "r", **{field: float(now)})
    )
    assert [c.verdict for c in checks] == [verdict]
    if verdict == "FAIL":
        assert "NaN is no measurement" in checks[0].reason


def test_missing_and_extra_metrics_fail() -> None:
    base = _metrics("downstream", "model=base,task=piqa", acc=0.5, acc_norm=0.6)
    now = _metrics("downstream", "model=base,task=piqa", acc=0.5, exact_match_strict=0.1)
    checks = compare(base, now)
    assert _verdicts(checks) == {"acc": "ok", "acc_norm": "MISSING", "exact_match_strict": "EXTRA"}
    assert [c.metric.rsplit("/", 1)[1] for c in checks if c.failed] == ["acc_norm", "exact_match_strict"]


def test_metric_without_rule_fails_and_is_listed_as_uncovered() -> None:
    metrics = _metrics("perplexity", "model=base", mystery_score=1.0)
    checks = compare(metrics, metrics)
    assert [c.verdict for c in checks] == ["NO RULE"]
    assert uncovered(metrics) == list(metrics)


def test_timing_ratio_bounds_are_a_factor_either_way() -> None:
    ratio = Tolerance("ratio", factor=3.0)
    assert ratio.accepts(2.0, 5.9) and ratio.accepts(2.0, 0.7)
    assert not ratio.accepts(2.0, 6.1) and not ratio.accepts(2.0, 0.6)
    assert not ratio.accepts(2.0, 0.0)  # a ratio of 0 is a broken measurement, not a fast one


def test_close_and_exact_values() -> None:
    close = Tolerance("close", rel=1e-4)
    assert close.accepts(1.0, 1.00005) and not close.accepts(1.0, 1.001)
    assert not Tolerance("exact").accepts(float("nan"), float("nan"))
    assert not Tolerance("exact").accepts(None, 0)
    assert not close.accepts(1.0, None)


def test_unknown_tolerance_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="tolerance kind"):
        Tolerance("roughly")


@pytest.mark.parametrize(
    ("bench", "field", "kind"),
    [
        ("efficiency", "bytes_per_base_token", "exact"),
        ("efficiency", "gain_pct", "exact"),
        ("efficiency", "duration_s", "ignore"),
        ("throughput", "prefill_gain_pct", "ignore"),
        ("throughput", "decode_base_token_speedup", "ratio"),
        ("throughput", "prompt_compression_ratio", "exact"),
        ("codec", "speedup_numpy_vs_upstream", "ratio"),
        ("codec", "ours_numpy", "ignore"),
        ("codec", "speedup_numpy_vs_reference_python", "ignore"),
        ("decode_step", "decode_step_time_ratio_vs_base", "ratio"),
        ("perplexity", "bits_per_byte", "close"),
        ("downstream", "acc_norm_difference", "close"),
        ("training", "lm_loss", "close"),
        ("training", "num_train_codes", "exact"),
        ("paper_tables", "sha256", "exact"),
    ],
)
def test_rules_decide_as_documented(bench: str, field: str, kind: str) -> None:
    rule = rule_for(bench, field)
    assert rule is not None and rule.tolerance.kind == kind


def test_greedy_counts_of_a_random_model_are_not_compared_but_forced_ones_are() -> None:
    greedy = rule_for(
        "decode_step", "num_hypertokens_fed", row="model=tiny,method=zip2zip,decode_mode=greedy"
    )
    forced = rule_for(
        "decode_step", "num_hypertokens_fed", row="model=tiny,method=zip2zip,decode_mode=forced"
    )
    steps = rule_for("decode_step", "num_decode_steps", row="model=tiny,method=zip2zip,decode_mode=greedy")
    assert greedy is not None and greedy.tolerance.kind == "ignore"
    assert forced is not None and forced.tolerance.kind == "exact"
    assert steps is not None and steps.tolerance.kind == "exact"


def test_every_rule_gives_a_reason() -> None:
    assert all(isinstance(r, Rule) and len(r.reason) > 20 for r in RULES)


def _committed_results() -> list[Path]:
    return sorted(p for p in (ROOT / "results").glob("*/*.json") if p.parent.name != "regression")


@pytest.mark.parametrize("path", _committed_results(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_rules_cover_every_metric_of_the_committed_full_results(path: Path) -> None:
    """Full-size results have more rows and cells than the presets; each of their metrics needs a rule too."""
    assert uncovered(result_metrics(json.loads(path.read_text(encoding="utf-8")))) == []


@pytest.mark.parametrize("name", list(PRESETS))
def test_committed_baselines_exist_and_are_covered(name: str) -> None:
    data = json.loads((ROOT / "results" / "regression" / f"{name}.json").read_text(encoding="utf-8"))
    assert data["command"] == PRESETS[name].recorded_command()
    assert data["git"]["commit"] and data["git"]["dirty"] is False
    metrics = {n: from_plain(n, m["value"], m["unit"]) for n, m in data["metrics"].items()}
    assert metrics and uncovered(metrics) == []


def test_result_rows_flatten_to_named_metrics() -> None:
    result = {
        "benchmark": "perplexity",
        "rows": [
            {
                "model": "zip2zip",
                "corpus": "wikitext",
                "corpus_source": "offline",
                "per_doc_bytes": [1, 2],
                "metrics": {"bits_per_byte": {"value": 1.02, "unit": "bits/byte", "ci95": [1.0, 1.1]}},
            },
            {"model": "zip2zip", "corpus": "wikitext", "versus": "base", "metrics": {}, "num_docs_used": 2},
        ],
    }
    metrics = result_metrics(result)
    assert sorted(metrics) == [
        "perplexity/model=zip2zip,corpus=wikitext,versus=base/num_docs_used",
        "perplexity/model=zip2zip,corpus=wikitext/bits_per_byte",
    ]
    assert metrics["perplexity/model=zip2zip,corpus=wikitext/bits_per_byte"].unit == "bits/byte"


def test_rows_with_the_same_name_are_refused() -> None:
    row = {"model": "base", "corpus": "wikitext", "metrics": {"bits_per_byte": {"value": 1.0}}}
    with pytest.raises(ValueError, match="both named"):
        result_metrics({"benchmark": "perplexity", "rows": [row, row]})


def test_training_log_flattens_heldout_curve_and_totals() -> None:
    log = {
        "num_trainable_params": 1234,
        "validation": [{"step": 0, "lm_loss": 5.0}, {"step": 4, "lm_loss": 4.0}],
        "summary": {
            "final_heldout": {"lm_loss": 3.9, "num_codes": 512},
            "final_train_step": {"step": 8, "grad_norms": {"lora": 0.3}, "duration_s": 0.4},
            "num_train_codes": 2048,
            "is_complete": True,
        },
    }
    names = set(train_log_metrics(log))
    assert {
        "training/validation_step=4/lm_loss",
        "training/final_heldout/num_codes",
        "training/final_train_step/grad_norms.lora",
        "training/run/num_trainable_params",
        "training/run/num_train_codes",
    } <= names
    assert not any(n.endswith("/step") or n.endswith("is_complete") for n in names)


def test_names_split_back_into_their_parts() -> None:
    assert split_name("efficiency/tokenizer=org/name,corpus=code/gain_pct") == (
        "efficiency",
        "tokenizer=org/name,corpus=code",
        "gain_pct",
    )
    assert from_plain("a/b/c", 1.5, "x") == Metric("a", "b", "c", 1.5, "x")


@pytest.mark.parametrize("field", ["num_entries_evicted", "num_entries_reused", "entry_reuse_fraction"])
def test_policy_sweep_fields_have_their_own_exact_rule(field: str) -> None:
    row = "tokenizer=llama3,corpus=code,setting=policy_sweep,max_subtokens=3,max_codebook_size=64,policy=lru,doc_length=long"
    rule = rule_for("efficiency", field, row=row)
    assert rule is not None and rule.tolerance.kind == "exact"
    assert rule.reason.startswith("codebook-policy sweep")
