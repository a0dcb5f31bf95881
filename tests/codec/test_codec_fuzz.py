"""The compiled ``LZWCodec`` decodes what the plain-Python reference ``zip2zip.codec.lzw`` decodes, under every
codebook policy, on random walks over valid streams (``_codec_fuzz.py``), and the fuzz can fail: a wrong
decoder is caught and described by its shortest failing prefix.

The fuzz itself is slow: ``-m slow`` runs ZIP2ZIP_CODEC_FUZZ_EXAMPLES batches per policy (default 20, about
10^4 streams); ``nox -s codec_fuzz`` runs 2,000 (about 10^6 streams per policy).
"""

from __future__ import annotations

import ast
import dataclasses
import random
import re

import pytest
from _codec_fuzz import draw_config, fuzz_batch, random_walk
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from zip2zip.codec import lzw
from zip2zip.codec.config import CODEBOOK_POLICIES, CompressionConfig
from zip2zip.codec.lzw_codec import LZWCodec

SMALL_BATCHES = 64  # the fast tests' batch limit, so a broken decoder is found in a second


@pytest.mark.slow
@pytest.mark.parametrize("policy", CODEBOOK_POLICIES)
# No shrinking: a failure already names its shortest failing stream, and re-running batches of thousands of
# streams to shrink the config would take minutes.
@settings(settings.get_profile("codec_fuzz"), phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(config_rng=st.randoms(use_true_random=False), walk_seed=st.integers(0, 2**64 - 1))
def test_fast_decoder_matches_the_reference(policy: str, config_rng: random.Random, walk_seed: int) -> None:
    config, alphabet = draw_config(config_rng, policy)
    failure = fuzz_batch(config, alphabet, random.Random(walk_seed))
    assert failure is None, failure


def _first_failure(policy: str) -> str:
    rng = random.Random(1)
    for _ in range(200):
        failure = fuzz_batch(*draw_config(rng, policy), rng, max_batch_size=SMALL_BATCHES)
        if failure is not None:
            return failure
    raise AssertionError("200 batches found no mismatch")


@pytest.mark.parametrize("policy", ["lru", "reset"])
def test_policy_walks_reach_full_codebooks(policy: str) -> None:
    """Entries are removed (lru evictions, reset emptyings), so ids are reused within the fuzzed streams."""
    rng = random.Random(1)
    removed = 0
    for _ in range(200):
        config, alphabet = draw_config(rng, policy)
        _, reference = random_walk(config, alphabet, 64, [1, 2, 3, 4, 5], rng)
        removed += sum(r.removed_at is not None for r in reference.history)
    assert removed > 0


def test_wrong_entry_positions_are_caught_with_the_shortest_failing_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    correct = LZWCodec.decode_with_codebook

    def late_from_the_third_entry(self: LZWCodec, codes: object) -> object:
        decoded = correct(self, codes)
        if decoded.codebook.num_entries < 3:
            return decoded
        return dataclasses.replace(decoded, entry_positions=decoded.entry_positions + 1)

    monkeypatch.setattr(LZWCodec, "decode_with_codebook", late_from_the_third_entry)
    failure = _first_failure("freeze")
    assert "decode mismatch" in failure and "got: decode_with_codebook entry positions" in failure
    match_config = re.search(r"config: (\{.*\})", failure)
    match_codes = re.search(r"codes: (\[.*\])", failure)
    assert match_config and match_codes
    config = CompressionConfig.from_dict(ast.literal_eval(match_config[1]))
    codes = ast.literal_eval(match_codes[1])
    assert len(lzw.decompress(codes, config)[1]) >= 3 > len(lzw.decompress(codes[:-1], config)[1])


def test_batch_only_mismatch_is_reported_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    correct = LZWCodec.batch_decode
    monkeypatch.setattr(LZWCodec, "batch_decode", lambda self, seqs: correct(self, seqs)[::-1])
    assert "batch_decode mismatch only within its batch" in _first_failure("lru")
