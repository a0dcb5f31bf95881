"""A typo never costs a result: every name or path a user types into a benchmark is checked while the
arguments are parsed, before any work. It fails with exit status 2 and one line saying what is wrong
(and the closest known name), without a traceback, and leaves the existing result file byte-identical.
A run that measured nothing writes nothing either."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import (
    _checkpoints,
    _perplexity_corpora,
    codec,
    decode_step,
    downstream,
    efficiency,
    perplexity,
    throughput,
)
from benchmarks._result_file import default_output_path
from zip2zip.data.tokenizers import MissingAssetError


def _partial(out: Path) -> Path:
    """Where an interrupted run keeps its progress: ``<out stem>.partial.json`` beside ``--out``."""
    return out.with_name(out.stem + ".partial.json")


ROOT = Path(__file__).resolve().parents[2]
COMMITTED = "cpu-x86_64-2cores.json"  # a committed full result of each benchmark
MODULES = {
    "perplexity": perplexity,
    "downstream": downstream,
    "throughput": throughput,
    "efficiency": efficiency,
    "codec": codec,
    "decode_step": decode_step,
}


@pytest.fixture
def no_work(monkeypatch) -> None:
    """Usage errors come before any work: a benchmark that gets as far as measuring fails the test."""
    for module in MODULES.values():
        monkeypatch.setattr(module, "run", lambda *a, **k: pytest.fail("the benchmark started working"))


@pytest.fixture
def existing_result(tmp_path):
    """A copy of a committed result, to pass as ``--out``; ``(path, original bytes)``."""

    def make(name: str) -> tuple[Path, bytes]:
        out = tmp_path / name / "result.json"
        out.parent.mkdir()
        shutil.copyfile(ROOT / "results" / name / COMMITTED, out)
        return out, out.read_bytes()

    return make


CASES = [
    (
        "perplexity",
        ["--corpora", "wikitext103"],
        "argument --corpora: unknown corpus 'wikitext103'. Known: "
        "wikitext, pile, mc4, dc4. Did you mean 'wikitext'?",
    ),
    ("perplexity", ["--models", "base,zip2zp"], "Did you mean 'zip2zip'?"),
    (
        "perplexity",
        ["--checkpoint", "models/smollm2-cpu-zip2zp"],
        "argument --checkpoint: no checkpoint folder",
    ),
    ("perplexity", ["--control-checkpoint", "models"], "holds no zip2zip_config.json"),
    ("perplexity", ["--corpus-source", "offlin"], "Did you mean 'offline'?"),
    ("perplexity", ["--corpora", ","], "argument --corpora: no corpus given"),
    (
        "downstream",
        ["--tasks", "arc_easy,hellaswg"],
        "unknown task 'hellaswg'. Known: arc_challenge, "
        "arc_easy, hellaswag, openbookqa, piqa, winogrande, gsm8k. Did you mean 'hellaswag'?",
    ),
    ("downstream", ["--models", "contrl"], "Did you mean 'control'?"),
    ("downstream", ["--checkpoint", "/nonexistent/checkpoint"], "no checkpoint folder /nonexistent"),
    ("downstream", ["--task-source", "hubb"], "unknown task source 'hubb'"),
    ("throughput", ["--device", "gpu"], "argument --device: unknown device 'gpu'"),
    ("throughput", ["--device", "cuda:0"], "CUDA is not available here"),
    ("throughput", ["--corpora", "code,mth"], "unknown corpus 'mth'"),
    ("throughput", ["--modes", "replay,generat"], "Did you mean 'generate'?"),
    ("throughput", ["--model", "phi35-mini"], "Did you mean 'phi-3.5-mini'?"),
    ("throughput", ["--checkpoint", "models/smollm2-cpu-zip2zip/adapter"], "holds no zip2zip_config.json"),
    ("efficiency", ["--tokenizers", "llama3,qwen"], "unknown tokenizer 'qwen'"),
    ("efficiency", ["--corpora", "multilingul"], "Did you mean 'multilingual'?"),
    ("efficiency", ["--sweep-tokenizer", "gemma3", "--tokenizers", "llama3"], "not one of --tokenizers"),
    ("codec", ["--tokenizer", "lama3"], "Did you mean 'llama3'?"),
    ("codec", ["--policies", "reset,lur"], "Did you mean 'lru'?"),
    ("codec", ["--policies", "freeze,lru"], "freeze is what every other policy is measured against"),
    ("decode_step", ["--models", "smollm2", "tiyn"], "Did you mean 'tiny'?"),
    ("decode_step", ["--decode-modes", "forced"], "keep 'greedy' in decode_modes"),
]


def _check_refused_before_work(name, argv, message, existing_result, capsys, monkeypatch) -> None:
    """``name``'s main with ``argv`` exits 2 with one line naming ``message`` and leaves its result as it was."""
    monkeypatch.setattr(throughput.torch.cuda, "is_available", lambda: False)
    out, before = existing_result(name)
    with pytest.raises(SystemExit) as exit_info:
        MODULES[name].main([*argv, "--allow-dirty", "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"python -m benchmarks.{name}: error: "), err
    assert message in err
    assert out.read_bytes() == before and not _partial(out).exists()


@pytest.mark.parametrize(
    ("name", "argv", "message"), [pytest.param(*c, id=f"{c[0]}{' '.join(c[1])}") for c in CASES]
)
def test_typo_is_a_one_line_usage_error_and_the_result_is_untouched(
    name, argv, message, existing_result, no_work, capsys, monkeypatch
) -> None:
    _check_refused_before_work(name, argv, message, existing_result, capsys, monkeypatch)


@pytest.mark.parametrize("name", ["perplexity", "downstream"])
def test_missing_default_checkpoint_is_a_usage_error(
    name, existing_result, no_work, tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.setattr(_checkpoints, "ROOT", tmp_path)  # the default models/... paths now name nothing
    out, before = existing_result(name)
    with pytest.raises(SystemExit) as exit_info:
        MODULES[name].main(["--models", "base,control", "--allow-dirty", "--out", str(out)])
    assert exit_info.value.code == 2
    assert "--control-checkpoint: no checkpoint folder" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_out_must_be_a_file_path(tmp_path, no_work, capsys) -> None:
    for bad, message in ((tmp_path, "is a folder"), (tmp_path / "x.partial.json", "partial-progress file")):
        with pytest.raises(SystemExit) as exit_info:
            perplexity.main(["--smoke", "--out", str(bad)])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_perplexity_typo_from_the_command_line_keeps_the_committed_result(tmp_path) -> None:
    """The reported case, as typed: the default ``--out`` holds the full result, nothing may replace it."""
    out = tmp_path / default_output_path("perplexity")
    out.parent.mkdir(parents=True)
    shutil.copyfile(ROOT / "results" / "perplexity" / COMMITTED, out)
    before = out.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.perplexity", "--corpora", "wikitext103"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "python -m benchmarks.perplexity: error: argument --corpora: unknown corpus 'wikitext103'. "
        "Known: wikitext, pile, mc4, dc4. Did you mean 'wikitext'?"
    ]
    assert out.read_bytes() == before and sorted(p.name for p in out.parent.iterdir()) == [out.name]


def test_damaged_resume_file_from_the_command_line(tmp_path) -> None:
    out = tmp_path / "throughput.json"
    partial = _partial(out)
    partial.write_text('{"benchmark": "throughput", "config": {"model": "tiny"}, "rows": [{"corp')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "benchmarks.throughput",
        "--smoke",
        "--device",
        "cpu",
        "--resume",
        "--out",
        str(out),
    ]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith(
        f"python -m benchmarks.throughput: error: --resume: {partial} is damaged (not readable"
    )
    assert not out.exists()


def test_perplexity_without_rows_writes_nothing(existing_result, capsys, monkeypatch) -> None:
    """Every corpus skipped (the hub unreachable): exit 1, saying why, and the old result stays."""

    def unreachable(name, **kwargs):
        raise ValueError(f"{name}: the hub is not reachable")

    monkeypatch.setattr(_perplexity_corpora, "load_eval_corpus", unreachable)
    out, before = existing_result("perplexity")
    with pytest.raises(SystemExit) as exit_info:
        perplexity.main(["--smoke", "--force", "--out", str(out)])  # --force: past the --out rule
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "no rows measured" in err and "wikitext: the hub is not reachable" in err
    assert out.read_bytes() == before


def test_efficiency_without_rows_writes_nothing(existing_result, capsys, monkeypatch) -> None:
    def missing(name: str):
        raise MissingAssetError(f"pip install {name}-tokenizer")

    monkeypatch.setattr("benchmarks._efficiency_tokenizers.get_tokenizer", missing)
    out, before = existing_result("efficiency")
    with pytest.raises(SystemExit) as exit_info:
        efficiency.main(["--smoke", "--force", "--out", str(out)])
    assert exit_info.value.code == 1 and "pip install llama3-tokenizer" in capsys.readouterr().err
    assert out.read_bytes() == before


VALUE_CASES = [
    ("efficiency", ["--num-docs", "-1"], "num_docs=-1 (--num-docs): must be >= 1"),
    ("efficiency", ["--min-doc-bytes", "5000", "--max-doc-bytes", "100"], "max_doc_bytes=100 is below"),
    ("efficiency", ["--max-codebook-size", "-1"], "max_codebook_size=-1 (--max-codebook-size): must be >= 1"),
    ("efficiency", ["--sweep-max-subtokens", "2,-3"], "sweep_max_subtokens=(2, -3)"),
    ("decode_step", ["--batch-sizes", "0"], "batch_sizes=(0,) (--batch-sizes): must be >= 1"),
    ("decode_step", ["--codebook-sizes", "-4"], "codebook_sizes=(-4,) (--codebook-sizes): must be >= 1"),
    ("decode_step", ["--num-threads", "0"], "num_threads=0"),
    ("perplexity", ["--max-length", "0"], "max_length=0 (--max-length): must be >= 1"),
    ("perplexity", ["--bootstrap-samples", "-1"], "bootstrap_samples=-1"),
    ("perplexity", ["--seed", "-1"], "seed=-1 (--seed): must be >= 0"),
    ("perplexity", ["--batch-size", "0"], "batch_size=0"),
    ("downstream", ["--limit", "-1"], "limit=-1 (--limit): must be >= 1 (or leave it out: every item)"),
    ("downstream", ["--batch-size", "0"], "batch_size=0 (--batch-size): must be >= 1"),
    ("downstream", ["--bootstrap-samples", "0"], "bootstrap_samples=0"),
    ("throughput", ["--max-codebook-size", "0"], "max_codebook_size=0"),
    ("throughput", ["--num-threads", "-2"], "num_threads=-2"),
    ("throughput", ["--memory-bandwidth-gb-per-s", "0"], "memory_bandwidth_gb_per_s=0.0"),
]


@pytest.mark.parametrize(
    ("name", "argv", "message"), [pytest.param(*c, id=f"{c[0]}{' '.join(c[1])}") for c in VALUE_CASES]
)
def test_bad_value_is_a_one_line_usage_error_before_any_work(
    name, argv, message, existing_result, no_work, capsys, monkeypatch
) -> None:
    """A count that would crash late (after the whole evaluation), loop or measure nothing is refused by
    the benchmark's Config, so before any model or corpus is loaded, and nothing is written."""
    _check_refused_before_work(name, argv, message, existing_result, capsys, monkeypatch)


@pytest.mark.parametrize(
    ("config_type", "bad"),
    [
        (efficiency.Config, {"num_docs": 0}),
        (perplexity.Config, {"bootstrap_samples": -1}),
        (downstream.Config, {"limit": 0}),
        (decode_step.Config, {"batch_sizes": (1, 0)}),
        (throughput.Config, {"max_subtokens": 1}),
    ],
    ids=lambda x: getattr(x, "__module__", str(x)),
)
def test_library_callers_get_the_same_check(config_type, bad) -> None:
    with pytest.raises(ValueError, match=f"{next(iter(bad))}="):
        config_type(**bad)


def test_decode_step_narrow_encoder_width_0_still_means_no_extra_variant(tmp_path, monkeypatch) -> None:
    """The flag's 0 ("off") becomes the Config's None before the Config refuses widths < 1."""

    class Resolved(Exception):
        """Raised by the stand-in ``run`` with the Config it was given, so nothing is measured."""

    def capture(config: decode_step.Config) -> None:
        raise Resolved(config)

    monkeypatch.setattr(decode_step, "run", capture)
    with pytest.raises(Resolved) as resolved:
        decode_step.main(["--smoke", "--narrow-encoder-width", "0", "--out", str(tmp_path / "r.json")])
    assert resolved.value.args[0].narrow_encoder_width is None
