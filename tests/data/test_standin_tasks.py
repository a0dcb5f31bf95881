"""The stand-in task data (``zip2zip.data.standin_tasks``): the committed items are well formed, and a rebuild
reproduces the committed files byte for byte (where the Python standard library and mathematics-dataset match)."""

from __future__ import annotations

import json
import platform
from importlib.metadata import version

import pytest

from zip2zip.data import standin_tasks

TASKS_DIR = standin_tasks.TASKS_DIR
DATA_DIR = TASKS_DIR / "data"
MANIFEST = json.loads((TASKS_DIR / "manifest.json").read_text(encoding="utf-8"))


def test_items_are_well_formed() -> None:
    rows = {
        name: [json.loads(x) for x in (DATA_DIR / name).read_text(encoding="utf-8").splitlines()]
        for name in MANIFEST["files"]
    }
    for name in ("standin_arc_easy.jsonl", "standin_arc_challenge.jsonl", "standin_openbookqa.jsonl"):
        for r in rows[name]:
            assert len({c.lower() for c in r["choices"]["text"]}) == 4 and r["answerKey"] in "ABCD"
    for r in rows["standin_hellaswag.jsonl"]:
        assert len(set(r["choices"])) == 4 and 0 <= r["label"] < 4
    for r in rows["standin_winogrande.jsonl"]:
        assert r["sentence"].count("_") == 1 and r["option1"] != r["option2"] and r["answer"] in "12"
    for r in rows["standin_piqa.jsonl"]:
        assert r["sol1"] != r["sol2"] and r["goal"].startswith("def ")
    questions = set()
    for name in ("standin_gsm8k.jsonl", "standin_gsm8k_fewshot.jsonl"):
        for r in rows[name]:
            assert r["answer"].startswith("#### ") and int(r["answer"][5:]) == int(r["answer"][5:])
            questions.add(r["question"])
    assert len(questions) == len(rows["standin_gsm8k.jsonl"]) + len(rows["standin_gsm8k_fewshot.jsonl"])


def test_build_reproduces_the_committed_files() -> None:
    code = MANIFEST["tasks"]["standin_piqa"]["source"]
    math = MANIFEST["tasks"]["standin_gsm8k"]["source"]
    if code["python"] != platform.python_version() or math["version"] != version("mathematics-dataset"):
        pytest.skip(
            "stand-ins were built from another Python standard library or mathematics-dataset version"
        )
    files, manifest = standin_tasks.build(standin_tasks.BuildConfig())
    assert manifest == MANIFEST
    for name, rows in files.items():
        assert (DATA_DIR / name).read_text(encoding="utf-8") == standin_tasks.to_jsonl(rows), name
