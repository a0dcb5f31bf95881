"""Hypothesis properties of the codec under every codebook policy: lossless, bounded, prefix-closed,
streaming == batch, fast == reference (codes, live codebook and the history of every entry)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from zip2zip.codec import lzw
from zip2zip.codec.config import CODEBOOK_POLICIES, CompressionConfig
from zip2zip.codec.lzw_codec import EntryHistory, LZWCodec


@st.composite
def configs(draw: st.DrawFn) -> CompressionConfig:
    vocab_size = draw(st.integers(2, 40))
    return CompressionConfig(
        vocab_size,
        draw(st.integers(0, vocab_size - 1)),
        max_subtokens=draw(st.integers(1, 8)),
        max_codebook_size=draw(st.integers(0, 64)),
        disabled_ids=draw(st.frozensets(st.integers(0, vocab_size - 1), max_size=3)),
        codebook_policy=draw(st.sampled_from(CODEBOOK_POLICIES)),
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[CompressionConfig, list[int]]:
    """A config over a small vocabulary and an id stream drawn from a few ids (heavy repetition)."""
    config = draw(configs())
    alphabet = draw(
        st.lists(st.integers(0, config.initial_vocab_size - 1), min_size=1, max_size=6, unique=True)
    )
    ids = draw(st.lists(st.sampled_from(alphabet), max_size=300))
    return config, ids


@st.composite
def random_walks(draw: st.DrawFn) -> tuple[CompressionConfig, list[int]]:
    """A config and a compressed stream whose every id is live when read: a base id, an existing
    hypertoken or, where legal, the same-step id. Unlike encoder output, such a stream may read a
    hypertoken that the pending phrase runs into ("non-greedy"): the decoder then re-parses its ids
    and can create several entries in one step, more entries in all than the stream has codes."""
    config = draw(configs())
    v = config.initial_vocab_size
    alphabet = draw(st.lists(st.integers(0, v - 1), min_size=1, max_size=6, unique=True))
    stream = lzw.LZWStream(config)
    codes: list[int] = []
    kinds = st.sampled_from(["base", "hypertoken", "same-step", "non-greedy"])
    num_steps = draw(st.integers(0, 100))  # drawn first: lists drawn freely average a handful of steps
    steps = st.lists(st.tuples(kinds, st.integers(0, 2**16)), min_size=num_steps, max_size=num_steps)
    for kind, choice in draw(steps):
        # under lru the victim's id names the same-step entry, no longer the live one
        readable = [k for k in range(stream.num_entries) if v + k != stream.next_hyper_id]
        runs_into = [
            k
            for k in readable
            if kind == "non-greedy"
            and stream.hyper_id_of((*stream.pending_phrase, stream.entries[k][0])) is not None
        ]
        if runs_into:
            code = v + runs_into[choice % len(runs_into)]
        elif kind == "hypertoken" and readable:
            code = v + readable[choice % len(readable)]
        elif kind == "same-step" and stream.same_step_entry() is not None:
            code = stream.next_hyper_id
        else:
            code = alphabet[choice % len(alphabet)]
        stream.feed(code)
        codes.append(code)
    return config, codes


def fast(config: CompressionConfig) -> LZWCodec:
    return LZWCodec.from_config(config)


def named_at(history: EntryHistory, code: int, t: int) -> list[int]:
    """Base ids of the one entry that hypertoken ``code`` names at code index t (raises if not exactly one)."""
    (row,) = np.flatnonzero(
        (history.hyper_ids == code) & (history.created_at <= t) & (t < history.removed_at)
    )
    return history.table[row, : history.lengths[row]].tolist()


@given(cases())
def test_round_trip_is_lossless(case: tuple[CompressionConfig, list[int]]) -> None:
    config, ids = case
    codes, _, _ = lzw.compress(ids, config)
    assert lzw.decompress(codes, config)[0] == ids
    assert fast(config).decode(fast(config).encode(ids).ids).tolist() == ids


@given(cases())
def test_codebook_invariants(case: tuple[CompressionConfig, list[int]]) -> None:
    config, ids = case
    enc = fast(config).encode(ids)
    cb = enc.codebook
    assert cb.num_entries <= config.max_codebook_size
    assert all(2 <= len(entry) <= config.max_subtokens for _, entry in cb)
    assert all(not (set(entry) & config.disabled_ids) for _, entry in cb)
    assert len({entry for _, entry in cb}) == cb.num_entries  # no duplicate phrases
    assert len(enc.ids) <= max(len(ids), 0)
    assert len(enc.history.hyper_ids) <= max(len(ids) - 1, 0)  # memory follows the input, not C
    assert np.all(np.diff(enc.history.created_at) >= 0)
    assert np.all(enc.history.removed_at > enc.history.created_at)
    # each code names exactly one entry: the one with its id and created_at <= t < removed_at (t ==
    # created_at is the same-step code, created by its own step); its base ids spell the input
    spelled: list[int] = []
    for t, code in enumerate(enc.ids.tolist()):
        spelled.extend(named_at(enc.history, code, t) if code >= config.initial_vocab_size else [code])
    assert spelled == ids


@given(cases())
def test_dictionary_stays_prefix_closed(case: tuple[CompressionConfig, list[int]]) -> None:
    """After every step, every live entry's prefix of two or more ids is live too (lru evicts leaves only)."""
    config, ids = case
    codes, _, _ = lzw.compress(ids, config)
    stream = lzw.LZWStream(config)
    for code in codes:
        stream.feed(code)
        live = set(stream.entries)
        assert all(entry[:-1] in live for entry in live if len(entry) > 2)
        assert stream.num_entries <= config.max_codebook_size


