"""Run times are measured and stated once: the README's "Run times on the 2-core CPU" table. Each figure there
matches the file it names; sessions and benchmark docstrings refer to the table instead of restating a time.

(A whole-tree check; it sits beside the renderers because the table is read from the same result files.)
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEADING = "### Run times on the 2-core CPU"
_TIME = re.compile(r"\d+(\.\d+)?\s*(min|minutes?|h|hours?)\b")  # "~15 min", "1 h"
_SOURCE = re.compile(r"`(?P<key>[\w.]+)` of `(?P<path>[^`]+\.json)`")


def _table_rows() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(HEADING) :].split("\n#", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| `nox -s ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def _stated(seconds: float) -> str:
    """How the table states a time: ``40 s`` under two minutes, else whole minutes (``11 min``)."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _nox_docstrings() -> dict[str, str]:
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    found = {"noxfile.py": ast.get_docstring(tree) or ""}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found[f"noxfile.py::{node.name}"] = ast.get_docstring(node) or ""
    return found


def _benchmark_docstrings() -> dict[str, str]:
    return {
        f"benchmarks/{path.name}": ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        for path in sorted((ROOT / "benchmarks").glob("*.py"))
    }


@pytest.mark.parametrize("row", _table_rows(), ids=lambda row: row[0].strip("`"))
def test_each_time_matches_the_file_it_names(row: list[str]) -> None:
    _, measured, commit_date, source = row
    match = _SOURCE.search(source)
    if match is None:
        assert "not recorded" in commit_date, f"{row}: name the file the time comes from, or say not recorded"
        return
    record = json.loads((ROOT / match["path"]).read_text(encoding="utf-8"))
    seconds = record
    for key in match["key"].split("."):
        seconds = seconds[key]
    assert measured == _stated(float(seconds)), f"{match['path']} says {seconds:.0f} s"
    commit = commit_date.split("`")[1]
    assert record["git"]["commit"].startswith(commit)
    if "created_utc" in record:
        assert commit_date.endswith(record["created_utc"][:10])


def test_sessions_that_point_to_the_table_have_a_row() -> None:
    rows = {row[0] for row in _table_rows()}
    pointing = [name.split("::")[1] for name, doc in _nox_docstrings().items() if "Run times" in doc]
    assert pointing and all(f"`nox -s {name}`" in rows for name in pointing)


def test_no_docstring_restates_a_time() -> None:
    restated = {
        name: found.group(0)
        for name, doc in {**_nox_docstrings(), **_benchmark_docstrings()}.items()
        if (found := _TIME.search(doc))
    }
    assert not restated, f"{restated}: refer to the README's Run times instead (see README: Run times)"
