"""``python -m benchmarks.throughput --smoke`` end to end into tmp_path (tiny random model, byte tokenizer),
plus the replay stream, resume, result-file protection and the ``--device`` names."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from benchmarks import _devices, _throughput_runs, throughput
from benchmarks._throughput_inputs import replay_codes
from zip2zip.codec.config import CompressionConfig
from zip2zip.codec.lzw import LZWStream, compress
from zip2zip.evaluation.results import read_result


def _partial(out: Path) -> Path:
    """Where an interrupted run keeps its progress: ``<out stem>.partial.json`` beside ``--out``."""
    return out.with_name(out.stem + ".partial.json")


torch.set_num_threads(1)


@pytest.fixture(scope="module")
def smoke_result(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("throughput") / "smoke.json"
    throughput.main(["--smoke", "--device", "cpu", "--out", str(out)])
    return out, read_result(out)


def _rows(result, **key) -> list[dict]:
    return [r for r in result.rows if all(r[k] == v for k, v in key.items())]


def test_smoke_writes_every_cell(smoke_result) -> None:
    _, result = smoke_result
    config = throughput.Config.smoke()
    assert result.status == "smoke" and result.benchmark == "throughput" and not result.skipped
    cells = {(r["corpus"], r["prompt_base_tokens"], r["mode"]) for r in result.rows}
    assert cells == {
        (c, p, m) for c in config.corpora for p in config.prompt_base_tokens for m in config.modes
    }
    for corpus, p, mode in cells:
        rows = _rows(result, corpus=corpus, prompt_base_tokens=p, mode=mode)
        assert {(r["method"], r["phase"]) for r in rows} == {
            ("host", "host"),
            ("baseline", "prefill"),
            ("baseline", "decode"),
            ("zip2zip", "prefill"),
            ("zip2zip", "decode"),
        }
        for row in rows:
            for m in row["metrics"].values():
                assert m["value"] is not None and m["unit"]
                if "values" in m:  # timed: raw samples kept (model runs: one per timed round)
                    assert m["stdev"] is not None
                    assert row["method"] == "host" or len(m["values"]) == config.num_repeats


@pytest.mark.parametrize("mode", ["replay", "generate"])
def test_same_text_and_counts(smoke_result, mode: str) -> None:
    _, result = smoke_result
    k = throughput.Config.smoke().new_base_tokens
    for p in throughput.Config.smoke().prompt_base_tokens:
        key = {"corpus": "code", "prompt_base_tokens": p, "mode": mode, "phase": "decode"}
        (base,) = _rows(result, method="baseline", **key)
        (zipped,) = _rows(result, method="zip2zip", **key)
        b, z = base["metrics"], zipped["metrics"]
        assert b["num_base_tokens"]["value"] == z["num_base_tokens"]["value"] == k
        assert b["num_decode_steps"]["value"] == k
        assert z["num_decode_steps"]["value"] <= k and z["compression_ratio"]["value"] >= 1.0
        if mode == "replay":  # same text on both sides: same bytes, fewer steps thanks to hypertokens
            assert b["num_bytes"]["value"] == z["num_bytes"]["value"]
            assert z["num_decode_steps"]["value"] < k and z["num_hypertokens_fed"]["value"] > 0
        speedup = z["decode_base_token_speedup"]["value"]
        assert z["decode_speedup_per_r"]["value"] == pytest.approx(speedup / z["compression_ratio"]["value"])
        (pre,) = _rows(
            result, method="zip2zip", corpus="code", prompt_base_tokens=p, mode=mode, phase="prefill"
        )
        assert pre["metrics"]["num_prompt_ids"]["value"] < p
        assert pre["metrics"]["prompt_compression_ratio"]["value"] == pytest.approx(
            p / pre["metrics"]["num_prompt_ids"]["value"]
        )


def test_replay_codes_worked_example() -> None:
    """V=10, M=3: prompt [1, 2, 1, 2] -> codes [1, 2, 10], entries 10=(1, 2), 11=(2, 1), pending (1, 2).
    Continuation [1, 2, 1, 2, 1, 2, 9] -> [10, 12, 2, 9]: feeding 10 completes 12=(1, 2, 1), which is then
    the longest live match; only live entries are used, never the same-step code."""
    comp = CompressionConfig(initial_vocab_size=10, pad_token_id=0, max_subtokens=3)
    prompt, continuation = [1, 2, 1, 2], [1, 2, 1, 2, 1, 2, 9]
    prompt_codes, _, _ = compress(prompt, comp)
    assert prompt_codes == [1, 2, 10]
    codes = replay_codes(comp, prompt_codes, continuation)
    assert codes == [10, 12, 2, 9]
    stream = LZWStream(comp)
    stream.feed_many(prompt_codes)
    for code in codes:
        assert code < 10 or code - 10 < stream.num_entries  # live entry, not the same-step code
        stream.feed(code)
    assert stream.base_ids == prompt + continuation


def test_resume_keeps_cells_and_refuses_other_configs(smoke_result, tmp_path, monkeypatch, capsys) -> None:
    out = tmp_path / "smoke.json"
    out.write_bytes(smoke_result[0].read_bytes())
    before = read_result(out)
    monkeypatch.setattr(throughput, "measure_cell", lambda *a, **k: pytest.fail("resume re-measured a cell"))
    throughput.main(["--smoke", "--device", "cpu", "--resume", "--out", str(out)])
    after = read_result(out)
    assert after.rows == before.rows and after.assets["cells"] == before.assets["cells"]
    saved = out.read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        throughput.main(
            ["--smoke", "--device", "cpu", "--resume", "--max-codebook-size", "128", "--out", str(out)]
        )
    assert exit_info.value.code == 2 and "another max_codebook_size" in capsys.readouterr().err
    assert out.read_bytes() == saved


def test_killed_run_leaves_out_untouched_and_resume_finishes_it(smoke_result, tmp_path, monkeypatch) -> None:
    """A rerun stopped after one cell used to replace the whole result with that cell's rows."""
    out = tmp_path / "smoke.json"
    out.write_bytes(smoke_result[0].read_bytes())
    before = out.read_bytes()
    measured: list[str] = []
    real_measure_cell = throughput.measure_cell
    interrupted: list[bool] = []

    def killed_at_second_cell(*args, **kwargs):
        if len(measured) == 1 and not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt  # what Ctrl-C or a job time limit does mid-run
        measured.append(args[5])  # mode
        return real_measure_cell(*args, **kwargs)

    monkeypatch.setattr(throughput, "measure_cell", killed_at_second_cell)
    argv = [
        "--smoke",
        "--device",
        "cpu",
        "--corpora",
        "code",
        "--prompt-base-tokens",
        "32",
        "--new-base-tokens",
        "8",
        "--num-repeats",
        "1",
        "--out",
        str(out),
    ]
    with pytest.raises(KeyboardInterrupt):
        throughput.main(argv)
    assert out.read_bytes() == before
    progress = json.loads(_partial(out).read_text())
    assert {r["mode"] for r in progress["rows"]} == {"replay"} and list(progress["assets"]["cells"]) == [
        "code/32/replay"
    ]

    throughput.main([*argv, "--resume"])  # measures only the generate cell
    assert measured == ["replay", "generate"]
    result = read_result(out)
    assert {(r["mode"], r["method"]) for r in result.rows} >= {("replay", "zip2zip"), ("generate", "zip2zip")}
    assert set(result.assets["cells"]) == {"code/32/replay", "code/32/generate"}
    assert not _partial(out).exists()


