"""The timed benchmarks' two decoders on tiny random models, batch 2: the cached base loop picks what a
full re-run would, forced ids are fed as given, and zip2zip's counts and base-token budget hold."""

from __future__ import annotations

import pytest
import torch
from _model_factories import VOCAB, compression, repetitive_ids, tiny_base, tiny_zip2zip

from zip2zip.codec.config import CompressionConfig
from zip2zip.codec.lzw import LZWStream, compress, decompress, decompress_with_history
from zip2zip.evaluation.decoders import BaseDecoder, Zip2ZipDecoder
from zip2zip.evaluation.timing import time_decode, time_decode_interleaved

PROMPT_BASE_TOKENS = 24


def _rows(length: int) -> list[list[int]]:
    return [repetitive_ids(length, seed=row, alphabet=4) for row in range(2)]


@torch.no_grad()
def _greedy_without_cache(model: torch.nn.Module, prompts: list[list[int]], steps: int) -> list[list[int]]:
    ids = torch.tensor(prompts)  # [B, P]
    for _ in range(steps):
        ids = torch.cat([ids, model(input_ids=ids).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return ids[:, len(prompts[0]) :].tolist()


def test_base_greedy_matches_a_full_rerun_each_step() -> None:
    model = tiny_base()
    prompts = _rows(PROMPT_BASE_TOKENS)
    decoder = BaseDecoder(model, prompts, max_steps=5)
    timing = time_decode(decoder)
    assert timing.num_steps == 5 and timing.num_emitted_ids == 10
    assert decoder.emitted_ids == _greedy_without_cache(model, prompts, 5)


def test_base_feeds_forced_ids_and_checks_them() -> None:
    texts = _rows(PROMPT_BASE_TOKENS + 4)
    prompts, forced = [t[:PROMPT_BASE_TOKENS] for t in texts], [t[PROMPT_BASE_TOKENS:] for t in texts]
    decoder = BaseDecoder(tiny_base(), prompts, max_steps=4, forced=forced)
    time_decode(decoder)
    assert decoder.emitted_ids == forced
    with pytest.raises(ValueError, match="forced ids"):
        BaseDecoder(tiny_base(), prompts, max_steps=5, forced=forced)


def _compressed_rows(
    num_forced: int, comp: CompressionConfig | None = None
) -> tuple[list[list[int]], list[list[int]]]:
    """(prompt codes, the next ``num_forced`` codes) per row, cut from one compressed text."""
    prompts, forced = [], []
    for text in _rows(PROMPT_BASE_TOKENS + 6 * num_forced):
        codes = compress(text, comp or compression())[0]
        cut = len(codes) - num_forced - 4
        prompts.append(codes[:cut])
        forced.append(codes[cut : cut + num_forced])
    return prompts, forced


def test_zip2zip_forced_counts_and_profile() -> None:
    prompts, forced = _compressed_rows(6)
    decoder = Zip2ZipDecoder(tiny_zip2zip(), prompts, max_steps=6, forced=forced)
    timing = time_decode(decoder, profile=True)
    assert timing.num_steps == 6 and timing.num_emitted_ids == 12
    assert set(timing.profile_s) == {"select", "codec", "encoder", "model"}
    assert decoder.num_hypertokens_fed == sum(code >= VOCAB for row in forced for code in row)
    comp = compression()
    for p, f, decoded in zip(prompts, forced, decoder.decoded_base_ids, strict=True):
        assert decompress(p, comp)[0] + decoded == decompress(p + f, comp)[0]
    new_entries = [
        len(decompress(p + f, comp)[1]) - len(decompress(p, comp)[1])
        for p, f in zip(prompts, forced, strict=True)
    ]
    assert decoder.num_entries_created == sum(new_entries)


@pytest.mark.parametrize("policy", ["freeze", "reset", "lru"])
def test_zip2zip_counts_what_the_codebook_policy_did_and_cost(policy: str) -> None:
    """C = 6 fills in the prompt: entries created and removed while decoding are the codec's history's, each new
    entry is encoded once (tied encoders: one pass serves both sides, also when the LZW same-step code reads the
    entry its own step created), and the head never scores more than C."""
    comp = compression(max_codebook_size=6, codebook_policy=policy)
    prompts, forced = _compressed_rows(8, comp)
    model = tiny_zip2zip(max_codebook_size=6, codebook_policy=policy, tie_encoders=True)
    decoder = Zip2ZipDecoder(model, prompts, max_steps=8, forced=forced)
    time_decode(decoder)
    created = removed = 0
    for p, f in zip(prompts, forced, strict=True):
        history = decompress_with_history(p + f, comp)[1]
        created += sum(r.created_at >= len(p) for r in history)
        removed += sum(r.removed_at is not None and r.removed_at >= len(p) for r in history)
    assert (decoder.num_entries_created, decoder.num_entries_removed) == (created, removed)
    assert (removed > 0) == (policy != "freeze")
    assert decoder.num_entries_encoded == created  # no entry was read in the step that replaced it here
    assert (decoder.num_encoder_calls > 0) == (
        created > 0
    ) and decoder.num_encoder_calls <= 8  # <= 1 per step
    assert 0 < decoder.num_head_slots <= 8 * 6


def test_zip2zip_stops_once_every_row_has_its_budget() -> None:
    prompts, forced = _compressed_rows(8)
    budget = 6
    expected = 0
    for p, f in zip(prompts, forced, strict=True):  # steps each row needs to decode `budget` base ids
        stream = LZWStream(compression())
        stream.feed_many(p)
        start, steps = len(stream.base_ids), 0
        while len(stream.base_ids) - start < budget:
            stream.feed(f[steps])
            steps += 1
        expected = max(expected, steps)
    decoder = Zip2ZipDecoder(tiny_zip2zip(), prompts, max_steps=8, forced=forced, base_token_budget=budget)
    timing = time_decode(decoder)
    assert 0 < timing.num_steps == expected < 8
    assert min(len(ids) for ids in decoder.decoded_base_ids) >= budget


def test_a_second_prefill_starts_the_run_afresh() -> None:
    """``time_decode_interleaved`` repeats short prefills: the run after the last one is a fresh run."""
    base, prompts = tiny_base(), _rows(PROMPT_BASE_TOKENS)
    fresh = BaseDecoder(base, prompts, max_steps=5)
    time_decode(fresh)
    again = BaseDecoder(base, prompts, max_steps=5)
    again.prefill()
    timings = time_decode_interleaved({"base": again}, block_steps=2, prefill_repeats=2)
    assert timings["base"].num_steps == 5 and again.emitted_ids == fresh.emitted_ids

    model = tiny_zip2zip()
    codes, forced = _compressed_rows(6)
    fresh_zip = Zip2ZipDecoder(model, codes, max_steps=6, forced=forced)
    time_decode(fresh_zip)
    again_zip = Zip2ZipDecoder(model, codes, max_steps=6, forced=forced)
    time_decode_interleaved({"zip2zip": again_zip}, block_steps=4, prefill_repeats=3)
    assert again_zip.decoded_base_ids == fresh_zip.decoded_base_ids
    assert again_zip.num_hypertokens_fed == fresh_zip.num_hypertokens_fed
    assert again_zip.num_entries_created == fresh_zip.num_entries_created
