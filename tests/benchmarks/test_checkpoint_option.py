"""``--checkpoint`` on perplexity, downstream and throughput: any zip2zip checkpoint (ours or the authors',
a folder or a hub id) is evaluated as "zip2zip" with its own base model as "base", and the result records
the checkpoint as given, the folder it resolved to and the base actually used."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _model_factories import VOCAB, compression, tiny_base, tiny_tokenizer
from huggingface_hub import constants

from benchmarks import _checkpoints, downstream, perplexity, throughput
from benchmarks._cli import new_command_line
from benchmarks._result_file import ResultFile
from zip2zip.evaluation.results import read_result, row_digest
from zip2zip.modeling.checkpoint import ENCODER_WEIGHTS_FILE
from zip2zip.modeling.model import Zip2ZipPreTrainedModel

FORMAT_2 = "tests/fixtures/upstream/v2_rla_selfcontained"  # self-contained: its own base and tokenizer
RUNS = {  # the smallest smoke run of each benchmark, and where it records the base it loaded
    "perplexity": (perplexity, ["--corpora", "wikitext"], lambda a: a["models"]["base"]),
    "downstream": (downstream, ["--tasks", "arc_easy,gsm8k"], lambda a: a["base_model"]),
    "throughput": (
        throughput,
        ["--device", "cpu", "--corpora", "code", "--prompt-base-tokens", "64", "--num-repeats", "1"],
        lambda a: a["model"],
    ),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_an_authors_checkpoint_is_evaluated_on_its_own_base(name: str, tmp_path: Path) -> None:
    module, argv, base_of = RUNS[name]
    out = tmp_path / "result.json"
    module.main(["--smoke", "--checkpoint", FORMAT_2, *argv, "--out", str(out)])
    result = read_result(out)
    assert not result.skipped, result.skipped  # zip2zip ran (generation too: downstream gsm8k, throughput)
    assert {r.get("model") for r in result.rows} >= (
        {"checkpoint"} if name == "throughput" else {"base", "zip2zip"}
    )
    assert result.config["checkpoint"] == FORMAT_2
    assert result.config["model" if name == "throughput" else "base_model"] == "checkpoint"
    recorded = result.assets["checkpoint"]
    assert recorded == {
        "as_given": FORMAT_2,
        "path": FORMAT_2,
        "format": "authors' format 2",
        "base_model": {"name_or_path": FORMAT_2, "gguf_file": None, "revision": None},
    }
    assert base_of(result.assets)["name"] == FORMAT_2  # the base rows ran the checkpoint's own decoder


def _our_checkpoint_on_a_local_base(tmp_path: Path) -> tuple[Path, Path]:
    """(base folder with its tokenizer, a fresh zip2zip checkpoint that references it)."""
    base_dir, checkpoint = tmp_path / "base", tmp_path / "ckpt"
    tiny_base(vocab_size=VOCAB).save_pretrained(base_dir)
    tiny_tokenizer().save_pretrained(base_dir)
    Zip2ZipPreTrainedModel.from_base(
        tiny_base(vocab_size=VOCAB), compression=compression(), base_model_name_or_path=str(base_dir)
    ).save_pretrained(checkpoint)
    return base_dir, checkpoint


def test_our_checkpoint_on_another_base(tmp_path: Path) -> None:
    base_dir, checkpoint = _our_checkpoint_on_a_local_base(tmp_path)
    out = tmp_path / "result.json"
    perplexity.main(["--smoke", "--corpora", "wikitext", "--checkpoint", str(checkpoint), "--out", str(out)])
    result = read_result(out)
    assert result.assets["checkpoint"]["format"] == "zip2zip"
    assert result.assets["checkpoint"]["path"] == str(checkpoint)
    assert result.assets["checkpoint"]["base_model"]["name_or_path"] == str(base_dir)
    assert result.assets["models"]["base"]["name"] == str(base_dir)
    assert result.assets["models"]["zip2zip"]["as_given"] == str(checkpoint)


def test_truncated_encoder_file_skips_that_model_with_the_reason(tmp_path: Path) -> None:
    """Was a SafetensorError traceback after the base rows had been measured."""
    _, checkpoint = _our_checkpoint_on_a_local_base(tmp_path)
    encoders = checkpoint / ENCODER_WEIGHTS_FILE
    encoders.write_bytes(encoders.read_bytes()[: encoders.stat().st_size // 2])
    out = tmp_path / "result.json"
    perplexity.main(["--smoke", "--corpora", "wikitext", "--checkpoint", str(checkpoint), "--out", str(out)])
    result = read_result(out)
    assert {r["model"] for r in result.rows} == {"base"}
    (skipped,) = result.skipped
    assert skipped["name"] == "model zip2zip"
    assert skipped["reason"].startswith(f"{encoders} is not a readable safetensors file")


def test_a_hub_id_resolves_through_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--org--tiny-zip2zip-pp"
    shutil.copytree(_checkpoints.ROOT / FORMAT_2, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    found = _checkpoints.find_checkpoint("org/tiny-zip2zip-pp")
    assert found.path == repo / "snapshots" / commit
    assert found.record()["hub_commit"] == commit and found.record()["as_given"] == "org/tiny-zip2zip-pp"
    assert found.base.name_or_path == str(found.path)  # self-contained: the snapshot is its own base


@pytest.mark.parametrize("name", sorted(RUNS))
@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("nobody-here/no-such-zip2zip", "is not in the Hugging Face cache and the hub is offline"),
        ("/nonexistent/checkpoint", "no checkpoint folder /nonexistent/checkpoint"),
        ("tests/fixtures", "holds no zip2zip_config.json"),
    ],
    ids=["hub-id", "path", "not-a-checkpoint"],
)
def test_a_bad_checkpoint_is_a_one_line_usage_error(name, given, message, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    module = RUNS[name][0]
    monkeypatch.setattr(module, "run", lambda *a, **k: pytest.fail("the benchmark started working"))
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--smoke", "--checkpoint", given])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --checkpoint: " in err and message in err, err


def _parse(argv: list[str]) -> perplexity.Config:
    return _checkpoints.parse_config(new_command_line("perplexity", perplexity.Config, None), argv).config


def test_a_control_on_another_base_is_left_out_unless_asked_for(capsys) -> None:
    config = _parse(["--allow-dirty", "--checkpoint", FORMAT_2])  # control only by default: left out
    assert config.models == ("base", "zip2zip") and config.base_model == "checkpoint"
    assert "note: control left out: the control checkpoint models/smollm2-cpu-control wraps SmolLM2" in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit) as exit_info:  # asked for: refused
        _parse(["--allow-dirty", "--checkpoint", FORMAT_2, "--models", "base,control,zip2zip"])
    assert exit_info.value.code == 2
    assert (
        f"but this run's base is {FORMAT_2}; pass a --control-checkpoint on that base"
        in capsys.readouterr().err
    )
    default = _parse(["--allow-dirty"])  # our embedded checkpoints share SmolLM2: nothing changes
    assert default.models == _checkpoints.MODELS and default.base_model == "smollm2"


def test_a_run_saved_before_the_rename_still_resumes(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    saved = {"benchmark": "perplexity", "config": {"zip2zip_checkpoint": "models/x"}, "rows": []}
    saved["rows"] = [{"model": "base", "corpus": "wikitext", "metrics": {}}]
    saved["row_sha256"] = [row_digest(saved["config"], row) for row in saved["rows"]]
    out.write_text(json.dumps(saved))
    results = ResultFile(
        new_command_line("perplexity", perplexity.Config, None).parser,
        out,
        benchmark="perplexity",
        config={"checkpoint": "models/x"},
        status="smoke",
        must_match=("checkpoint",),
        row_keys=("model", "corpus"),
        renamed_keys=_checkpoints.RENAMED_CONFIG_KEYS,
    )
    assert results.begin(resume=True).rows == saved["rows"]