def test_never_overwrites_another_devices_file(smoke_result, tmp_path, monkeypatch, capsys) -> None:
    out = tmp_path / "other.json"
    out.write_bytes(smoke_result[0].read_bytes())
    monkeypatch.setattr(throughput, "device_tag", lambda device: "cuda-h100-80gb-hbm3")
    with pytest.raises(SystemExit) as exit_info:
        throughput.main(["--smoke", "--device", "cpu", "--out", str(out)])
    assert exit_info.value.code == 2 and "holds a cpu result" in capsys.readouterr().err


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="unknown mode 'sample'"):
        throughput.Config(modes=("sample",))
    with pytest.raises(ValueError, match="unknown model 'gpt2'"):
        throughput.Config(model="gpt2")
    with pytest.raises(ValueError, match="Did you mean 'code'"):
        throughput.Config(corpora=("cod",))
    with pytest.raises(ValueError, match="num_repeats"):
        throughput.Config(num_repeats=0)
    with pytest.raises(ValueError, match="min_rounds"):
        throughput.Config(min_rounds=1)
    fewer = str(_throughput_runs.FULL_RUN_ROUNDS - 1)
    for too_few in (["--num-repeats", fewer], ["--min-rounds", fewer]):
        with pytest.raises(SystemExit) as exit_info:
            throughput.main(["--device", "cpu", *too_few, "--allow-dirty", "--out", "/nonexistent/x.json"])
        assert exit_info.value.code == 2
    cuda = throughput.Config.from_name("cuda")
    assert (
        cuda.model == "phi-3.5-mini"
        and cuda.dtype == "bfloat16"
        and set(cuda.modes) == {"replay", "generate"}
    )
    assert throughput.Config.from_name("mps").dtype == "float16"
    assert dataclasses.asdict(throughput.Config())["prompt_base_tokens"] == (256, 512, 1024, 2048)


