"""The one resume/write path of the benchmarks (``benchmarks._result_file.ResultFile``): progress goes to a partial
file, ``--out`` is written only when complete, a damaged, edited or foreign saved run is a one-line usage
error naming the file (and the row)."""

from __future__ import annotations

import json

import pytest
from _usage_errors import usage_error

from benchmarks._result_file import ResultFile
from zip2zip.config_cli import OneLineErrorParser
from zip2zip.evaluation.results import (
    BenchmarkResult,
    metric,
    partial_path,
    read_result,
    row_digest,
    write_result,
)

CONFIG = {"seed": 0, "max_length": 1024, "corpora": ("wikitext",)}
MEASURED = {"model": "base", "corpus": "wikitext", "metrics": {"nll_nats": metric(1.0, "nats")}}
DERIVED = {"model": "zip2zip", "versus": "base", "corpus": "wikitext", "metrics": {}}


def _file(out, **kwargs) -> ResultFile:
    options = {
        "benchmark": "perplexity",
        "config": CONFIG,
        "must_match": ["seed", "max_length"],
        "row_keys": ["model", "corpus"],
        "status": "smoke",
        **kwargs,
    }
    return ResultFile(OneLineErrorParser(prog="python -m benchmarks.perplexity"), out, **options)


def _save(path, config, rows, **extra) -> None:
    """A saved run as ``save_progress`` writes it: each row with its digest (unless ``extra`` says otherwise)."""
    digests = [row_digest(config, row) for row in rows]
    path.write_text(json.dumps({"config": config, "rows": rows, "row_sha256": digests, **extra}))


def _result(rows) -> BenchmarkResult:
    return BenchmarkResult(
        benchmark="perplexity",
        status="smoke",
        config=CONFIG,
        rows=rows,
        duration_s=1.0,
        skipped=[{"name": "corpus pile", "reason": "hub unreachable"}],
    )


def test_nothing_saved_resumes_nothing(tmp_path) -> None:
    assert _file(tmp_path / "out.json").begin(resume=True).rows == []


def test_partial_file_wins_and_derived_rows_are_recomputed(tmp_path) -> None:
    out = tmp_path / "out.json"
    _save(out, CONFIG, [{**MEASURED, "model": "stale"}], benchmark="perplexity")
    _save(partial_path(out), CONFIG, [MEASURED, DERIVED], assets={"models": {"base": {"name": "x"}}})
    saved = _file(out).begin(resume=True)
    assert saved.rows == [MEASURED] and saved.assets == {"models": {"base": {"name": "x"}}}


def test_finished_result_is_resumed_when_no_partial_file(tmp_path) -> None:
    out = tmp_path / "out.json"
    _save(out, CONFIG, [MEASURED, DERIVED], benchmark="perplexity", schema_version=1)
    assert _file(out).begin(resume=True).rows == [MEASURED]


def test_without_resume_nothing_is_kept_and_a_leftover_partial_is_mentioned(tmp_path, capsys) -> None:
    out = tmp_path / "out.json"
    _save(partial_path(out), CONFIG, [MEASURED])
    assert _file(out).begin(resume=False).rows == []
    assert "pass --resume to continue it" in capsys.readouterr().err


def test_saved_run_with_another_setup_is_a_usage_error(tmp_path, capsys) -> None:
    out = tmp_path / "out.json"
    _save(out, {**CONFIG, "max_length": 512}, [MEASURED], benchmark="perplexity")
    err = usage_error(capsys, lambda: _file(out).begin(resume=True))
    assert "another max_length" in err and str(out) in err


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param('{"config": {"seed": 0}, "rows": [{"mod', "not readable JSON", id="truncated"),
        pytest.param("[1, 2]", "a JSON list, not an object", id="not-an-object"),
        pytest.param('{"config": {}, "rows": 3}', "'rows' is not a list", id="rows-not-a-list"),
        pytest.param(
            '{"config": {}, "rows": [{"metrics": {}}]}', "corpus, metrics, model", id="row-without-keys"
        ),
        pytest.param('{"rows": []}', "no 'config' object", id="no-config"),
        pytest.param(
            '{"schema_version": 99, "config": {}, "rows": []}', "schema_version=99", id="newer-schema"
        ),
        pytest.param(b"\xff\xfe\x00", "not readable JSON", id="not-utf8"),
        pytest.param("[" * 100_000, "not readable JSON", id="deeply-nested"),
    ],
)
def test_damaged_resume_file_is_one_line_naming_it(tmp_path, capsys, content, problem) -> None:
    out = tmp_path / "out.json"
    partial = partial_path(out)
    if isinstance(content, bytes):
        partial.write_bytes(content)
    else:
        partial.write_text(content)
    err = usage_error(capsys, lambda: _file(out).begin(resume=True))
    assert err.startswith(f"python -m benchmarks.perplexity: error: --resume: {partial} is damaged (")
    assert problem in err and err.endswith("remove it or drop --resume")
    assert not out.exists()


def test_progress_goes_to_the_partial_file_and_the_final_write_removes_it(tmp_path) -> None:
    out = tmp_path / "out.json"
    write_result(out, _result([{**MEASURED, "model": "earlier"}]))
    earlier = out.read_bytes()
    results = _file(out)
    results.save_progress([MEASURED], {"models": {}})
    assert out.read_bytes() == earlier
    assert _file(out).begin(resume=True).rows == [MEASURED]
    results.write(_result([MEASURED]))
    assert read_result(out).rows == [MEASURED] and not partial_path(out).exists()


