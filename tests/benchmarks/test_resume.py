"""The one resume/write path of the benchmarks (``benchmarks._cli.ResultFile``): progress goes to a partial
file, ``--out`` is written only when complete, a damaged or foreign saved run is a one-line usage error."""

from __future__ import annotations

import json

import pytest

from benchmarks._cli import ResultFile, new_parser
from zip2zip.evaluation.results import BenchmarkResult, metric, partial_path, read_result

CONFIG = {"seed": 0, "max_length": 1024, "corpora": ("wikitext",)}
MEASURED = {"model": "base", "corpus": "wikitext", "metrics": {"nll_nats": metric(1.0, "nats")}}
DERIVED = {"model": "zip2zip", "versus": "base", "corpus": "wikitext", "metrics": {}}


def _file(out, **kwargs) -> ResultFile:
    options = {
        "benchmark": "perplexity",
        "config": CONFIG,
        "must_match": ["seed", "max_length"],
        "row_keys": ["model", "corpus"],
        **kwargs,
    }
    return ResultFile(new_parser("perplexity", None), out, **options)


def _save(path, config, rows, **extra) -> None:
    path.write_text(json.dumps({"config": config, "rows": rows, **extra}))


def _result(rows) -> BenchmarkResult:
    return BenchmarkResult(
        benchmark="perplexity",
        status="smoke",
        config=CONFIG,
        rows=rows,
        duration_s=1.0,
        skipped=[{"name": "corpus pile", "reason": "hub unreachable"}],
    )


def _usage_error(capsys, call) -> str:
    """Runs ``call``, which must exit with status 2; returns its one-line message."""
    with pytest.raises(SystemExit) as exit_info:
        call()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_nothing_saved_resumes_nothing(tmp_path) -> None:
    assert _file(tmp_path / "out.json").begin(resume=True).rows == []


def test_partial_file_wins_and_derived_rows_are_recomputed(tmp_path) -> None:
    out = tmp_path / "out.json"
    _save(out, CONFIG, [{**MEASURED, "model": "stale"}])
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
    _save(out, {**CONFIG, "max_length": 512}, [MEASURED])
    err = _usage_error(capsys, lambda: _file(out).begin(resume=True))
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
            '{"benchmark": "efficiency", "config": {}, "rows": []}',
            "a 'efficiency' result",
            id="another-benchmark",
        ),
        pytest.param(
            '{"schema_version": 99, "config": {}, "rows": []}', "schema_version=99", id="newer-schema"
        ),
        pytest.param(b"\xff\xfe\x00", "not readable JSON", id="not-utf8"),
    ],
)
def test_damaged_resume_file_is_one_line_naming_it(tmp_path, capsys, content, problem) -> None:
    out = tmp_path / "out.json"
    partial = partial_path(out)
    if isinstance(content, bytes):
        partial.write_bytes(content)
    else:
        partial.write_text(content)
    err = _usage_error(capsys, lambda: _file(out).begin(resume=True))
    assert err.startswith(f"python -m benchmarks.perplexity: error: --resume: {partial} is damaged (")
    assert problem in err and err.endswith("remove it or drop --resume")
    assert not out.exists()


def test_progress_goes_to_the_partial_file_and_the_final_write_removes_it(tmp_path) -> None:
    out = tmp_path / "out.json"
    out.write_text("earlier result\n")
    results = _file(out)
    results.save_progress([MEASURED], {"models": {}})
    assert out.read_text() == "earlier result\n"
    assert _file(out).begin(resume=True).rows == [MEASURED]
    results.write(_result([MEASURED]))
    assert read_result(out).rows == [MEASURED] and not partial_path(out).exists()


def test_a_run_without_rows_writes_nothing_and_exits_1(tmp_path, capsys) -> None:
    out = tmp_path / "out.json"
    out.write_bytes(b"earlier result\n")
    with pytest.raises(SystemExit) as exit_info:
        _file(out).write(_result([]))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "no rows measured" in err and "corpus pile: hub unreachable" in err and str(out) in err
    assert out.read_bytes() == b"earlier result\n"