# --------------------------------------------------------------------------------------- devices
def test_cpu_device_is_resolved_and_a_typo_refused() -> None:
    assert _devices.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"unknown device 'cuda1'\. Known: auto, cuda, mps, cpu, or cuda:N"):
        _devices.resolve_device("cuda1")


def test_an_offline_phi35_tokenizer_is_refused_or_its_stand_in_recorded(monkeypatch, capsys) -> None:
    from benchmarks._throughput_models import phi35_mini_tokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", "/nonexistent-zip2zip-test-cache")
    strict = throughput.Config(model="phi-3.5-mini", allow_random_weights=False)
    with pytest.raises(ValueError, match=r"Phi-3\.5-mini-instruct's tokenizer is not available"):
        phi35_mini_tokenizer(strict)
    stand_in = phi35_mini_tokenizer(dataclasses.replace(strict, allow_random_weights=True))
    assert "SmolLM2's stands in" in stand_in.provenance["stand_in_because"]
    assert "SmolLM2's stands in" in capsys.readouterr().out


def test_the_default_is_adaptive_and_an_adaptive_cell_records_its_rounds(capsys) -> None:
    assert throughput.Config().num_repeats is None
    config = dataclasses.replace(
        throughput.Config.smoke(),
        corpora=("code",),
        prompt_base_tokens=(64,),
        modes=("replay",),
        num_repeats=None,
        min_rounds=3,
        max_cell_seconds=1.0,
    )
    result = throughput.run(config, status="smoke")
    reached = result.assets["cells"]["code/64/replay"]["rounds"]
    (zipped,) = _rows(result, method="zip2zip", phase="prefill")
    assert reached["num_rounds"] == zipped["metrics"]["prefill_speedup"]["num_samples"] >= 3
    assert reached["stopped_by"] in {"interval", "time cap"}
    for name, interval in reached["ratio_intervals_95"].items():
        assert interval["low"] <= interval["high"], name
    line = f"code 64+24 replay: prefill x{zipped['metrics']['prefill_speedup']['value']:.2f}"
    assert f"{line} (r " in capsys.readouterr().err  # the live view's line of the finished cell


def test_a_fixed_count_records_no_rounds(smoke_result) -> None:
    _, result = smoke_result
    assert all("rounds" not in cell for cell in result.assets["cells"].values())
