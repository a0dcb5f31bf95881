"""``python -m benchmarks.regression`` end to end, with hand-made runs in place of the benchmarks: a perturbed
metric fails the session with a table naming it, baselines are refused from a dirty checkout, a crashed run
or a stale baseline fails, and the rendered-tables check catches a changed file."""

from __future__ import annotations

import importlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from benchmarks.regression import cli
from benchmarks.regression.baselines import dirty_tree_problem, write_baseline
from benchmarks.regression.compare import compare
from benchmarks.regression.metrics import result_metrics
from benchmarks.regression.presets import PRESETS, Outcome, Preset
from benchmarks.regression.rendering import file_hashes
from zip2zip.provenance import LOCK_FILE

ROOT = Path(__file__).resolve().parents[2]
BITS = "perplexity/model=zip2zip,corpus=wikitext/bits_per_byte"


def _perplexity_result(bits_per_byte: float) -> dict[str, Any]:
    metrics = {
        "bits_per_byte": {"value": bits_per_byte, "unit": "bits/byte"},
        "num_bytes": {"value": 2941, "unit": "bytes"},
        "num_steps": {"value": 610, "unit": "steps"},
    }
    row = {"model": "zip2zip", "corpus": "wikitext", "corpus_source": "offline", "metrics": metrics}
    return {"benchmark": "perplexity", "rows": [row], "assets": {"corpora": {"wikitext": "sha"}}}


def _runner(result: dict[str, Any], returncode: int = 0) -> Any:
    """A runner that 'runs' a preset by writing ``result`` where the preset's output goes."""

    def run(preset: Preset, folder: Path) -> Outcome:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / preset.output).write_text(json.dumps(result), encoding="utf-8")
        log = folder / "run.log"
        log.write_text("loading model\nTraceback: something broke\n", encoding="utf-8")
        return Outcome(returncode, 1.5, log)

    return run


@pytest.fixture
def baselines(tmp_path: Path) -> Path:
    """A baseline folder holding a perplexity baseline with bits/byte 1.025."""
    folder = tmp_path / "baselines"
    result = _perplexity_result(1.025)
    write_baseline(
        folder / "perplexity.json",
        name="perplexity",
        command=PRESETS["perplexity"].recorded_command(),
        metrics=result_metrics(result),
        assets=result["assets"],
        repo=ROOT,
    )
    return folder


def _main(baselines: Path, runner: Any, *extra: str) -> None:
    argv = [
        "--only",
        "perplexity",
        "--baselines",
        str(baselines),
        "--out",
        str(baselines.parent / "report.json"),
    ]
    cli.main([*argv, *extra], runner=runner)


