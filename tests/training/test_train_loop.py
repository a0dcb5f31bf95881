"""zip2zip.training.loop / cli / build / train_config / lora: schedule, data order, LoRA targets, CLI, exact resume, checkpoints."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests._model_factories import tiny_base
from zip2zip.modeling.lora import FUSED_TARGETS, SPLIT_TARGETS, build_lora_config, lora_target_modules
from zip2zip.training.cli import parse_command_line
from zip2zip.training.config import PRESETS, TrainConfig, at_smoke_size
from zip2zip.training.loop import run
from zip2zip.training.state import chunk_index, lr_factor

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("arch", "expected"),
    [
        pytest.param("llama", SPLIT_TARGETS, id="llama"),
        pytest.param("qwen2", SPLIT_TARGETS, id="qwen2"),
        pytest.param("gemma", SPLIT_TARGETS, id="gemma"),
        pytest.param("phi3", FUSED_TARGETS, id="phi3-fused"),
    ],
)
def test_lora_targets_resolve_per_family(arch, expected) -> None:
    model = tiny_base(arch)
    assert lora_target_modules(model) == list(expected)
    from peft import get_peft_model

    peft_model = get_peft_model(model, build_lora_config(model, rank=4, alpha=4))
    adapted = {
        n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, _ in peft_model.named_parameters() if "lora_A" in n
    }
    assert adapted == set(expected)


def test_lora_targets_fail_clearly_on_an_unknown_layout() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 4))
    with pytest.raises(ValueError, match="cannot resolve LoRA targets"):
        lora_target_modules(model)
    with pytest.raises(ValueError, match="not linear layers"):
        build_lora_config(tiny_base("llama"), rank=4, alpha=4, targets=["qkv_proj"])


def test_schedule_warms_up_then_decays_to_the_minimum() -> None:
    f = [lr_factor(s, warmup_steps=10, num_steps=100, min_ratio=0.1) for s in range(101)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0) and f[10] == pytest.approx(1.0)
    assert f[55] == pytest.approx(0.55) and f[100] == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(f[10:]))


def test_data_order_is_a_permutation_per_epoch() -> None:
    first = [chunk_index(p, 7, seed=3) for p in range(7)]
    second = [chunk_index(p, 7, seed=3) for p in range(7, 14)]
    assert sorted(first) == sorted(second) == list(range(7))
    assert first != second


def test_presets_and_cli_map_to_config_fields() -> None:
    assert {"paper-phi3.5", "paper-phi3-medium", "smollm2-cpu", "smoke"} <= set(PRESETS)
    config = _cli_config(
        [
            "--preset",
            "smoke",
            "--no-compression",
            "--num-steps",
            "5",
            "--corpora",
            "code,math",
            "--mixture-weights",
            "2,1",
            "--compile",
        ]
    )
    assert (config.use_compression, config.num_steps, config.corpora) == (False, 5, ("code", "math"))
    assert config.mixture_weights == (2.0, 1.0) and config.compile is True
    groups = parse_command_line(
        ["--preset", "smoke", "--encoder-learning-rate", "2e-4", "--decoder-max-grad-norm", "5"]
    )[0].group_recipes()
    assert (groups["encoders"].learning_rate, groups["decoder"].max_grad_norm) == (2e-4, 5.0)
    cpu = TrainConfig.from_name("smollm2-cpu").group_recipes()
    assert {name: r.learning_rate for name, r in cpu.items()} == {
        "lora": 1e-3,
        "encoders": 2e-4,
        "decoder": 1e-3,
    }
    with pytest.raises(ValueError, match="encoder_warmup_steps"):
        TrainConfig.from_name("smoke", encoder_warmup_steps=8)
    with pytest.raises(ValueError, match="decoder_min_lr_ratio"):
        TrainConfig.from_name("smoke", decoder_min_lr_ratio=1.5)
    assert config.resolved_output_dir() == Path("checkpoints/smoke-no-compression")
    phi = TrainConfig.from_name("paper-phi3.5")
    assert (phi.seq_len, phi.tokens_per_step, phi.num_steps, phi.reconstruction_weight) == (
        1024,
        32768,
        10000,
        0.1,
    )
    with pytest.raises(ValueError, match="Did you mean 'smoke'"):
        TrainConfig.from_name("smok")
    with pytest.raises(ValueError, match="multiple of"):
        TrainConfig.from_name("smoke", tokens_per_step=100)


def _smoke(tmp_path: Path, name: str, **overrides) -> TrainConfig:
    base = dict(
        output_dir=str(tmp_path / name),
        cache_dir=str(tmp_path / "cache"),
        num_steps=6,
        save_every=3,
        eval_every=3,
    )
    return TrainConfig.from_name("smoke", **{**base, **overrides})


def test_resume_continues_exactly(tmp_path) -> None:
    """Stop after step 3, resume: steps 4-6 have the same losses as an uninterrupted run (and same weights)."""
    full = run(_smoke(tmp_path, "full"), show_progress=False)
    run(_smoke(tmp_path, "split", stop_after_steps=3), show_progress=False)
    resumed = run(_smoke(tmp_path, "split"), resume=True, show_progress=False)
    assert [s["step"] for s in resumed["steps"]] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(full["steps"], resumed["steps"], strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-6, abs=1e-7), a["step"]
        assert a["learning_rates"] == pytest.approx(b["learning_rates"])
        assert a["grad_norms"] == pytest.approx(b["grad_norms"], rel=1e-5)
    assert full["summary"]["final_heldout"]["lm_loss"] == pytest.approx(
        resumed["summary"]["final_heldout"]["lm_loss"], rel=1e-6
    )
    partial = tmp_path / "split" / "partial-step-000003"
    assert (partial / "zip2zip_config.json").is_file()  # the stopped run left a usable, labelled checkpoint
    assert json.loads((partial / "train_log.json").read_text())["summary"]["is_complete"] is False
    log = json.loads((tmp_path / "split" / "train_log.json").read_text())
    assert log["resumed_from"] == [{"step": 3, "checkpoint": "step-000003"}]
    assert log["summary"]["train_codes_per_s"] > 0


def test_final_checkpoint_is_small_and_reloads(tmp_path) -> None:
    """``final/`` holds config + encoders + LoRA adapter (+ decoder), base referenced; it reloads to the same loss."""
    from zip2zip.data.training_chunks import prepare_data
    from zip2zip.modeling.model import Zip2ZipPreTrainedModel
    from zip2zip.training.loss import Zip2ZipTrainingModule, evaluate
    from zip2zip.training.state import eval_batches

    config = _smoke(tmp_path, "ckpt", num_steps=3)
    log = run(config, show_progress=False)
    final = Path(config.output_dir) / "final"
    names = {p.name for p in final.iterdir()}
    assert {
        "zip2zip_config.json",
        "hyper_encoders.safetensors",
        "adapter",
        "train_log.json",
        "reconstruction_decoder.safetensors",
    } <= names
    assert not list(final.rglob("model*.safetensors"))  # no base weights copied
    model = Zip2ZipPreTrainedModel.from_pretrained(final)
    prepared = prepare_data(config.data_config(), cache_root=config.cache_dir, show_progress=False)
    batches = eval_batches(
        prepared.heldout,
        config.num_final_eval_chunks,
        config=config,
        rank=0,
        world=1,
        pad=prepared.compression.pad_token_id,
    )
    stats = evaluate(
        Zip2ZipTrainingModule(model, None, reconstruction_weight=0.0), batches, reconstruction_weight=0.0
    )
    assert stats.lm_loss == pytest.approx(log["summary"]["final_heldout"]["lm_loss"], rel=1e-5)


def test_no_compression_control_trains_on_base_ids(tmp_path) -> None:
    log = run(_smoke(tmp_path, "control", num_steps=3, use_compression=False), show_progress=False)
    rows_per_step = 4  # smoke: 256 ids per step = 2 micro-batches x 2 rows x 64
    assert all(
        s["num_base_tokens"] == s["num_codes"] - rows_per_step for s in log["steps"]
    )  # 1 target per code
    assert all(s["hypertoken_loss"] is None and s["reconstruction_loss"] is None for s in log["steps"])
    assert log["summary"]["final_heldout"]["nll_per_base_token"] == pytest.approx(
        log["summary"]["final_heldout"]["lm_loss"]
    )


@pytest.mark.slow
def test_two_process_gloo_run_matches_one_process(tmp_path) -> None:
    """``torchrun --nproc_per_node 2`` on CPU (gloo): same CLI, gradients all-reduced, one log."""
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29517",
        "-m",
        "zip2zip.training",
        "--preset",
        "smoke",
        "--output-dir",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--num-steps",
        "4",
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = json.loads((out / "train_log.json").read_text())
    assert log["num_processes"] == 2 and log["grad_accumulation_steps"] == 1
    assert len(log["steps"]) == 4 and (out / "step-000004" / "rng-1.safetensors").is_file()
    assert log["steps"][0]["num_codes"] > log["config"]["micro_batch_size"] * log["config"]["seq_len"]
    # 2 processes x 1 micro-batch read the same chunks as 1 process x 2 accumulated micro-batches
    single = run(_smoke(tmp_path, "single", num_steps=4), show_progress=False)
    for a, b in zip(single["steps"], log["steps"], strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4), a["step"]


class _WritesMarker:
    """Unpickling this runs ``Path.write_text``: what a crafted checkpoint file could do instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code from a checkpoint ran"))


