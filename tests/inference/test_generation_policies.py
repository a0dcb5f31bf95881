"""Generation under every codebook policy on streams that evict (lru) and clear (reset) entries, with C = 6 and
M = 3: step-by-step logits equal those of a full re-run (a prefill of the whole prefix) and those of the
whole-sequence pass over entry versions (what scoring runs), greedy ``generate`` is the argmax of re-runs,
and the codebook a generation ends with is the codec's decode of its output."""

from __future__ import annotations

import pytest
import torch
from _model_factories import repetitive_ids, tiny_zip2zip

from zip2zip.codec import lzw
from zip2zip.codec.history import NO_POSITION
from zip2zip.codec.versions import replay_versions
from zip2zip.inference.generation import DecodingConfig, decode_step, generate, prefill
from zip2zip.inference.scoring import score_continuations
from zip2zip.inference.scoring_parse import SegmentedCodes, batch_inputs, compress_segments
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


def _forced_walk(
    model: Zip2ZipPreTrainedModel, *, seed: int
) -> tuple[list[int], int, list[torch.Tensor], int]:
    """A prompt then ``NUM_STEPS`` ids drawn among those the head offers (mostly hypertokens, which are what
    the policies change): (codes, prompt length, next-id logits after each code from the prompt's last on,
    number of steps that read an entry the same step replaced)."""
    generator = torch.Generator().manual_seed(seed)
    codes = _prompt(model, seed=seed + 1)
    num_prompt = len(codes)
    logits, state = prefill(model, [codes], max_new_steps=NUM_STEPS)
    steps, num_replaced_reads = [logits[0]], 0
    for _ in range(NUM_STEPS):
        offered = torch.isfinite(logits[0]).nonzero()[:, 0]
        hyper = offered[offered >= model.compression.initial_vocab_size]
        pool = hyper if len(hyper) and torch.rand(1, generator=generator) < 0.7 else offered
        code = int(pool[torch.randint(len(pool), (1,), generator=generator)])
        codes.append(code)
        logits = decode_step(model, state, [code])
        steps.append(logits[0])
        num_replaced_reads += int(state.hyper_cache.reads_replaced_entry[0])
    return codes, num_prompt, steps, num_replaced_reads


@pytest.mark.parametrize("tie_encoders", [False, True], ids=["untied", "tied"])
@pytest.mark.parametrize("policy", POLICIES)
def test_the_whole_sequence_pass_over_versions_equals_the_steps(policy: str, tie_encoders: bool) -> None:
    """At each position the versions live there (created, not yet removed, not the hidden lru victim) are the
    columns generation offers under their ids, with equal logits; base columns equal too."""
    model = _model(policy, tie_encoders=tie_encoders)
    codes, num_prompt, steps, _ = _forced_walk(model, seed=10)
    codes.append(model.compression.pad_token_id)  # the last code is only a target: feed one more
    stream = lzw.LZWStream(model.compression)
    versions = None if policy == "freeze" else replay_versions(codes, model.compression)
    stream.feed_many(codes)
    inputs = batch_inputs(
        [SegmentedCodes(codes, [len(codes)], stream, versions)], model.compression, device=torch.device("cpu")
    )
    with torch.no_grad():
        parallel = inputs.logits(model)[0]  # [T, V + C or N]
    v = model.compression.initial_vocab_size
    for step, t in enumerate(range(num_prompt - 1, len(codes) - 1)):
        expected, got = steps[step], parallel[t]
        assert (got[:v] - expected[:v]).abs().max() <= MAX_DELTA
        if versions is None:
            columns = {c: c for c in range(v, len(expected))}
        else:
            columns = {
                v + r: versions.hyper_ids[r]
                for r in range(len(versions.entries))
                if versions.created[r] <= t < versions.removed[r] and versions.hidden_versions[t] != r
            }
        finite = [c for c in range(v, len(got)) if torch.isfinite(got[c])]
        assert sorted(finite) == sorted(c for c in columns if torch.isfinite(got[c]))
        assert sorted(columns[c] for c in finite) == sorted(
            int(i) for i in torch.isfinite(expected[v:]).nonzero()[:, 0] + v
        )
        for column in finite:
            assert abs(float(got[column]) - float(expected[columns[column]])) <= MAX_DELTA


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


@pytest.mark.parametrize("policy", ["reset", "lru"])
def test_batched_generation_equals_per_row_generation(policy: str) -> None:
    """Rows share only tensor shapes: refills, resets, hidden victims and replaced reads stay per row."""
    model = _model(policy)
    prompts = [repetitive_ids(n, seed=seed, alphabet=4) for n, seed in ((30, 3), (17, 4), (24, 5))]
    config = DecodingConfig(max_new_tokens=NUM_STEPS, ignore_eos=True)
    batched = generate(model, prompts, config=config).rows
    for prompt, row in zip(prompts, batched, strict=True):
        alone = generate(model, [prompt], config=config).rows[0]
        assert row.compressed_ids == alone.compressed_ids


@pytest.mark.parametrize("policy", POLICIES)
def test_versions_are_the_codecs_history(policy: str) -> None:
    """Entries, ids and [created, removed) intervals of a replay equal ``lzw.decompress_with_history``'s."""
    model = _model(policy)
    codes, *_ = _forced_walk(model, seed=20)
    versions = replay_versions(codes, model.compression)
    records = lzw.decompress_with_history(codes, model.compression)[1]
    assert versions.entries == [r.base_ids for r in records]
    assert versions.hyper_ids == [r.hyper_id for r in records]
    assert versions.created == [r.created_at for r in records]
    assert versions.removed == [NO_POSITION if r.removed_at is None else r.removed_at for r in records]
    v = model.compression.initial_vocab_size
    for index, (code, read) in enumerate(zip(codes, versions.read_versions, strict=True)):
        if code >= v:  # the version a code reads had its id and was live (or made) by that code
            assert versions.hyper_ids[read] == code
            assert versions.created[read] <= index <= versions.removed[read]


@pytest.mark.parametrize("policy", POLICIES)
def test_scoring_a_continuation_sums_the_step_log_probabilities(policy: str) -> None:
    """``score_continuations`` (perplexity, lm-eval) parses as generation could and scores with the version
    pass: its log-probability equals forcing the same codes through decode steps."""
    model = _model(policy)
    context, continuation = repetitive_ids(30, seed=6, alphabet=4), repetitive_ids(30, seed=7, alphabet=4)
    (score,) = score_continuations(model, [(context, continuation)])
    segmented = compress_segments([context, continuation], model.compression)
    num_context = segmented.codes_per_segment[0]
    logits, state = prefill(model, [segmented.codes[:num_context]], max_new_steps=len(segmented.codes))
    expected = 0.0
    for code in segmented.codes[num_context:]:
        expected += float(torch.log_softmax(logits[0].float(), dim=-1)[code])
        logits = decode_step(model, state, [code])
    assert abs(score.logprob - expected) <= 1e-4
    if policy != "freeze":
        assert _num_removed(model, segmented.codes) > 0