def test_unchanged_run_passes_and_writes_the_report(
    baselines: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _main(baselines, _runner(_perplexity_result(1.025)))
    out = capsys.readouterr().out
    assert "regression check passed: 3 metrics" in out
    report = json.loads((baselines.parent / "report.json").read_text(encoding="utf-8"))
    assert report["passed"] is True and len(report["checks"]) == 3


def test_shifted_bits_per_byte_fails_with_a_table_naming_it(
    baselines: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        _main(baselines, _runner(_perplexity_result(1.025 * 1.01)))
    assert exc.value.code == 1
    out = capsys.readouterr().out
    table_line = next(line for line in out.splitlines() if line.startswith(BITS))
    assert table_line.split()[1:] == ["1.025", "1.03525", "rel", "0.0001,", "abs", "1e-09", "FAIL"]
    assert f"REGRESSION: 1 of 3 metrics failed:\n  FAIL: {BITS}" in out
    report = json.loads((baselines.parent / "report.json").read_text(encoding="utf-8"))
    assert report["passed"] is False and report["num_failed"] == 1


def test_metric_missing_from_the_run_fails(baselines: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _perplexity_result(1.025)
    del result["rows"][0]["metrics"]["num_steps"]
    with pytest.raises(SystemExit):
        _main(baselines, _runner(result))
    assert "MISSING: perplexity/model=zip2zip,corpus=wikitext/num_steps" in capsys.readouterr().out


def test_crashed_run_fails_and_shows_its_log(baselines: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _main(baselines, _runner(_perplexity_result(1.025), returncode=3))
    out = capsys.readouterr().out
    assert "perplexity failed (exit status 3)" in out and "Traceback: something broke" in out
    assert "FAIL: perplexity/run/exit_status" in out


def test_missing_or_stale_baseline_fails(baselines: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = baselines / "perplexity.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["command"] = [*data["command"], "--limit", "9"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SystemExit):
        _main(baselines, _runner(_perplexity_result(1.025)))
    assert "the preset's command changed" in capsys.readouterr().out
    path.unlink()
    with pytest.raises(SystemExit):
        _main(baselines, _runner(_perplexity_result(1.025)))
    assert "run --update-baselines" in capsys.readouterr().out


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _must_not_run(preset: Preset, folder: Path) -> Outcome:
    raise AssertionError(f"{preset.name} ran although the command was refused")


def test_update_baselines_is_refused_on_a_dirty_checkout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "code.py").write_text("x = 1\n", encoding="utf-8")
    _git(repo, "add", "code.py")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "code")
    assert dirty_tree_problem(repo) is None
    (repo / "code.py").write_text("x = 2\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        cli.main(["--update-baselines"], runner=_must_not_run, repo=repo)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "uncommitted changes: commit first" in err


def test_untracked_files_make_the_checkout_dirty_for_baselines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new module the runs import is not in the commit a baseline records; ignored files and the jobs'
    outputs (results/) do not count."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / ".gitignore").write_text("*.log\n", encoding="utf-8")
    _git(repo, "add", ".gitignore")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "ignore")
    (repo / "run.log").write_text("ignored\n", encoding="utf-8")
    (repo / "results" / "regression").mkdir(parents=True)
    (repo / "results" / "regression" / "new.json").write_text("{}\n", encoding="utf-8")
    assert dirty_tree_problem(repo) is None
    (repo / "helper.py").write_text("x = 1\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        cli.main(["--update-baselines"], runner=_must_not_run, repo=repo)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "untracked files (helper.py)" in err


def test_work_dir_inside_results_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--work-dir", str(ROOT / "results" / "scratch")])
    assert exc.value.code == 2 and "inside results/" in capsys.readouterr().err


def test_rendered_tables_must_match_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    committed, rendered = tmp_path / "committed", tmp_path / "rendered"
    for folder in (committed, rendered):
        folder.mkdir()
        (folder / "perplexity.md").write_text("| model | ppl |\n", encoding="utf-8")
    (committed / "old.tex").write_text("gone\n", encoding="utf-8")
    (rendered / "perplexity.md").write_text("| model | ppl  |\n", encoding="utf-8")
    (rendered / "new.png").write_bytes(b"\x89PNG")
    verdicts = {c.metric: c.verdict for c in compare(file_hashes(committed), file_hashes(rendered))}
    assert verdicts == {
        "paper_tables/perplexity.md/sha256": "FAIL",
        "paper_tables/old.tex/sha256": "MISSING",
        "paper_tables/new.png/sha256": "EXTRA",
    }


def _in_process(preset: Preset, folder: Path) -> Outcome:
    """Run the preset's benchmark in this process (so a monkeypatch reaches it)."""
    folder.mkdir(parents=True, exist_ok=True)
    importlib.import_module(preset.module).main(preset.command(folder)[3:])
    log = folder / "run.log"
    log.write_text("", encoding="utf-8")
    return Outcome(0, 0.0, log)


@pytest.mark.slow
def test_efficiency_preset_with_a_perturbed_codec_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real efficiency preset against the committed baseline, with a codec whose codebook holds an
    eighth of the entries it is given: the hypertoken counts change, and the session says which."""
    from zip2zip.codec.lzw_codec import LZWCodec
    from zip2zip.evaluation import token_efficiency

    def smaller_codebook(*args: Any, max_codebook_size: int, **kwargs: Any) -> LZWCodec:
        return LZWCodec(*args, max_codebook_size=max_codebook_size // 8, **kwargs)

    monkeypatch.setattr(token_efficiency, "LZWCodec", smaller_codebook)
    with pytest.raises(SystemExit) as exc:
        cli.main(["--only", "efficiency", "--out", str(tmp_path / "report.json")], runner=_in_process)
    assert exc.value.code == 1
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  FAIL: ")]
    cell = "efficiency/tokenizer=llama3,corpus=code,setting=main,max_subtokens=3,max_codebook_size=2048"
    assert any(line.startswith(f"  FAIL: {cell}/num_hypertokens_created") for line in failed)


def test_the_session_says_when_the_environment_is_not_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / LOCK_FILE
    lock.parent.mkdir()
    lock.write_text("not-a-package-anyone-installed==1.0\n")
    line = cli._environment_line(tmp_path)
    assert line.startswith(f"environment: NOT the lock {LOCK_FILE}")
    assert "  not-a-package-anyone-installed==1.0 is in the lock but not installed" in line.splitlines()
    assert "not compared with the lock" in cli._environment_line(tmp_path / "elsewhere")
