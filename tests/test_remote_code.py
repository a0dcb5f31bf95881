"""Custom code planted in a model folder never runs unless the user passed trust_remote_code=True, and no
loader ever asks about it on stdin.

Each public loading path gets its own folder whose ``config.json`` and ``tokenizer_config.json`` have an
``auto_map`` naming ``planted.py``, which writes the case's marker file when imported. All cases run in one
subprocess (per stdin mode) whose stdin is closed, or answers ``y`` to every prompt as a piped ``yes`` would:
no marker may exist afterwards (except where the user opted in), no prompt may be printed, and a refusal is
one line naming the fix. A config whose ``model_type`` transformers implements itself may load with that
code instead (Phi-3.5's config has an ``auto_map`` too); one that needs the planted code must be refused.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _model_factories import VOCAB, compression, tiny_base, tiny_tokenizer

from zip2zip.modeling.config import HyperEncoderConfig
from zip2zip.modeling.model import Zip2ZipPreTrainedModel

REPO = Path(__file__).resolve().parent.parent
UPSTREAM = Path(__file__).resolve().parent / "fixtures" / "upstream"
PROMPT = "Do you wish to run the custom code"
REFUSED, REFUSED_OR_LOADED, RUNS, TYPE_ERROR = "refused", "refused or loaded", "runs", "type error"


@dataclass(frozen=True)
class Case:
    """``call`` runs in the subprocess with ``F`` = the case's folder, ``CLEAN`` = a checkpoint over a clean base."""

    call: str
    layout: str  # what F is: "base", "checkpoint" (ours, over a planted base), "authors-1" or "authors-2"
    expect: str = REFUSED
    model_type: str = "planted"  # "llama": transformers has its own code for it


CASES = {
    "wrap-base": Case("zip2zip.Zip2ZipForCausalLM.from_pretrained(F, max_codebook_size=64)", "base"),
    "wrap-base-native-type": Case(
        "zip2zip.Zip2ZipForCausalLM.from_pretrained(F, max_codebook_size=64)",
        "base",
        REFUSED_OR_LOADED,
        model_type="llama",
    ),
    "base_model-argument": Case(
        "zip2zip.Zip2ZipForCausalLM.from_pretrained(CLEAN, base_model=F, max_codebook_size=64)", "base"
    ),
    "checkpoint": Case("zip2zip.Zip2ZipForCausalLM.from_pretrained(F)", "checkpoint"),
    "auto-class": Case("transformers.AutoModelForCausalLM.from_pretrained(F)", "checkpoint"),
    "authors-format-1": Case("zip2zip.Zip2ZipForCausalLM.from_pretrained(F)", "authors-1"),
    "authors-format-2": Case("zip2zip.Zip2ZipForCausalLM.from_pretrained(F)", "authors-2"),
    "lm-eval-base": Case("Zip2ZipLM(pretrained=F, max_codebook_size=0)", "base"),
    "lm-eval-checkpoint": Case("Zip2ZipLM(pretrained=F)", "checkpoint"),
    "tokenizer-registry": Case("get_tokenizer(F)", "base", REFUSED_OR_LOADED),
    "base-model-registry": Case("load_base(F)", "base"),
    "benchmark-checkpoint-base": Case("load_base(find_checkpoint(F).base)", "checkpoint"),
    "benchmark-checkpoint-tokenizer": Case(
        "load_base_tokenizer(find_checkpoint(F).base)", "checkpoint", REFUSED_OR_LOADED
    ),
    "string-false": Case(
        'zip2zip.Zip2ZipForCausalLM.from_pretrained(F, max_codebook_size=64, trust_remote_code="false")',
        "base",
        TYPE_ERROR,
    ),
    "lm-eval-string-false": Case(
        'Zip2ZipLM(pretrained=F, max_codebook_size=0, trust_remote_code="no")', "base", TYPE_ERROR
    ),
    # last: the code they run must not be what makes another case fail
    "opt-in": Case(
        "zip2zip.Zip2ZipForCausalLM.from_pretrained(F, max_codebook_size=64, trust_remote_code=True)",
        "base",
        RUNS,
    ),
    "auto-class-opt-in": Case(
        "transformers.AutoModelForCausalLM.from_pretrained(F, trust_remote_code=True)", "checkpoint", RUNS
    ),
    "lm-eval-opt-in": Case("Zip2ZipLM(pretrained=F, trust_remote_code=True)", "checkpoint", RUNS),
}

_SCRIPT = """
import json, sys
import transformers, zip2zip
from benchmarks._checkpoints import find_checkpoint
from zip2zip.data.tokenizers import get_tokenizer
from zip2zip.evaluation.lm_eval_model import Zip2ZipLM
from zip2zip.modeling.base_models import load_base, load_base_tokenizer

CLEAN = sys.argv[1]
for case, (call, F) in json.loads(sys.argv[2]).items():
    try:
        eval(call)
        outcome = {"error": None}
    except Exception as error:
        outcome = {"error": type(error).__name__, "message": str(error)}
    print("OUTCOME " + json.dumps({"case": case, **outcome}), flush=True)
"""


