"""Every benchmark has what ``benchmarks/README.md`` asks of a new one: its nox session, its regression preset
and baseline, its renderer (or a stated reason why it has none), its row in the README's results table, and a
script short enough to read in one sitting."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from benchmarks.regression.presets import PRESETS
from paper_tables.tables import TABLES

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py") if not p.stem.startswith("_"))
# Benchmarks whose output is printed, not a paper table, and why.
NO_RENDERER = {
    "codec": "codec speed: no paper table, the summary is printed",
    "decode_step": "per-step model overhead: no paper table, the summary is printed",
    "diagnose": "a training diagnostic: no paper table, the summary is printed",
}
# Benchmarks without a regression preset, and why.
NO_REGRESSION = {
    "diagnose": "reads the committed checkpoints, not a paper number; its sums are tested against the training "
    "loss and a plain forward pass (tests/training/test_diagnosis.py)",
}


def _nox_sessions() -> set[str]:
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("nox.session" in ast.unparse(d) for d in node.decorator_list)
    }


def test_the_checklist_sees_every_benchmark() -> None:
    assert {"efficiency", "codec", "throughput", "perplexity", "downstream"} <= set(BENCHMARKS)
    assert set(NO_RENDERER) <= set(BENCHMARKS)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_a_benchmark_has_its_nox_session(name: str) -> None:
    assert name in _nox_sessions(), f"add `nox -s {name}` to noxfile.py (see benchmarks/README.md)"


@pytest.mark.parametrize("name", BENCHMARKS)
def test_a_benchmark_has_its_regression_preset_and_baseline(name: str) -> None:
    if name in NO_REGRESSION:
        assert name not in PRESETS
        return
    assert name in PRESETS, f"add a preset for {name} to benchmarks/regression/presets.py"
    assert (ROOT / "results" / "regression" / f"{name}.json").is_file(), (
        f"no baseline for {name}: nox -s regression -- --update-baselines, then commit it"
    )


@pytest.mark.parametrize("name", BENCHMARKS)
def test_a_benchmark_has_its_renderer_or_a_reason(name: str) -> None:
    if name in NO_RENDERER:
        assert name not in TABLES
        return
    assert name in TABLES, f"add {name} to paper_tables/tables.py with its renderer"
    assert (ROOT / "paper_tables" / f"{name}.py").is_file()


@pytest.mark.parametrize("name", BENCHMARKS)
def test_a_benchmark_script_reads_in_one_sitting(name: str) -> None:
    """Under 300 lines: the docstring, Config, ROW_KEYS, run and main; its own pieces go to _<name>_<what>.py."""
    num_lines = len((ROOT / "benchmarks" / f"{name}.py").read_text(encoding="utf-8").splitlines())
    assert num_lines < 300, (
        f"benchmarks/{name}.py has {num_lines} lines: move a piece out (benchmarks/README.md)"
    )


@pytest.mark.parametrize("name", BENCHMARKS)
def test_a_benchmark_is_in_the_readme_results_table(name: str) -> None:
    assert f"`nox -s {name}`" in (ROOT / "README.md").read_text(encoding="utf-8")
