"""Generation under every codebook policy on streams that evict (lru) and clear (reset) entries, with C = 6 and
M = 3: step-by-step logits equal those of a full re-run (a prefill of the whole prefix), greedy ``generate``
is the argmax of such re-runs, and the codebook a generation ends with is the codec's decode of its output."""

from __future__ import annotations

import pytest
import torch
from _model_factories import repetitive_ids, tiny_zip2zip

from zip2zip.codec import lzw
from zip2zip.inference.generation import DecodingConfig, decode_step, generate, prefill
from zip2zip.inference.tokenization import compress_ids
from zip2zip.modeling.model import Zip2ZipPreTrainedModel

POLICIES = ["freeze", "reset", "lru"]
MAX_DELTA = 2e-5
NUM_STEPS = 24


def _model(policy: str, *, tie_encoders: bool = False) -> Zip2ZipPreTrainedModel:
    return tiny_zip2zip("llama", max_codebook_size=6, codebook_policy=policy, tie_encoders=tie_encoders)


def _prompt(model: Zip2ZipPreTrainedModel, seed: int) -> list[int]:
    return compress_ids(repetitive_ids(30, seed=seed, alphabet=4), model.compression).ids


def _rerun_logits(model: Zip2ZipPreTrainedModel, codes: list[int]) -> torch.Tensor:
    """Next-id logits ``[V + C]`` after the whole prefix ``codes``, from scratch."""
    return prefill(model, [codes], max_new_steps=1)[0][0]


def _num_removed(model: Zip2ZipPreTrainedModel, codes: list[int]) -> int:
    return sum(r.removed_at is not None for r in lzw.decompress_with_history(codes, model.compression)[1])


@pytest.mark.parametrize("tie_encoders", [False, True], ids=["untied", "tied"])
@pytest.mark.parametrize("policy", POLICIES)
def test_forced_steps_equal_a_full_rerun_of_the_prefix(policy: str, tie_encoders: bool) -> None:
    """Ids drawn at random among those the head offers (non-greedy streams: reads of entries the very same
    step replaces happen too); each step's logits equal a prefill of the prefix, which embeds every prompt id
    as the entry it named when read."""
    model = _model(policy, tie_encoders=tie_encoders)
    generator = torch.Generator().manual_seed(0)
    codes = _prompt(model, seed=1)
    logits, state = prefill(model, [codes], max_new_steps=NUM_STEPS)
    num_replaced_reads = 0
    for _ in range(NUM_STEPS):
        offered = torch.isfinite(logits[0]).nonzero()[:, 0]
        # favour hypertokens, which are what the policies change
        hyper = offered[offered >= model.compression.initial_vocab_size]
        pool = hyper if len(hyper) and torch.rand(1, generator=generator) < 0.7 else offered
        code = int(pool[torch.randint(len(pool), (1,), generator=generator)])
        codes.append(code)
        logits = decode_step(model, state, [code])
        num_replaced_reads += int(state.hyper_cache.reads_replaced_entry[0])
        expected = _rerun_logits(model, codes)
        assert torch.equal(torch.isfinite(logits[0]), torch.isfinite(expected))
        finite = torch.isfinite(expected)
        assert (logits[0][finite] - expected[finite]).abs().max() <= MAX_DELTA
    if policy != "freeze":  # the stream did exercise the policy
        assert _num_removed(model, codes) > 0
    if policy == "reset":
        assert num_replaced_reads > 0


@pytest.mark.parametrize("policy", POLICIES)
def test_greedy_generate_is_the_argmax_of_full_reruns_and_ends_with_the_codecs_codebook(policy: str) -> None:
    model = _model(policy)
    prompt_base = repetitive_ids(30, seed=2, alphabet=4)
    config = DecodingConfig(max_new_tokens=NUM_STEPS, ignore_eos=True)
    row = generate(model, [prompt_base], config=config).rows[0]
    codes = compress_ids(prompt_base, model.compression).ids
    for code in row.compressed_ids:
        assert code == int(_rerun_logits(model, codes).argmax())
        codes.append(code)
    base_ids, entries, _ = lzw.decompress(codes, model.compression)
    assert row.base_ids == base_ids[len(prompt_base) :]
    assert [ids for _, ids in row.codebook] == entries
    if policy != "freeze":
        assert _num_removed(model, codes) > 0
