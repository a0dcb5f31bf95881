"""The diagnose benchmark: a smoke run's table adds up (the sums themselves: tests/training/test_diagnosis.py)."""

from __future__ import annotations

import pytest

from benchmarks import diagnose
from zip2zip.evaluation.results import read_result


def test_smoke_run_splits_each_code_nll_into_first_and_rest(tmp_path):
    out = tmp_path / "diagnose.json"
    diagnose.main(["--smoke", "--out", str(out)])
    result = read_result(out)
    assert result.status == "smoke" and [row["corpus"] for row in result.rows] == ["wikitext"]
    m = result.rows[0]["metrics"]
    for who in ("student", "teacher"):
        total = m[f"{who}_first_nll"]["value"] + m[f"{who}_rest_nll"]["value"]
        assert m[f"{who}_code_nll"]["value"] == pytest.approx(total)
    assert m["num_steps"]["value"] > 0 and m["first_token_kl"]["value"] > 0
    assert "| wikitext |" in "\n".join(diagnose.summary_lines(result))


def test_a_student_needs_one_teacher():
    with pytest.raises(ValueError, match="zip2zip,control or zip2zip,base"):
        diagnose.Config(models=("base", "control"))
