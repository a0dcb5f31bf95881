"""Canonical mask: never removes a real next code, parallel == single-step, and what it does to scores and samples."""

from __future__ import annotations

import math

import pytest
import torch
from _model_factories import VOCAB, compression, repetitive_ids, tiny_zip2zip
from hypothesis import example, given, settings
from hypothesis import strategies as st

from zip2zip.codec import lzw
from zip2zip.codec.versions import VersionedCodes, replay_versions
from zip2zip.inference.canonical import CanonicalTracker
from zip2zip.inference.decoding import DecodingConfig
from zip2zip.inference.generation import generate
from zip2zip.inference.scoring import score_continuations
from zip2zip.inference.scoring_parse import compress_segments
from zip2zip.modeling.canonical_mask import canonical_scores, chooser_mask, impossible_code_mask
from zip2zip.modeling.lm_head import slot_mask_from_positions, version_mask_from_intervals

POLICIES = ["freeze", "reset", "lru"]
texts = st.lists(st.integers(3, 7) | st.sampled_from([0, 1]), min_size=2, max_size=80)  # 0, 1: disabled ids
configs = st.builds(
    lambda m, c, policy: compression(max_subtokens=m, max_codebook_size=c, codebook_policy=policy),
    st.integers(2, 4),
    st.integers(1, 24),
    st.sampled_from(POLICIES),
)


def _parallel_mask(codes: list[int], config) -> tuple[torch.Tensor, list[int], VersionedCodes]:
    """The parallel mask ``[T, V + N]`` of a code stream (columns name entry versions), its columns, its versions."""
    v, pad = config.initial_vocab_size, config.pad_token_id
    versions = replay_versions(codes, config)
    entries = versions.entries
    table = torch.full((1, len(entries), config.max_subtokens), pad, dtype=torch.long)
    for r, entry in enumerate(entries):
        table[0, r, : len(entry)] = torch.tensor(entry)
    created = torch.tensor([versions.created], dtype=torch.long).view(1, -1)
    removed = torch.tensor([versions.removed], dtype=torch.long).view(1, -1)
    columns = [c if c < v else v + r for c, r in zip(codes, versions.read_versions, strict=True)]
    ids = torch.tensor([columns])
    if config.codebook_policy == "freeze":
        offered = slot_mask_from_positions(created, len(codes))
        chooser = chooser_mask(offered)
    else:
        hidden = torch.tensor([versions.hidden_versions])
        offered = version_mask_from_intervals(created, removed, hidden)
        chooser = chooser_mask(offered, removed)
    mask = impossible_code_mask(ids, table, chooser, initial_vocab_size=v, pad_token_id=pad)[0]
    return mask, columns, versions


def _assert_next_codes_possible(codes: list[int], config) -> None:
    mask, columns, _ = _parallel_mask(codes, config)
    for j in range(len(codes) - 1):
        assert not mask[j, columns[j + 1]], f"code {j + 1} ({codes[j + 1]}) masked after {codes[: j + 1]}"


@settings(max_examples=300, deadline=None)
@given(ids=texts, config=configs)
@example(  # a reset at code 9 empties the encoder's dictionary before it reads code 9's phrase
    ids=[3, 4, 4, 4, 4, 0, 3, 3, 5, 0, 3, 5, 5, 3, 5, 4, 5, 0, 3, 0, 5, 4, 5, 4],
    config=compression(max_subtokens=4, max_codebook_size=6, codebook_policy="reset"),
)
def test_mask_never_removes_the_encoders_next_code(ids, config):
    codes, _ = lzw.compress_with_history(ids, config)
    _assert_next_codes_possible(codes, config)


@settings(max_examples=300, deadline=None)
@given(ids=texts, config=configs)
def test_mask_never_removes_the_scoring_parses_next_code(ids, config):
    _assert_next_codes_possible(compress_segments([ids], config).codes, config)


def test_mask_blocks_the_extension_the_parse_skipped():
    """V=96: 3 4 creates (3, 4) at code 1; a later lone 3 followed by 4 is impossible, by 5 it is not."""
    config = compression(max_subtokens=3, max_codebook_size=8)
    mask, _, _ = _parallel_mask([3, 4, 5, 3, 4], config)  # entries (3, 4) at 1, (4, 5) at 2, (5, 3) at 3
    assert mask[3, 4] and mask[3, VOCAB + 1]  # base 4 and the entry (4, 5)
    assert not mask[3, 5] and not mask[3, 3] and not mask[3, VOCAB]
    assert not mask[2].any()  # (4,) was chosen at 1, where (4, 5) was not offered yet
    assert not mask[:1].any()  # the first phrase was chosen by no head


