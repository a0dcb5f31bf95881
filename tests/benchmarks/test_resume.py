"""``--resume`` of the long benchmarks: which saved rows are kept, and when a saved run is refused."""

import argparse
import json

import pytest

from benchmarks._cli import partial_path, rows_to_resume

CONFIG = {"seed": 0, "max_length": 1024}
MEASURED = {"model": "base", "corpus": "wikitext"}
DERIVED = {"model": "zip2zip", "versus": "base", "corpus": "wikitext"}


def _save(path, config, rows):
    path.write_text(json.dumps({"config": config, "rows": rows}))


def test_nothing_saved_resumes_nothing(tmp_path):
    assert rows_to_resume(argparse.ArgumentParser(), tmp_path / "out.json", CONFIG, ["seed"]) == []


def test_partial_file_wins_and_derived_rows_are_recomputed(tmp_path):
    out = tmp_path / "out.json"
    _save(out, CONFIG, [{"model": "stale"}])
    _save(partial_path(out), CONFIG, [MEASURED, DERIVED])
    assert rows_to_resume(argparse.ArgumentParser(), out, CONFIG, ["seed"]) == [MEASURED]


def test_finished_result_is_resumed_when_no_partial_file(tmp_path):
    out = tmp_path / "out.json"
    _save(out, CONFIG, [MEASURED, DERIVED])
    assert rows_to_resume(argparse.ArgumentParser(), out, CONFIG, ["seed"]) == [MEASURED]


def test_saved_run_with_another_setup_is_a_usage_error(tmp_path, capsys):
    out = tmp_path / "out.json"
    _save(out, {**CONFIG, "max_length": 512}, [MEASURED])
    with pytest.raises(SystemExit):
        rows_to_resume(argparse.ArgumentParser(), out, CONFIG, ["seed", "max_length"])
    assert "another max_length" in capsys.readouterr().err