@given(cases())
def test_fast_equals_reference(case: tuple[CompressionConfig, list[int]]) -> None:
    config, ids = case
    codes, entries, positions = lzw.compress(ids, config)
    enc = fast(config).encode(ids)
    assert enc.ids.tolist() == codes
    assert [e for _, e in enc.codebook] == entries
    assert enc.entry_positions.tolist() == positions
    assert enc.history.records() == lzw.compress_with_history(ids, config)[1]
    dec = fast(config).decode_with_codebook(codes)
    ref_base, ref_entries, ref_positions = lzw.decompress(codes, config)
    assert dec.base_ids.tolist() == ref_base
    assert [e for _, e in dec.codebook] == ref_entries
    assert dec.entry_positions.tolist() == ref_positions == positions
    assert dec.history.records() == lzw.decompress_with_history(codes, config)[1] == enc.history.records()


@given(random_walks())
def test_fast_equals_reference_on_random_walks(walk: tuple[CompressionConfig, list[int]]) -> None:
    """Alone, and every prefix in one batch, where a table overrun would land in the next prefix's rows."""
    config, codes = walk
    codec = fast(config)
    ref_base, ref_entries, ref_positions = lzw.decompress(codes, config)
    dec = codec.decode_with_codebook(codes)
    assert dec.base_ids.tolist() == ref_base
    assert [e for _, e in dec.codebook] == ref_entries
    assert dec.entry_positions.tolist() == ref_positions
    assert dec.history.records() == lzw.decompress_with_history(codes, config)[1]
    prefixes = [np.array(codes[:n], np.int64) for n in range(len(codes) + 1)]
    batch = codec._decode_many(prefixes)  # the kernel path of batch_decode, which returns base ids only
    assert [d.base_ids.tolist() for d in batch] == [b.tolist() for b in codec.batch_decode(prefixes)]
    for prefix, prefix_dec in zip(prefixes, batch, strict=True):
        ref_prefix = lzw.decompress(prefix.tolist(), config)
        assert prefix_dec.base_ids.tolist() == ref_prefix[0]
        assert [e for _, e in prefix_dec.codebook] == ref_prefix[1]
        assert prefix_dec.entry_positions.tolist() == ref_prefix[2]
        assert prefix_dec.history.records() == lzw.decompress_with_history(prefix.tolist(), config)[1]
    ref_codes, ref_encoded_entries, _ = lzw.compress(ref_base, config)
    enc = codec.encode(ref_base)
    assert enc.ids.tolist() == ref_codes
    assert [e for _, e in enc.codebook] == ref_encoded_entries == ref_entries


@given(cases())
def test_stream_equals_batch_decoder_at_every_prefix(case: tuple[CompressionConfig, list[int]]) -> None:
    config, ids = case
    codec = fast(config)
    codes = codec.encode(ids).ids.tolist()
    stream = codec.new_stream()
    for t, code in enumerate(codes):
        created = stream.feed(code)
        prefix = codec.decode_with_codebook(codes[: t + 1])
        assert stream.base_ids == prefix.base_ids.tolist()
        assert stream.entries == [e for _, e in prefix.codebook]
        assert created == [(r.hyper_id, r.base_ids) for r in prefix.history.records() if r.created_at == t]
        assert stream.history == prefix.history.records()


@given(cases(), st.randoms(use_true_random=False))
def test_non_canonical_streams_decode_to_same_text_and_codebook(case, rng) -> None:  # type: ignore[no-untyped-def]
    """Replace some hypertokens by their base ids, as a model may emit them: same text, same codebook."""
    config, ids = case
    codec = fast(config)
    enc = codec.encode(ids)
    spelled: list[int] = []
    for t, code in enumerate(enc.ids.tolist()):
        if code >= config.initial_vocab_size and rng.random() < 0.5:
            spelled.extend(named_at(enc.history, code, t))
        else:
            spelled.append(code)
    for decoder in (codec, LZWCodec.from_config(config, use_fast=False)):
        dec = decoder.decode_with_codebook(spelled)
        assert dec.base_ids.tolist() == ids
        assert dec.codebook == enc.codebook


@given(st.lists(cases(), min_size=1, max_size=6).filter(lambda cs: True), st.sampled_from(["left", "right"]))
def test_batch_equals_single(cases_, padding_side) -> None:  # type: ignore[no-untyped-def]
    config = cases_[0][0]
    seqs = [[i for i in ids if i < config.initial_vocab_size] for _, ids in cases_]
    codec = LZWCodec.from_config(config, num_threads=2)
    batch = codec.batch_encode(seqs, padding_side=padding_side)
    singles = [codec.encode(s) for s in seqs]
    for b, single in enumerate(singles):
        row = batch.ids[b][batch.attention_mask[b].astype(bool)]
        assert row.tolist() == single.ids.tolist()
        assert batch.codebooks[b] == single.codebook
        offset = batch.ids.shape[1] - len(single.ids) if padding_side == "left" else 0
        assert (batch.entry_positions[b] - offset).tolist() == single.entry_positions.tolist()
    decoded = codec.batch_decode(batch.ids, attention_mask=batch.attention_mask)
    assert [d.tolist() for d in decoded] == seqs
