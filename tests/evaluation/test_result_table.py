"""load_results: the committed results as one long pandas table, equal to their JSON; bad files named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from zip2zip.evaluation import load_results, result_frame
from zip2zip.evaluation.results import read_result

RESULTS = Path(__file__).resolve().parents[2] / "results"
COMMITTED = sorted(p for p in RESULTS.glob("*/*.json") if p.parent.name != "regression")


def _copy(source: Path, folder: Path, name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(source, folder / (name or source.name)))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.parent.name)
def test_one_table_row_per_file_row_and_metric_with_the_files_numbers(path: Path) -> None:
    result, frame = read_result(path), load_results(path)
    expected = [
        (index, name, m) for index, row in enumerate(result.rows) for name, m in row["metrics"].items()
    ]
    assert list(zip(frame["row"], frame["metric"], strict=True)) == [(i, n) for i, n, _ in expected]
    for (_, _, m), value, unit, low in zip(
        expected, frame["value"], frame["unit"], frame["ci95_low"], strict=True
    ):
        assert (value, unit) == (m["value"], m["unit"]) or (m["value"] is None and value != value)
        assert low == m["ci95"][0] if "ci95" in m else low != low  # NaN where the file has no interval
    assert set(frame["benchmark"]) == {result.benchmark} and set(frame["status"]) == {result.status}
    assert set(frame["git_commit"]) == {result.git["commit"]} and set(frame["run"]) == {path.stem}
    assert json.loads(frame["assets"].iloc[0]) == result.assets


def test_the_results_folder_loads_whole_and_filters_by_benchmark() -> None:
    everything = load_results(RESULTS)  # results/regression/ holds baselines, not results: skipped
    assert set(everything["benchmark"]) == {p.parent.name for p in COMMITTED}
    perplexity = load_results(RESULTS, benchmark="perplexity")
    assert set(perplexity["benchmark"]) == {"perplexity"}
    assert len(perplexity) == (everything["benchmark"] == "perplexity").sum()


def test_row_keys_are_columns_comparisons_marked_raw_lists_left_out() -> None:
    path = RESULTS / "perplexity" / "cpu-x86_64-2cores.json"
    frame = load_results(path)
    base = frame[(frame["model"] == "base") & (frame["corpus"] == "wikitext")]
    ppl = base[base["metric"] == "byte_perplexity"].iloc[0]
    row = read_result(path).rows[int(ppl["row"])]
    assert (row["model"], row["corpus"]) == ("base", "wikitext")
    assert ppl["value"] == row["metrics"]["byte_perplexity"]["value"]
    assert ppl["ci95_high"] == row["metrics"]["byte_perplexity"]["ci95"][1]
    assert "per_doc_nll_nats" not in frame.columns  # per-document lists stay in the file
    increases = frame[frame["metric"] == "byte_perplexity_increase_pct"]
    assert increases["is_comparison"].all() and set(increases["versus"]) == {"base", "control"}
    assert not frame.loc[frame["versus"].isna(), "is_comparison"].any()


def test_pivots_to_one_row_per_measurement() -> None:
    frame = load_results(RESULTS / "throughput")
    table = frame.pivot_table(
        index=["setting", "method", "phase"], columns="metric", values="value", aggfunc="first"
    )
    assert len(table) == frame["row"].nunique()
    assert table.loc[("256+256", "zip2zip", "decode"), "compression_ratio"] > 1


def _result(rows: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "benchmark": "efficiency",
        "status": "full",
        "config": {},
        "rows": rows,
        "duration_s": 1.0,
        "git": {"commit": "abc", "dirty": False},
        "environment": {"cpu_model": "Test CPU"},
    } | fields


def _metric(value: float | None = 1.5, **extra: Any) -> dict[str, Any]:
    return {"value": value, "unit": "bytes/base_token", "num_samples": 3} | extra


def _write(path: Path, payload: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload), encoding="utf-8")
    return path


def test_integer_keys_stay_integers_and_a_missing_value_keeps_its_reason(tmp_path: Path) -> None:
    rows = [
        {"corpus": "code", "max_subtokens": 3, "metrics": {"gain": _metric()}},
        {"corpus": "math", "metrics": {"gain": _metric(None, reason="no hypertokens")}},
    ]
    frame = load_results(_write(tmp_path / "r.json", _result(rows)))
    assert str(frame["max_subtokens"].dtype) == "Int64" and frame["max_subtokens"].isna().tolist() == [
        False,
        True,
    ]
    assert frame["value"].isna().tolist() == [False, True]
    assert frame["reason"].tolist()[1] == "no hypertokens"
    assert frame["num_samples"].tolist() == [3, 3] and frame["device"].tolist() == ["Test CPU"] * 2


def test_partial_files_only_on_request(tmp_path: Path) -> None:
    source = RESULTS / "efficiency" / "cpu-x86_64-2cores.json"
    _copy(source, tmp_path, "cpu.json")
    _copy(source, tmp_path, "gpu.partial.json")
    assert set(load_results(tmp_path)["run"]) == {"cpu"}
    with_partial = load_results(tmp_path, include_partial=True)
    assert set(zip(with_partial["run"], with_partial["status"], strict=True)) == {
        ("cpu", "full"),
        ("gpu", "partial"),
    }
    assert set(load_results(tmp_path / "gpu.partial.json")["status"]) == {"partial"}  # named: read


def test_unknown_benchmark_names_what_is_there(tmp_path: Path) -> None:
    _copy(RESULTS / "throughput" / "cpu-x86_64-2cores.json", tmp_path / "throughput")
    with pytest.raises(ValueError, match=r"no 'throughpt' results .* throughput\. Did you mean 'throughput'"):
        load_results(tmp_path, benchmark="throughpt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no result files under"):
        load_results(tmp_path / "empty")
    with pytest.raises(ValueError, match="no such file or folder"):
        load_results(tmp_path / "missing.json")


_GOOD_ROW = {"corpus": "code", "metrics": {"gain": _metric()}}


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        pytest.param('{"schema_version": 1, "rows": [', "not readable JSON", id="truncated"),
        pytest.param(_result([_GOOD_ROW], schema_version=7), "schema_version=7", id="other-schema"),
        pytest.param(_result([_GOOD_ROW], status="final"), "status='final'", id="bad-status"),
        pytest.param(_result("rows"), "'rows' is not a list", id="rows-not-a-list"),
        pytest.param(_result([_GOOD_ROW], git=[]), "'git' is not an object", id="git-not-an-object"),
        pytest.param(
            _result([_GOOD_ROW], git={"commit": "abc", "dirty": "yes"}),
            "'git.dirty' is not true",
            id="dirty-not-bool",
        ),
        pytest.param(
            _result([{"metrics": {"gain": {"value": 1.0}}}]),
            "row 0: metric 'gain': no text 'unit'",
            id="no-unit",
        ),
        pytest.param(
            _result([{"metric": "x", "metrics": {"gain": _metric()}}]),
            "names of load_results columns",
            id="clash",
        ),
    ],
)
def test_a_bad_file_is_one_line_naming_it(tmp_path: Path, payload: Any, problem: str) -> None:
    path = _write(tmp_path / "efficiency" / "bad.json", payload)
    _copy(RESULTS / "efficiency" / "cpu-x86_64-2cores.json", tmp_path / "efficiency")
    with pytest.raises(ValueError) as info:
        load_results(tmp_path)
    message = str(info.value)
    assert message.startswith(str(path)) and problem in message and "\n" not in message


def test_result_frame_of_a_result_in_hand_matches_the_file() -> None:
    path = RESULTS / "downstream" / "cpu-x86_64-2cores.json"
    in_hand = result_frame(read_result(path))
    from_file = load_results(path)
    assert in_hand["run"].isna().all()
    columns = ["row", "metric", "value", "model", "task"]
    assert in_hand[columns].equals(from_file[columns])