def _plant(folder: Path, marker: Path, *, model_type: str) -> None:
    """Point ``folder``'s configs at ``planted.py``, which leaves ``marker`` behind if it ever runs."""
    (folder / "planted.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('planted code ran')\n", encoding="utf-8"
    )
    for name, auto_map in (
        ("config.json", {"AutoConfig": "planted.PlantedConfig", "AutoModelForCausalLM": "planted.PlantedLM"}),
        ("tokenizer_config.json", {"AutoTokenizer": ["planted.PlantedTokenizer", None]}),
    ):
        data = json.loads((folder / name).read_text(encoding="utf-8"))
        data["auto_map"] = auto_map
        if name == "config.json":
            data["model_type"] = model_type
        (folder / name).write_text(json.dumps(data), encoding="utf-8")


def _base(folder: Path) -> Path:
    tiny_base(vocab_size=VOCAB).save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder


def _checkpoint(folder: Path, base: Path) -> Path:
    model = Zip2ZipPreTrainedModel.from_base(
        tiny_base(vocab_size=VOCAB),
        compression=compression(),
        hyper_encoder=HyperEncoderConfig(num_heads=4),
        base_model_name_or_path=str(base),
    )
    return model.save_pretrained(folder)


def _folder(root: Path, case: str, marker: Path) -> Path:
    """The folder ``CASES[case]`` loads, its planted code writing ``marker``."""
    spec, folder = CASES[case], root / case
    if spec.layout == "authors-2":  # self-contained: the planted config is the checkpoint's own
        shutil.copytree(UPSTREAM / "v2_rla_selfcontained", folder)
        _plant(folder, marker, model_type=spec.model_type)
        return folder
    base = root / f"{case}-base"
    if spec.layout == "authors-1":
        shutil.copytree(UPSTREAM / "base_untied", base)
    else:
        _base(base)
    _plant(base, marker, model_type=spec.model_type)
    if spec.layout == "base":
        return base
    if spec.layout == "checkpoint":
        return _checkpoint(folder, base)
    shutil.copytree(UPSTREAM / "v1_rla_causal_untied", folder)
    config = json.loads((folder / "zip2zip_config.json").read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = str(base)
    (folder / "zip2zip_config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


@pytest.fixture(scope="module", params=["stdin-closed", "stdin-yes"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case in one subprocess: its outcomes, whether each marker exists, and everything it printed."""
    root = tmp_path_factory.mktemp(request.param)
    markers = {case: root / "markers" / case for case in CASES}
    (root / "markers").mkdir()
    calls = {case: (spec.call, str(_folder(root, case, markers[case]))) for case, spec in CASES.items()}
    clean = _checkpoint(root / "clean-checkpoint", _base(root / "clean-base"))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "HF_MODULES_CACHE": str(root / "hf-modules"),  # where transformers would copy planted code
    }
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(clean), json.dumps(calls)],
        input="y\n" * 100 if request.param == "stdin-yes" else None,
        stdin=None if request.param == "stdin-yes" else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # a prompt printed without a newline may precede an outcome on its line
    lines = [line.split("OUTCOME ", 1)[1] for line in done.stdout.splitlines() if "OUTCOME " in line]
    return {
        "outcomes": {o["case"]: o for o in map(json.loads, lines)},
        "ran": {case: marker.exists() for case, marker in markers.items()},
        "output": done.stdout + done.stderr,
    }


def test_no_loader_prompts(run: dict[str, Any]) -> None:
    assert PROMPT not in run["output"]


@pytest.mark.parametrize("case", list(CASES))
def test_planted_code_runs_only_when_the_user_opted_in(run: dict[str, Any], case: str) -> None:
    spec, outcome = CASES[case], run["outcomes"][case]
    assert run["ran"][case] == (spec.expect == RUNS), outcome
    if spec.expect == REFUSED:
        assert outcome["error"] == "RemoteCodeError", outcome
    if spec.expect == TYPE_ERROR:
        assert outcome["error"] == "TypeError" and "trust_remote_code" in outcome["message"], outcome
    if spec.expect in (REFUSED, REFUSED_OR_LOADED) and outcome["error"] is not None:
        assert outcome["error"] == "RemoteCodeError", outcome
    if outcome["error"] is not None and spec.expect != RUNS:
        assert "\n" not in outcome["message"], outcome["message"]
    if outcome["error"] == "RemoteCodeError":
        assert "trust_remote_code=True" in outcome["message"], outcome["message"]


def _auto_loads_without_the_option() -> list[str]:
    """``Auto*.from_pretrained(...)`` calls in the library and benchmarks that do not pass trust_remote_code."""
    found = []
    for path in sorted([*(REPO / "zip2zip").rglob("*.py"), *(REPO / "benchmarks").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "from_pretrained"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id.startswith("Auto")
                and "trust_remote_code" not in {k.arg for k in node.keywords}
            ):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_every_transformers_load_passes_trust_remote_code() -> None:
    """Left out, transformers prompts on stdin (or runs the code after a ``y``): pass it at every call."""
    assert _auto_loads_without_the_option() == []
