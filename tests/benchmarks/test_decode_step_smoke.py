"""decode_step benchmark smoke run: one row per (variant, phase, mode), ratios computed round by round."""

from __future__ import annotations

import statistics

import pytest

from benchmarks import decode_step
from zip2zip.evaluation.results import read_result


def test_smoke_run_measures_every_variant(tmp_path):
    out = tmp_path / "decode_step.json"
    decode_step.main(["--smoke", "--narrow-encoder-width", "64", "--out", str(out)])
    result = read_result(out)
    zip_rows = [r for r in result.rows if r["method"] == "zip2zip"]
    assert {r["hyper_encoder_width"] for r in zip_rows} == {64, 256}  # d = 256 and the narrow variant
    base = {r["decode_mode"]: r for r in result.rows if r["method"] == "base" and r["phase"] == "decode"}
    for row in (r for r in zip_rows if r["phase"] == "decode"):
        ratio = row["metrics"]["decode_step_time_ratio_vs_base"]
        zip_ms = row["metrics"]["decode_step_ms"]["values"]
        base_ms = base[row["decode_mode"]]["metrics"]["decode_step_ms"]["values"]
        expected = statistics.median(z / b for z, b in zip(zip_ms, base_ms, strict=True))
        assert abs(ratio["value"] - expected) < 1e-9
        assert row["metrics"]["num_decode_steps"]["value"] == result.config["num_decode_steps"]
    assert "rounds" not in result.assets  # a fixed count (the smoke preset's) keeps the result's shape


def test_the_default_is_adaptive_and_records_the_rounds_each_cell_took(tmp_path, capsys):
    assert decode_step.Config().num_repeats is None
    out = tmp_path / "decode_step.json"
    decode_step.main(
        [
            "--smoke",
            "--num-repeats",
            "none",
            "--min-rounds",
            "2",
            "--max-cell-seconds",
            "1",
            "--out",
            str(out),
        ]
    )
    result = read_result(out)
    (reached,) = result.assets["rounds"].values()
    zip_decode = next(r for r in result.rows if r["method"] == "zip2zip" and r["phase"] == "decode")
    ratio = zip_decode["metrics"]["decode_step_time_ratio_vs_base"]
    assert reached["num_rounds"] == ratio["num_samples"] >= 2
    assert set(reached["ratio_intervals_95"]) == {"prefill C=64", "decode C=64 greedy", "decode C=64 forced"}
    assert "tiny, batch 2: zip2zip/base time: prefill" in capsys.readouterr().err


def test_policy_variants_run_in_the_same_rounds_and_report_what_their_codebook_did(tmp_path):
    out = tmp_path / "decode_step.json"
    decode_step.main(["--smoke", "--policy-variants", "lru:16,freeze:64", "--out", str(out)])
    decode = {
        (r.get("codebook_policy"), r["max_codebook_size"], r["decode_mode"]): r["metrics"]
        for r in read_result(out).rows
        if r["method"] == "zip2zip" and r["phase"] == "decode"
    }
    assert set(decode) == {
        (p, c, m) for p, c in [(None, 64), ("lru", 16), ("freeze", 64)] for m in ("greedy", "forced")
    }
    assert "num_entries_removed" not in decode[(None, 64, "forced")]  # main rows keep their committed metrics
    lru, freeze = decode[("lru", 16, "forced")], decode[("freeze", 64, "forced")]
    assert lru["num_entries_removed"]["value"] > 0 == freeze["num_entries_removed"]["value"]
    assert (
        lru["num_entries_in_head_per_step"]["value"] <= 16 < freeze["num_entries_in_head_per_step"]["value"]
    )
    for metrics in (lru, freeze):  # base ids per decoded id: the forced stream's compression
        rate = metrics["base_tokens_per_s"]["value"] / metrics["decode_steps_per_s"]["value"]
        assert abs(metrics["decoded_compression_ratio"]["value"] - rate) < 1e-9
    assert "decoded_compression_ratio" not in decode[("lru", 16, "greedy")]


def test_a_policy_variant_names_a_policy_and_a_size():
    with pytest.raises(ValueError, match="codebook policy"):
        decode_step.Config(policy_variants=("lur:256",))
    with pytest.raises(ValueError, match="policy:C"):
        decode_step.Config(policy_variants=("lru",))