def test_resume_never_unpickles_a_checkpoint(tmp_path) -> None:
    """A step directory holding pickles (the format of earlier versions, or a crafted one) is refused unread."""
    from types import SimpleNamespace

    from safetensors.torch import save_file

    from zip2zip.training.state import TRAINABLE_FILE, load_checkpoint, trainable_state

    module = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(module.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    step_dir = tmp_path / "step-000001"
    step_dir.mkdir()
    save_file(trainable_state(module), str(step_dir / TRAINABLE_FILE))
    marker = tmp_path / "marker"
    torch.save({"step": 1, "optimizer": _WritesMarker(marker)}, step_dir / "trainer_state.pt")
    torch.save(_WritesMarker(marker), step_dir / "rng-0.pt")
    with pytest.raises(ValueError, match="pickle"):
        load_checkpoint(
            step_dir,
            module=module,
            optimizer=optimizer,
            scheduler=scheduler,
            accelerator=SimpleNamespace(process_index=0),
        )
    assert not marker.exists()


def test_resume_refuses_a_changed_config(tmp_path) -> None:
    """Only the thread count and the stop step may differ on --resume; anything else is named and refused."""
    run(_smoke(tmp_path, "run", num_steps=2, stop_after_steps=1), show_progress=False)
    changed = _smoke(tmp_path, "run", num_steps=2, learning_rate=1e-3, seed=1)
    with pytest.raises(ValueError, match=r"learning_rate.*seed") as error:
        run(changed, resume=True, show_progress=False)
    assert "num_threads" in str(error.value)  # says what may change
    resumed = run(_smoke(tmp_path, "run", num_steps=2, num_threads=2), resume=True, show_progress=False)
    assert [s["step"] for s in resumed["steps"]] == [1, 2]


def test_a_moved_run_resumes_from_its_new_folder(tmp_path) -> None:
    """Its output_dir is where the run is, not how it computes: moving the folder keeps it resumable."""
    run(_smoke(tmp_path, "run", num_steps=2, stop_after_steps=1), show_progress=False)
    (tmp_path / "run").rename(tmp_path / "moved")
    resumed = run(_smoke(tmp_path, "moved", num_steps=2), resume=True, show_progress=False)
    assert [s["step"] for s in resumed["steps"]] == [1, 2]
    assert resumed["resumed_from"] == [{"step": 1, "checkpoint": "step-000001"}]


def _cli_config(argv: list[str]) -> TrainConfig:
    return parse_command_line(argv)[0]


def test_boolean_flags_parse_their_value() -> None:
    assert _cli_config(["--tie-encoders", "false"]).tie_encoders is False
    assert _cli_config(["--tie-encoders", "true"]).tie_encoders is True
    assert _cli_config(["--tie-encoders", "none"]).tie_encoders is None
    assert _cli_config(["--preset", "paper-phi3.5", "--compile", "false"]).compile is False
    assert _cli_config(["--preset", "paper-phi3.5", "--no-compile"]).compile is False
    assert _cli_config(["--compile"]).compile is True
    assert _cli_config(["--no-compression"]).use_compression is False


def test_preset_gives_the_defaults_and_flags_override_them() -> None:
    smoke = TrainConfig.from_name("smoke")
    assert _cli_config(["--preset", "smoke"]) == smoke
    assert _cli_config(["--preset", "smoke", "--seq-len", "32", "--tokens-per-step", "128"]) == (
        TrainConfig.from_name("smoke", seq_len=32, tokens_per_step=128)
    )
    assert _cli_config([]) == TrainConfig.from_name("smollm2-cpu")
    assert _cli_config(["--encoder-learning-rate", "none"]).encoder_learning_rate is None


def test_help_explains_every_flag_with_its_default(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_command_line(["--preset", "smoke", "--help"])
    assert exit_info.value.code == 0
    compact = "".join(capsys.readouterr().out.split())  # independent of line wrapping
    smoke = TrainConfig.from_name("smoke")
    for field in dataclasses.fields(TrainConfig):
        text = field.metadata.get("help", "")
        assert len(text) > 10, f"{field.name} has no help text"
        assert f"--{field.name.replace('_', '-')}" in compact
        assert "".join(f"{text} (default: {_as_typed(getattr(smoke, field.name))})".split()) in compact, (
            field.name
        )


def _as_typed(value: object) -> str:
    """A default as it would be typed on the command line: ``code,math``, ``none``."""
    if value is None:
        return "none"
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--tie-encoders", "maybe"], id="bool"),
        pytest.param(["--num-steps", "ten"], id="int"),
        pytest.param(["--mixture-weights", "1,x"], id="tuple"),
        pytest.param(["--preset", "smok"], id="preset"),
        pytest.param(["--warmup-steps", "500"], id="config-validation"),
        pytest.param(["--lora-rank", "0"], id="lora-rank"),
        pytest.param(["--lora-dropout", "1"], id="lora-dropout"),
        pytest.param(["--num-threads", "0"], id="num-threads"),
        pytest.param(["--num-final-eval-chunks", "0"], id="final-eval-chunks"),
        pytest.param(["--hyper-encoder-layers", "-1"], id="encoder-layers"),
        pytest.param(["--reconstruction-weight", "-0.5"], id="reconstruction-weight"),
        pytest.param(["--max-codebook-size", "-1"], id="codebook-size"),
        pytest.param(["--min-doc-bytes", "5000", "--max-doc-bytes", "100"], id="doc-bytes"),
    ],
)
def test_bad_flag_values_exit_2_with_one_line(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_command_line(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "error" in err and "Traceback" not in err, err


def test_parameter_groups_follow_their_own_schedules_and_clips(tmp_path) -> None:
    config = _smoke(
        tmp_path,
        "groups",
        num_steps=4,
        eval_every=2,
        learning_rate=1e-3,
        warmup_steps=0,
        min_lr_ratio=1.0,  # constant
        encoder_learning_rate=2e-4,
        encoder_warmup_steps=2,
        encoder_min_lr_ratio=0.1,
        encoder_max_grad_norm=None,
        decoder_learning_rate=5e-3,
        decoder_min_lr_ratio=0.5,
    )
    log = run(config, show_progress=False)
    recipes = config.group_recipes()
    assert recipes["decoder"].warmup_steps == 0  # not set: follows LoRA's
    for record in log["steps"]:
        assert set(record["grad_norms"]) == {"lora", "encoders", "decoder"}
        for name, recipe in recipes.items():
            factor = lr_factor(
                record["step"] - 1,
                warmup_steps=recipe.warmup_steps,
                num_steps=config.num_steps,
                min_ratio=recipe.min_lr_ratio,
            )
            assert record["learning_rates"][name] == pytest.approx(recipe.learning_rate * factor), name
    assert [r["learning_rates"]["lora"] for r in log["steps"]] == pytest.approx([1e-3] * 4)
    assert log["steps"][0]["learning_rates"]["encoders"] == pytest.approx(1e-4)  # warm-up: 1/2 of the peak


def test_learning_curve_points_record_what_training_has_seen(tmp_path) -> None:
    log = run(_smoke(tmp_path, "curves", num_steps=4, eval_every=2), show_progress=False)
    points = log["validation"]
    assert [p["step"] for p in points] == [0, 2, 4]  # before the first step, then every eval_every
    codes = [s["num_codes"] for s in log["steps"]]
    base = [s["num_base_tokens"] for s in log["steps"]]
    assert [p["num_train_codes_seen"] for p in points] == [0, sum(codes[:2]), sum(codes)]
    assert [p["num_train_base_tokens_seen"] for p in points] == [0, sum(base[:2]), sum(base)]
    for p in points:
        assert p["nll_per_base_token"] > 0 and p["hypertoken_loss"] > 0 and p["base_loss"] > 0
        assert 0 <= p["reconstruction_accuracy"] <= 1
    reference = log["heldout_reference"]
    assert reference["num_chunks"] == 4 and 0 < reference["slot_blind_reconstruction_accuracy"] < 1


def test_control_has_only_the_lora_group(tmp_path) -> None:
    log = run(_smoke(tmp_path, "control-groups", num_steps=2, use_compression=False), show_progress=False)
    assert all(set(s["grad_norms"]) == set(s["learning_rates"]) == {"lora"} for s in log["steps"])
    assert log["heldout_reference"]["slot_blind_reconstruction_accuracy"] is None
    assert all(p["hypertoken_loss"] is None for p in log["validation"])


def test_at_smoke_size_keeps_the_recipe_and_takes_the_size() -> None:
    paper = TrainConfig.from_name("paper-phi3.5")
    small = at_smoke_size(paper)
    smoke = TrainConfig.from_name("smoke")
    assert (small.model, small.num_steps, small.seq_len, small.data_source) == (
        "tiny",
        8,
        64,
        "offline",
    )
    assert small.group_recipes()["encoders"].learning_rate == paper.group_recipes()["encoders"].learning_rate
    assert (small.compile, small.mixed_precision, small.min_lr_ratio) == (True, "auto", paper.min_lr_ratio)
    assert small.warmup_steps == small.encoder_warmup_steps == 1  # 200 and 500 of 10,000 steps -> >= 1 of 8
    assert small.tokens_per_step == smoke.tokens_per_step and small.preset == "paper-phi3.5-at-smoke-size"


@pytest.fixture
def _fresh_accelerate_state():
    """accelerate keeps one process-wide state, fixed by the first Accelerator (here: no mixed precision);
    a run with another precision needs it cleared, and the next test needs it back as it was."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state()
    yield
    AcceleratorState._reset_state()


@pytest.mark.usefixtures("_fresh_accelerate_state")
def test_gpu_preset_runs_at_smoke_size(tmp_path) -> None:
    """paper-phi3.5's recipe (per-group LRs, floors and clips, bf16 autocast) on a tiny model, on the CPU.

    torch.compile is off: compiling the training step on a CPU takes longer than a test may (> 10 min).
    """
    config = at_smoke_size(
        TrainConfig.from_name("paper-phi3.5"),
        compile=False,
        mixed_precision="bf16",
        output_dir=str(tmp_path / "gpu"),
        cache_dir=str(tmp_path / "cache"),
    )
    log = run(config, show_progress=False)
    first = log["steps"][0]["learning_rates"]
    assert first == pytest.approx({"lora": 3e-4, "encoders": 4e-5, "decoder": 3e-4})
    assert log["summary"]["is_complete"] and math.isfinite(log["summary"]["final_heldout"]["lm_loss"])
