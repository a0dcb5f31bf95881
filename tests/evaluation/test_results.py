"""Result files: schema checks, atomic writes, refusal of full results from a dirty checkout."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from zip2zip.evaluation.results import (
    BenchmarkResult,
    git_info,
    metric,
    read_result,
    row_digest,
    row_problem,
    write_json_atomic,
    write_result,
)

ROOT = Path(__file__).resolve().parents[2]


def make(status: str = "smoke") -> BenchmarkResult:
    rows = [
        {"corpus": "code", "metrics": {"bytes_per_base_token": metric(np.float64(4.1), "bytes/base_token")}}
    ]
    return BenchmarkResult(
        benchmark="efficiency", status=status, config={"seed": 0}, rows=rows, duration_s=1.5
    )


def test_round_trip_records_environment_and_git(tmp_path: Path) -> None:
    path = write_result(tmp_path / "r" / "x.json", make())
    text = path.read_text()
    assert text.endswith("\n")
    data = json.loads(text)
    assert list(data) == sorted(data)  # sorted keys: committed results diff cleanly
    assert data["environment"]["packages"]["numpy"] == np.__version__
    assert "commit" in data["git"] and data["created_utc"]
    again = read_result(path)
    assert again.rows[0]["metrics"]["bytes_per_base_token"]["value"] == 4.1


def test_full_result_from_dirty_tree_is_refused(tmp_path: Path) -> None:
    result = make("full")
    result.git = {"commit": "abc", "dirty": True}
    with pytest.raises(ValueError, match="uncommitted changes"):
        write_result(tmp_path / "x.json", result)
    assert not (tmp_path / "x.json").exists()
    write_result(tmp_path / "x.json", result, allow_dirty=True)
    assert read_result(tmp_path / "x.json").git["dirty"] is True


def test_outputs_of_the_jobs_do_not_make_a_checkout_dirty(tmp_path: Path) -> None:
    """A fresh clone must stay clean while `nox -s efficiency perplexity` rewrites committed results."""
    files = ["results/efficiency/cpu.json", "paper_tables/out/efficiency.md", "zip2zip/codec/lzw_codec.py"]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("v1\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], cwd=tmp_path, check=True)
    for name in files[:2]:
        (tmp_path / name).write_text("v2\n")
    assert git_info(tmp_path)["dirty"] is False
    (tmp_path / files[2]).write_text("v2\n")
    assert git_info(tmp_path)["dirty"] is True


def test_reader_rejects_other_schema_versions_and_unknown_keys(tmp_path: Path) -> None:
    path = write_result(tmp_path / "x.json", make())
    data = json.loads(path.read_text())
    write_json_atomic(path, {**data, "schema_version": 99})
    with pytest.raises(ValueError, match="schema_version=99"):
        read_result(path)
    write_json_atomic(path, {**data, "extra": 1})
    with pytest.raises(ValueError, match=r"unknown keys \['extra'\]"):
        read_result(path)


def test_atomic_write_leaves_old_file_when_serialisation_fails(tmp_path: Path) -> None:
    path = write_json_atomic(tmp_path / "x.json", {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temp file left behind


def test_metric_without_value_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="say why"):
        metric(None, "bits/byte")
    assert metric(None, "bits/byte", reason="gated dataset")["reason"] == "gated dataset"


def test_bad_status_and_name() -> None:
    with pytest.raises(ValueError, match="status='draft'"):
        BenchmarkResult(benchmark="x", status="draft", config={}, rows=[], duration_s=0)
    with pytest.raises(ValueError, match="snake_case"):
        BenchmarkResult(benchmark="token efficiency", status="full", config={}, rows=[], duration_s=0)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"schema_version": 1, "rows": [', "not readable JSON"),
        ("[]", "not a result object"),
        (
            '{"schema_version": 1, "benchmark": "efficiency"}',
            "missing keys ['config', 'duration_s', 'rows', 'status']",
        ),
    ],
)
def test_read_result_names_the_file_and_the_problem(tmp_path, content, problem) -> None:
    path = tmp_path / "damaged.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=re.escape(f"{path}: ")) as exc_info:
        read_result(path)
    assert problem in str(exc_info.value)


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (ROOT / "results").glob("*/*.json") if p.parent.name != "regression"),
    ids=lambda p: p.parent.name,
)
def test_committed_results_still_load_and_their_rows_are_rows(path: Path) -> None:
    """Written before rows carried digests: they load as they are, and every row passes the row schema."""
    result = read_result(path)
    assert result.rows and all(row_problem(row) is None for row in result.rows)


def test_written_results_carry_a_digest_per_row(tmp_path: Path) -> None:
    result = make()
    data = json.loads(write_result(tmp_path / "x.json", result).read_text())
    assert data["row_sha256"] == [row_digest({"seed": 0}, json.loads(json.dumps(data["rows"][0])))]
    assert read_result(tmp_path / "x.json").row_sha256 == data["row_sha256"]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        pytest.param([], "a JSON array, not an object", id="not-an-object"),
        pytest.param({"corpus": "code"}, "'metrics' is a JSON null", id="no-metrics"),
        pytest.param(
            {"metrics": {"x": {"value": True, "unit": "u"}}}, "value True is not a number", id="bool"
        ),
        pytest.param({"metrics": {"x": {"value": 1}}}, "no text 'unit'", id="no-unit"),
        pytest.param({"metrics": {"x": {"unit": "u"}}}, "no 'value'", id="no-value"),
        pytest.param(
            {"metrics": {"x": {"value": 1, "unit": "u", "num_samples": -1}}}, "num_samples -1", id="count"
        ),
        pytest.param({"metrics": {"x": {"value": 1, "unit": "u", "stdev": -0.5}}}, "stdev -0.5", id="stdev"),
        pytest.param(
            {"metrics": {"x": {"value": 1, "unit": "u", "values": [1, "2"]}}}, "values", id="values"
        ),
        pytest.param({"metrics": {"x": {"value": 1, "unit": "u", "ci95": [1.0]}}}, "ci95 has 1", id="ci95"),
        pytest.param({"metrics": {}, "num_docs": float("inf")}, "num_docs is not a finite", id="inf-outside"),
        pytest.param(
            {"metrics": {"x": metric(1.0, "s", values=[1.0, float("nan")])}},
            "metrics.x.values[1] is not a finite number",
            id="nan-in-values",
        ),
    ],
)
def test_row_problem_names_what_is_wrong(row: object, problem: str) -> None:
    found = row_problem(row)
    assert found is not None and problem in found, found


def test_a_metric_without_a_value_needs_its_reason() -> None:
    assert row_problem({"metrics": {"x": metric(None, "s", reason="hub unreachable")}}) is None
