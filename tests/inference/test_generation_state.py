"""Decode state stays consistent: a refused step changes nothing, and after any mix of accepted and
refused steps every row's stream, hyper cache and KV cache are those a fresh prefill of the row's
accepted codes gives (its logits included)."""

from __future__ import annotations

import dataclasses
import functools

import pytest
import torch
from _model_factories import VOCAB, tiny_zip2zip
from hypothesis import event, given
from hypothesis import strategies as st

from zip2zip.codec import lzw
from zip2zip.inference.generation import DecodeState, decode_step, prefill
from zip2zip.modeling.model import Zip2ZipPreTrainedModel

MAX_STEPS = 6


@functools.cache
def _model(position_mode: str = "compressed") -> Zip2ZipPreTrainedModel:
    """One tiny model per position mode, shared by every example (hypothesis reruns the test body)."""
    model = tiny_zip2zip("llama", max_subtokens=3, max_codebook_size=16)
    model.config = dataclasses.replace(model.config, position_mode=position_mode)
    return model


def _snapshot(state: DecodeState) -> dict[str, object]:
    """Everything a step may change, copied (host lists, numpy arrays and tensors as lists)."""
    cache = state.hyper_cache
    return {
        "base_ids": [list(s.base_ids) for s in state.streams],
        "entries": [list(s.entries) for s in state.streams],
        "pending": [s.pending_phrase for s in state.streams],
        "num_ids_fed": [s.num_ids_fed for s in state.streams],
        "length": state.length,
        "kv_length": state.past_key_values.get_seq_length(),
        "next_positions": state.next_positions.tolist(),
        "is_active": list(state.is_active),
        "cache_num_entries": cache.num_entries.tolist(),
        "is_input_encoded": cache.is_input_encoded.tolist(),
        "input_embeds": cache.input_embeds.clone(),
        "output_embeds": cache.output_embeds.clone(),
    }


def _assert_same(before: dict[str, object], after: dict[str, object]) -> None:
    for key, value in before.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, after[key]), key  # type: ignore[arg-type]
        else:
            assert value == after[key], key


def _prompt_codes(model: Zip2ZipPreTrainedModel) -> list[list[int]]:
    """Two rows, each compressed to 4 codes with 3 entries (1 of them a hypertoken read back)."""
    prompts = [[5, 6, 5, 6, 7], [8, 9, 8, 9, 10]]
    codes = [lzw.compress(p, model.compression)[0] for p in prompts]
    assert [len(c) for c in codes] == [4, 4]
    return codes


def test_step_with_a_code_that_does_not_exist_yet_is_refused_and_changes_nothing():
    """The reported case: ``[5, V + 5]`` once fed row 0 (4 -> 5 ids) and then failed on row 1, leaving
    row 0's stream one id ahead of its KV cache."""
    model = _model()
    _, state = prefill(model, _prompt_codes(model), max_new_steps=4)
    before = _snapshot(state)
    with pytest.raises(ValueError, match=rf"^decode_step: row 1: .*\b{VOCAB + 5}\b") as err:
        decode_step(model, state, [5, VOCAB + 5])
    assert "\n" not in str(err.value)
    _assert_same(before, _snapshot(state))
    # the state still works and equals a prefill of the accepted codes
    logits = decode_step(model, state, [5, 8])
    expected, _ = prefill(
        model, [[*c, n] for c, n in zip(_prompt_codes(model), [5, 8], strict=True)], max_new_steps=1
    )
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    ("ids", "error", "message"),
    [
        pytest.param([5], ValueError, r"^decode_step got 1 ids for a batch of 2$", id="too-few-ids"),
        pytest.param([5, 8, 9], ValueError, r"^decode_step got 3 ids for a batch of 2$", id="too-many-ids"),
        pytest.param([5, -1], ValueError, r"^decode_step: row 1: .*-1\b", id="negative-id"),
        pytest.param([5, 1.5], TypeError, r"^decode_step: row 1: .*1\.5\b", id="float-id"),
    ],
)
def test_malformed_step_is_refused_and_changes_nothing(ids, error, message):
    model = _model()
    _, state = prefill(model, _prompt_codes(model), max_new_steps=4)
    before = _snapshot(state)
    with pytest.raises(error, match=message):
        decode_step(model, state, ids)
    _assert_same(before, _snapshot(state))


def test_step_beyond_max_new_steps_is_refused_and_changes_nothing():
    model = _model()
    _, state = prefill(model, _prompt_codes(model), max_new_steps=1)
    decode_step(model, state, [5, 8])
    before = _snapshot(state)
    with pytest.raises(ValueError, match=r"more decode steps than prefill\(max_new_steps=...\) allowed"):
        decode_step(model, state, [5, 8])
    _assert_same(before, _snapshot(state))


# Base ids from a small alphabet (so hypertokens form) and hypertoken ids around those that exist.
_prompt = st.lists(st.integers(3, 6), min_size=1, max_size=8)
_code = st.one_of(st.integers(3, 6), st.integers(VOCAB, VOCAB + 10))


def _is_valid(codes: list[int], code: int, model: Zip2ZipPreTrainedModel) -> bool:
    """Whether the reference decoder accepts ``code`` after ``codes``."""
    try:
        lzw.decompress([*codes, code], model.compression)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("position_mode", ["compressed", "base_token_end"])
@given(data=st.data())
def test_any_mix_of_steps_leaves_every_row_as_a_fresh_prefill_of_its_accepted_codes(position_mode, data):
    """Per row: stream == decompress(accepted codes); KV columns the row attends to == ids its stream
    decoded; hyper-cache entries == stream entries; logits == a fresh prefill of the accepted codes."""
    model = _model(position_mode)
    prompts = data.draw(st.lists(_prompt, min_size=1, max_size=3), label="prompts")
    accepted = [lzw.compress(p, model.compression)[0] for p in prompts]
    logits, state = prefill(model, accepted, max_new_steps=MAX_STEPS)
    for _ in range(data.draw(st.integers(0, MAX_STEPS), label="num_steps")):
        ids = data.draw(st.lists(_code, min_size=len(prompts), max_size=len(prompts)), label="ids")
        if all(_is_valid(codes, code, model) for codes, code in zip(accepted, ids, strict=True)):
            logits = decode_step(model, state, ids)
            event("accepted a hypertoken" if max(ids) >= VOCAB else "accepted base ids only")
            accepted = [[*codes, code] for codes, code in zip(accepted, ids, strict=True)]
        else:
            before = _snapshot(state)
            event("refused")
            with pytest.raises(ValueError):  # the message is the first test's
                decode_step(model, state, ids)
            _assert_same(before, _snapshot(state))
    columns = state.attention_mask[:, : state.length]
    assert state.past_key_values.get_seq_length() == state.length
    for row, (stream, codes) in enumerate(zip(state.streams, accepted, strict=True)):
        base_ids, entries, _ = lzw.decompress(codes, model.compression)
        assert (stream.base_ids, stream.entries) == (base_ids, entries)
        assert stream.num_ids_fed == int(columns[row].sum()) == len(codes)
        assert state.hyper_cache.num_entries[row] == len(entries)
        fresh_logits, fresh = prefill(model, [codes], max_new_steps=1)
        read_fresh = fresh.hyper_cache.is_input_encoded[0]
        assert not (read_fresh & ~state.hyper_cache.is_input_encoded[row]).any()  # all it reads, read here
        torch.testing.assert_close(logits[row], fresh_logits[0], atol=1e-4, rtol=1e-4)
