"""``python -m benchmarks.codec_fuzz``: a short run passes; a wrong decoder fails it with a minimal case."""

from __future__ import annotations

import ast
import dataclasses
import random
import re

import pytest

from benchmarks import codec_fuzz
from zip2zip.codec import lzw
from zip2zip.codec.config import CompressionConfig
from zip2zip.codec.lzw_codec import LZWCodec


def test_short_run_finds_no_mismatch(capsys: pytest.CaptureFixture[str]) -> None:
    codec_fuzz.main(["--streams", "3000", "--seed", "1", "--no-progress"])
    out = capsys.readouterr().out
    for policy in ("freeze", "reset", "lru"):
        assert re.search(
            rf"{policy}: checked 3,000 streams \(.* codes, .* configs\) against zip2zip.codec.lzw: 0 mismatches",
            out,
        )


def test_policy_streams_reuse_ids_and_freeze_streams_are_unchanged() -> None:
    """The walks do reach full codebooks (evictions, resets); freeze draws what it drew before policies."""
    config = codec_fuzz.Config(num_streams=2000, seed=1, policies=("lru", "reset"))
    lru, reset = codec_fuzz.run(config, progress=False)
    assert lru.num_mismatches == reset.num_mismatches == 0
    rng = random.Random(1)
    assert codec_fuzz.draw_config(rng) == codec_fuzz.draw_config(random.Random(1), "freeze")
    removed = 0
    rng = random.Random("1-lru")
    for _ in range(200):
        config_, alphabet = codec_fuzz.draw_config(rng, "lru")
        _, reference = codec_fuzz.random_walk(config_, alphabet, 64, [1, 2, 3, 4, 5], rng)
        removed += sum(r.removed_at is not None for r in reference.history)
    assert removed > 0


def test_wrong_entry_positions_exit_non_zero_with_the_shortest_failing_prefix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    correct = LZWCodec.decode_with_codebook

    def late_from_the_third_entry(self: LZWCodec, codes: object) -> object:
        decoded = correct(self, codes)
        if decoded.codebook.num_entries < 3:
            return decoded
        return dataclasses.replace(decoded, entry_positions=decoded.entry_positions + 1)

    monkeypatch.setattr(LZWCodec, "decode_with_codebook", late_from_the_third_entry)
    with pytest.raises(SystemExit) as exited:
        codec_fuzz.main(["--streams", "300", "--seed", "1", "--no-progress"])
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert "decode mismatch" in out and "got: decode_with_codebook entry positions" in out
    config = CompressionConfig.from_dict(ast.literal_eval(re.search(r"config: (\{.*\})", out)[1]))
    codes = ast.literal_eval(re.search(r"codes: (\[.*\])", out)[1])
    assert len(lzw.decompress(codes, config)[1]) >= 3 > len(lzw.decompress(codes[:-1], config)[1])


def test_batch_only_mismatch_is_reported_as_such(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    correct = LZWCodec.batch_decode
    monkeypatch.setattr(LZWCodec, "batch_decode", lambda self, seqs: correct(self, seqs)[::-1])
    with pytest.raises(SystemExit):
        codec_fuzz.main(["--streams", "300", "--seed", "1", "--no-progress"])
    assert "batch_decode mismatch only within its batch" in capsys.readouterr().out
