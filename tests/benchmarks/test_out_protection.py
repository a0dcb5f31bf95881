"""``--out`` never replaces what it must not (``benchmarks._result_file.out_problem``): another benchmark's file, a
full run from a smoke run, a committed result from anything but a full run of its benchmark (unless
``--force``), a regression baseline from anything but ``--update-baselines``.

Every "committed" file here is a copy of a committed result in a temporary git repository: the real
``results/`` is only read.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from _usage_errors import usage_error

from benchmarks._result_file import out_problem
from benchmarks.regression import cli as regression_cli
from zip2zip.evaluation.results import partial_path, write_json_atomic

ROOT = Path(__file__).resolve().parents[2]
RESULT = "cpu-x86_64-2cores.json"
BENCHMARKS = ("efficiency", "codec", "decode_step", "throughput", "perplexity", "downstream")


def _git(repo: Path, *command: str) -> None:
    identity = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *identity, *command], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git checkout whose ``results/`` holds copies of the committed full results and baselines."""
    repo = tmp_path / "repo"
    for name in BENCHMARKS:
        (repo / "results" / name).mkdir(parents=True)
        shutil.copyfile(ROOT / "results" / name / RESULT, repo / "results" / name / RESULT)
    shutil.copytree(ROOT / "results" / "regression", repo / "results" / "regression")
    _git(repo, "init", "-q")
    _git(repo, "add", "results")
    _git(repo, "commit", "-qm", "results")
    return repo


def _main(benchmark: str) -> Callable[[list[str]], None]:
    return importlib.import_module(f"benchmarks.{benchmark}").main


@pytest.mark.parametrize("name", BENCHMARKS)  # not "benchmark": pytest-benchmark's fixture
def test_a_smoke_run_does_not_replace_a_committed_full_result(repo, capsys, name) -> None:
    """The issue's reproduction: ``python -m benchmarks.<name> --smoke --out results/<name>/<tag>.json``."""
    path = repo / "results" / name / RESULT
    before = path.read_bytes()
    err = usage_error(capsys, lambda: _main(name)(["--smoke", "--out", str(path)]))
    assert f"{path} holds a full {name} run; a smoke run does not replace it" in err
    assert path.read_bytes() == before and not partial_path(path).exists()


@pytest.mark.parametrize(
    ("name", "target", "reason"),
    [
        pytest.param("codec", "efficiency/" + RESULT, "not in results/codec/", id="codec-into-efficiency"),
        pytest.param(
            "efficiency", "regression/efficiency.json", "regression baselines", id="efficiency-baseline"
        ),
        pytest.param(
            "efficiency", "regression/codec.json", "regression baselines", id="efficiency-codec-baseline"
        ),
    ],
)
@pytest.mark.parametrize("force", [False, True], ids=["", "force"])
def test_a_benchmark_never_writes_another_ones_file(repo, capsys, name, target, reason, force) -> None:
    path = repo / "results" / target
    before = path.read_bytes()
    argv = ["--smoke", "--out", str(path), *(["--force"] if force else [])]
    err = usage_error(capsys, lambda: _main(name)(argv))
    assert reason in err and str(path) in err
    assert path.read_bytes() == before


def test_force_lets_a_smoke_run_replace_a_full_result(repo, capsys) -> None:
    path = repo / "results" / "efficiency" / RESULT
    _main("efficiency")(["--smoke", "--force", "--out", str(path)])
    assert json.loads(path.read_text())["status"] == "smoke"


def test_regression_report_is_never_written_into_results(repo, capsys) -> None:
    path = repo / "results" / "codec" / RESULT
    before = path.read_bytes()

    def must_not_run(*_: object) -> None:
        raise AssertionError("a preset ran although --out was refused")

    err = usage_error(
        capsys, lambda: regression_cli.main(["--out", str(path)], runner=must_not_run, repo=repo)
    )
    assert "inside results/" in err
    assert path.read_bytes() == before


# ---- the rule itself, for the cases a smoke command line cannot show -----------------------------------


def _result(path: Path, benchmark: str, status: str) -> Path:
    write_json_atomic(path, {"benchmark": benchmark, "status": status, "config": {}, "rows": []})
    return path


def test_a_full_run_replaces_its_own_committed_result(repo) -> None:
    path = repo / "results" / "efficiency" / RESULT
    assert out_problem(path, benchmark="efficiency", status="full", force=False) is None
    new = repo / "results" / "efficiency" / "cuda-x86_64-8cores.json"
    assert out_problem(new, benchmark="efficiency", status="full", force=False) is None


@pytest.mark.parametrize("status", ["full", "smoke"])
def test_never_even_full_or_forced(repo, status) -> None:
    """Another benchmark's folder or file, the baselines, a file that is not a result: refused whatever the run."""
    results = repo / "results"
    (repo / "notes.txt").write_text("my notes\n")
    cases = {
        results / "regression" / "new.json": "regression baselines",
        results / "codec" / "new.json": "not in results/efficiency/",
        results / "efficiency.json": "not in results/efficiency/",
        repo / "notes.txt": "is not a efficiency result",
        _result(repo / "codec.json", "codec", "smoke"): "holds a codec result, not efficiency",
    }
    for path, reason in cases.items():
        problem = out_problem(path, benchmark="efficiency", status=status, force=True)
        assert problem is not None and reason in problem and str(path) in problem, (path, problem)


def test_a_link_to_a_committed_result_is_the_result(repo, tmp_path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(repo / "results" / "codec" / RESULT)
    problem = out_problem(link, benchmark="efficiency", status="full", force=False)
    assert problem is not None and "not in results/efficiency/" in problem


def test_smoke_over_smoke_is_fine_unless_committed(repo, tmp_path) -> None:
    loose = _result(tmp_path / "smoke.json", "efficiency", "smoke")
    assert out_problem(loose, benchmark="efficiency", status="smoke", force=False) is None
    committed = _result(repo / "results" / "efficiency" / "committed-smoke.json", "efficiency", "smoke")
    _git(repo, "add", "-f", str(committed))
    _git(repo, "commit", "-qm", "a committed smoke result")
    problem = out_problem(committed, benchmark="efficiency", status="smoke", force=False)
    assert problem is not None and "is committed to git; only a full efficiency run replaces it" in problem
    assert out_problem(committed, benchmark="efficiency", status="smoke", force=True) is None
    assert out_problem(committed, benchmark="efficiency", status="full", force=False) is None


def test_an_empty_file_holds_nothing_to_lose(tmp_path) -> None:
    (tmp_path / "empty.json").touch()
    assert out_problem(tmp_path / "empty.json", benchmark="efficiency", status="smoke", force=False) is None


def test_partial_files_of_a_full_run_or_another_benchmark_are_kept(tmp_path) -> None:
    """An interrupted full run's progress is a full run too; a partial of another benchmark is not ours."""
    out = tmp_path / "eff.json"
    _result(partial_path(out), "efficiency", "full")
    problem = out_problem(out, benchmark="efficiency", status="smoke", force=False)
    assert problem is not None and f"{partial_path(out)} holds a full efficiency run" in problem
    assert out_problem(out, benchmark="efficiency", status="smoke", force=True) is None
    _result(partial_path(out), "codec", "full")
    problem = out_problem(out, benchmark="efficiency", status="full", force=True)
    assert problem is not None and "holds a codec result, not efficiency" in problem
    partial_path(out).write_text('{"rows": [')  # unreadable: --resume reports it, a fresh run replaces it
    assert out_problem(out, benchmark="efficiency", status="smoke", force=False) is None