def test_a_run_without_rows_writes_nothing_and_exits_1(tmp_path, capsys) -> None:
    out = tmp_path / "out.json"
    write_result(out, _result([MEASURED]))
    earlier = out.read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        _file(out).write(_result([]))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "no rows measured" in err and "corpus pile: hub unreachable" in err and str(out) in err
    assert out.read_bytes() == earlier


EDITS = [
    pytest.param(
        lambda row: {**row, "metrics": "nll 1.0"}, "'metrics' is a JSON string", id="metrics-string"
    ),
    pytest.param(lambda row: {**row, "metrics": 1.0}, "'metrics' is a JSON number", id="metrics-number"),
    pytest.param(
        lambda row: {**row, "metrics": {"nll_nats": "1.0"}},
        "metric 'nll_nats': a JSON string",
        id="metric-string",
    ),
    pytest.param(
        lambda row: {**row, "metrics": {"nll_nats": {**metric(1.0, "nats"), "value": "1.0"}}},
        "metric 'nll_nats': value '1.0' is not a number",
        id="value-string",
    ),
    pytest.param(
        lambda row: {**row, "metrics": {"nll_nats": metric(float("nan"), "nats")}},
        "metrics.nll_nats.value is not a finite number",
        id="value-nan",
    ),
    pytest.param(
        lambda row: {**row, "metrics": {"nll_nats": {"value": None, "unit": "nats", "num_samples": 3}}},
        "metric 'nll_nats': value null without a 'reason'",
        id="null-without-reason",
    ),
]


@pytest.mark.parametrize("saved", ["partial", "finished"])
@pytest.mark.parametrize(("edit", "problem"), EDITS)
def test_a_row_that_is_not_a_row_is_refused_naming_file_and_row(
    tmp_path, capsys, saved, edit, problem
) -> None:
    """Even with a matching digest (a benchmark that wrote it, or an edit that recomputed it), a row must be a
    row: metrics an object of metric objects with finite numbers."""
    out = tmp_path / "out.json"
    source = partial_path(out) if saved == "partial" else out
    extra = {} if saved == "partial" else {"benchmark": "perplexity", "schema_version": 1}
    _save(source, CONFIG, [MEASURED, edit({**MEASURED, "corpus": "pile"})], **extra)
    err = usage_error(capsys, lambda: _file(out).begin(resume=True))
    assert err.startswith(f"python -m benchmarks.perplexity: error: --resume: {source} is damaged (")
    assert "row 1 (model=base, corpus=pile): " + problem in err, err
    assert err.endswith("remove it or drop --resume")


@pytest.mark.parametrize(
    "value", [pytest.param(999.0, id="edited-999"), pytest.param(float("nan"), id="edited-nan")]
)
def test_a_row_edited_after_it_was_written_is_refused(tmp_path, capsys, value) -> None:
    """The issue's edit: a kept row's value changed by hand; its digest no longer matches (or NaN: not a row)."""
    out = tmp_path / "out.json"
    results = _file(out)
    results.save_progress([MEASURED, {**MEASURED, "corpus": "pile"}])
    data = json.loads(partial_path(out).read_text())
    data["rows"][1]["metrics"]["nll_nats"]["value"] = value
    partial_path(out).write_text(json.dumps(data))
    err = usage_error(capsys, lambda: _file(out).begin(resume=True))
    assert f"--resume: {partial_path(out)} is damaged (row 1 (model=base, corpus=pile)" in err


def test_a_config_edited_to_match_is_refused(tmp_path, capsys) -> None:
    """Rows are digested with the config they were measured under: editing the saved config to pass
    ``must_match`` does not smuggle another setup's rows in."""
    out = tmp_path / "out.json"
    _file(out, config={**CONFIG, "max_length": 512}).save_progress([MEASURED])
    data = json.loads(partial_path(out).read_text())
    data["config"]["max_length"] = 1024
    partial_path(out).write_text(json.dumps(data))
    err = usage_error(capsys, lambda: _file(out).begin(resume=True))
    assert "row 0 (model=base, corpus=wikitext) does not match its sha256" in err


@pytest.mark.parametrize(
    "digests",
    [pytest.param(None, id="absent"), pytest.param([], id="too-few"), pytest.param("abc", id="string")],
)
def test_rows_without_their_digests_are_not_kept(tmp_path, capsys, digests) -> None:
    out = tmp_path / "out.json"
    _save(partial_path(out), CONFIG, [MEASURED], row_sha256=digests)
    err = usage_error(capsys, lambda: _file(out).begin(resume=True))
    assert "'row_sha256' does not hold one digest per row (1 rows)" in err


def test_a_finished_result_carries_its_digests_and_resumes(tmp_path) -> None:
    out = tmp_path / "out.json"
    write_result(out, _result([MEASURED, DERIVED]))
    data = json.loads(out.read_text())
    assert data["row_sha256"] == [row_digest(CONFIG, MEASURED), row_digest(CONFIG, DERIVED)]
    assert _file(out).begin(resume=True).rows == [MEASURED]


def test_progress_digests_each_row_once_and_resumes(tmp_path, monkeypatch) -> None:
    """Saving after every cell digests only the new rows; the partial file still resumes every row."""
    import benchmarks._result_file as result_file

    calls = []
    monkeypatch.setattr(result_file, "row_digest", lambda c, r: calls.append(r) or row_digest(c, r))
    results = _file(tmp_path / "ppl.json")
    second = {**MEASURED, "corpus": "mc4"}
    results.save_progress([MEASURED])
    results.save_progress([MEASURED, second])
    assert calls == [MEASURED, second]
    assert _file(tmp_path / "ppl.json").begin(resume=True).rows == [MEASURED, second]