@settings(max_examples=150, deadline=None)
@given(ids=texts, config=configs)
@example(  # lru hides the victim (4, 4) at code 1 and creates nothing at code 2: the victim stays live
    ids=[4, 4, 4, 0, 3, 0, 5, 5, 4, 3, 4, 5, 5, 0, 5, 5, 5, 4, 3, 3, 5],
    config=compression(max_subtokens=3, max_codebook_size=1, codebook_policy="lru"),
)
def test_single_step_tracker_equals_parallel_mask(ids, config):
    codes = compress_segments([ids], config).codes
    mask, _, versions = _parallel_mask(codes, config)
    v = config.initial_vocab_size
    stream = lzw.LZWStream(config)
    tracker = CanonicalTracker(stream)
    for j, code in enumerate(codes):
        stream.feed(code)
        single = sorted(tracker.impossible_columns())
        parallel = [c for c in range(v) if mask[j, c]] + [
            versions.hyper_ids[r]
            for r in range(len(versions.entries))
            if mask[j, v + r] and versions.created[r] <= j < versions.removed[r]  # live after code j
        ]
        assert single == sorted(parallel), f"position {j} of {codes}"


def test_canonical_scores_renormalise_over_possible_codes():
    torch.manual_seed(0)
    logits = torch.randn(5, 12)
    impossible = torch.zeros(5, 10, dtype=torch.bool)
    impossible[:, 3] = True
    impossible[2, 7] = True
    targets = torch.tensor([0, 1, 2, 4, 11])
    out = canonical_scores(logits, targets, impossible)
    masked = torch.cat([logits[:, :10].masked_fill(impossible, float("-inf")), logits[:, 10:]], -1)
    probs = torch.softmax(masked, -1)
    torch.testing.assert_close(probs.sum(-1), torch.ones(5))
    torch.testing.assert_close(out.canonical_logprobs, probs.log().gather(-1, targets[:, None]).squeeze(-1))
    torch.testing.assert_close(
        out.impossible_mass,
        torch.softmax(logits, -1)[:, :10][impossible].new_tensor(
            [float(torch.softmax(logits[i], -1)[:10][impossible[i]].sum()) for i in range(5)]
        ),
    )


@pytest.mark.parametrize("policy", POLICIES)
def test_canonical_scoring_keeps_the_unmasked_score_and_only_adds_mass(policy):
    model = tiny_zip2zip(max_codebook_size=8, codebook_policy=policy)
    requests = [
        ([2, *repetitive_ids(30, seed=s, alphabet=4)], repetitive_ids(40, seed=s + 9, alphabet=4))
        for s in range(3)
    ]
    plain = score_continuations(model, requests, batch_size=2)
    both = score_continuations(model, requests, batch_size=2, canonical=True)
    for p, b in zip(plain, both, strict=True):
        assert b.logprob == p.logprob  # the same pass, the same reduction: bit-identical
        assert b.canonical_logprob is not None and b.impossible_mass_sum is not None
        assert math.isfinite(b.canonical_logprob)
        assert b.impossible_mass_sum > 0  # repetitive text: the head puts mass on skipped extensions
        assert b.canonical_logprob > p.logprob


@pytest.mark.parametrize("policy", ["freeze", "lru"])
def test_sampled_generations_are_their_own_scoring_parse(policy):
    """200 samples with the mask re-encode to the codes emitted (without it, some do not: checked below).

    ``reset`` is left out: a reset at code j re-parses code j's ids, so no code stream survives it unchanged."""
    model = tiny_zip2zip(max_codebook_size=12, codebook_policy=policy, max_subtokens=3)
    prompts = [[2]] * 200
    ok = {}
    for canonical in (True, False):
        config = DecodingConfig(
            max_new_tokens=12, do_sample=True, seed=3, ignore_eos=True, canonical=canonical
        )
        rows = generate(model, prompts, config=config).rows
        ok[canonical] = [
            compress_segments([[2], row.base_ids], model.compression).codes[1:] == row.compressed_ids
            for row in rows
        ]
    assert all(ok[True])
    assert not all(ok[False])


def test_canonical_greedy_never_emits_an_impossible_code():
    model = tiny_zip2zip(max_codebook_size=12)
    config = DecodingConfig(max_new_tokens=40, ignore_eos=True, canonical=True)
    row = generate(model, [[2]], config=config).rows[0]
    assert compress_segments([[2], row.base_ids], model.compression).codes[1:] == row.compressed_ids
