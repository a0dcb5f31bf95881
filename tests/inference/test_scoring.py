"""Continuation scoring: boundary-respecting compression and log-likelihoods that match generation."""

from __future__ import annotations

import pytest
import torch
from _model_factories import VOCAB, compression, repetitive_ids, tiny_base, tiny_zip2zip
from hypothesis import given, settings
from hypothesis import strategies as st

from zip2zip.codec import lzw
from zip2zip.inference.generation import decode_step, prefill
from zip2zip.inference.scoring import score_continuations
from zip2zip.inference.scoring_parse import compress_segments
from zip2zip.modeling.model import Zip2ZipPreTrainedModel

segments_strategy = st.lists(st.lists(st.integers(3, 8), min_size=1, max_size=40), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(segments=segments_strategy)
def test_segments_are_lossless_and_no_code_crosses_a_boundary(segments):
    config = compression(max_codebook_size=16)
    out = compress_segments(segments, config)
    assert sum(out.codes_per_segment) == len(out.codes)
    replay = lzw.LZWStream(config)
    start = 0
    for segment, count in zip(segments, out.codes_per_segment, strict=True):
        before = len(replay.base_ids)
        replay.feed_many(out.codes[start : start + count])
        assert replay.base_ids[before:] == segment  # exactly this segment, nothing more or less
        start += count


@settings(max_examples=200, deadline=None)
@given(ids=st.lists(st.integers(3, 6), min_size=1, max_size=60))
def test_one_segment_parses_like_lzw_except_same_step_codes(ids):
    config = compression(max_codebook_size=32)
    out = compress_segments([ids], config)
    reference, _, _ = lzw.compress(ids, config)
    replay = lzw.LZWStream(config)
    uses_same_step = False
    for code in reference:
        uses_same_step |= code == replay.next_hyper_id
        replay.feed(code)
    if not uses_same_step:
        assert out.codes == reference


def test_out_of_range_base_id_is_rejected():
    with pytest.raises(ValueError, match="outside the base vocabulary"):
        compress_segments([[3, VOCAB]], compression())


def test_empty_context_is_rejected():
    model = tiny_zip2zip()
    with pytest.raises(ValueError, match="empty context"):
        score_continuations(model, [([], [3, 4])])


def test_compression_off_scores_are_the_base_log_likelihood():
    base = tiny_base()
    model = Zip2ZipPreTrainedModel.from_base(base, compression=compression(max_codebook_size=0)).eval()
    context, continuation = [2, 5, 6], repetitive_ids(30)
    (score,) = score_continuations(model, [(context, continuation)])
    ids = torch.tensor([context + continuation])
    with torch.no_grad():
        logprobs = torch.log_softmax(base(ids).logits[0, :-1, :VOCAB].float(), -1)
    expected = logprobs[len(context) - 1 :].gather(-1, torch.tensor(continuation)[:, None]).sum()
    assert score.num_codes == score.num_base_tokens == len(continuation)
    assert score.logprob == pytest.approx(float(expected), abs=1e-4)


def test_scores_equal_incremental_decoding_over_the_joint_vocabulary():
    """What teacher forcing scores is what generation would assign, code by code (same slot masks)."""
    model = tiny_zip2zip(max_codebook_size=24)
    context, continuation = repetitive_ids(25, seed=1, alphabet=4), repetitive_ids(40, seed=2, alphabet=4)
    (score,) = score_continuations(model, [(context, continuation)])
    seg = compress_segments([context, continuation], model.compression)
    n_ctx = seg.codes_per_segment[0]
    assert any(c >= VOCAB for c in seg.codes[n_ctx:])  # the case worth testing: hypertokens are scored
    logits, state = prefill(model, [seg.codes[:n_ctx]], max_new_steps=len(seg.codes))
    total, greedy = 0.0, True
    for code in seg.codes[n_ctx:]:
        total += float(torch.log_softmax(logits[0].float(), -1)[code])
        greedy &= int(logits[0].argmax()) == code
        logits = decode_step(model, state, [code])
    assert score.num_codes == len(seg.codes) - n_ctx
    assert score.logprob == pytest.approx(total, abs=1e-3)
    assert score.is_greedy == greedy


def test_batching_does_not_change_scores():
    model = tiny_zip2zip(max_codebook_size=24)
    requests = [
        (repetitive_ids(5 + 7 * i, seed=i, alphabet=5), repetitive_ids(10 + 9 * i, seed=50 + i, alphabet=5))
        for i in range(5)
    ]
    one_by_one = score_continuations(model, requests, batch_size=1)
    batched = score_continuations(model, requests, batch_size=3)
    for a, b in zip(one_by_one, batched, strict=True):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-3)
        assert (a.num_codes, a.num_base_tokens) == (b.num_codes, b.num_base_tokens)
