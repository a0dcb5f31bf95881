"""Codebook policies (freeze, reset, lru): the hand-checked examples of the policy notes, the entry
history they imply, and the configuration that selects them. Both implementations run every example.

The examples: V = 5 (base ids 0-4), M = 3, no disabled ids but the pad 0; slots 5, 6, 7 (C = 3) or 5, 6 (C = 2).
"""

from __future__ import annotations

import pytest

from zip2zip.codec import lzw
from zip2zip.codec.config import CompressionConfig
from zip2zip.codec.lzw_codec import LZWCodec

TWO_PHRASES = [1, 2, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2]

WORKED_EXAMPLES = [
    pytest.param("freeze", 3, TWO_PHRASES, [1, 2, 5, 7, 2, 3, 4, 3, 4, 3, 4, 7, 2], id="freeze-C3"),
    pytest.param("lru", 3, TWO_PHRASES, [1, 2, 5, 7, 2, 3, 4, 7, 7, 1, 2, 6], id="lru-C3"),
    pytest.param("reset", 3, TWO_PHRASES, [1, 2, 5, 7, 2, 3, 4, 5, 5, 1, 2, 5], id="reset-C3"),
    pytest.param("lru", 2, [1] * 10, [1, 5, 6, 6, 1], id="lru-C2-run"),
    pytest.param(
        "lru", 2, [1, 2, 3, 1, 2, 3, 4, 4, 4, 1, 2, 3], [1, 2, 3, 1, 2, 3, 4, 5, 1, 2, 3], id="lru-C2"
    ),
]


@pytest.fixture(params=[pytest.param(False, id="reference"), pytest.param(True, id="fast")])
def use_fast(request: pytest.FixtureRequest) -> bool:
    return request.param


def codec(policy: str, c: int, use_fast: bool) -> LZWCodec:
    return LZWCodec(
        5, pad_token_id=0, max_subtokens=3, max_codebook_size=c, codebook_policy=policy, use_fast=use_fast
    )


@pytest.mark.parametrize(("policy", "c", "ids", "codes"), WORKED_EXAMPLES)
def test_worked_examples_encode_and_decode_back(
    use_fast: bool, policy: str, c: int, ids: list[int], codes: list[int]
) -> None:
    lzw_codec = codec(policy, c, use_fast)
    enc = lzw_codec.encode(ids)
    assert enc.ids.tolist() == codes
    dec = lzw_codec.decode_with_codebook(codes)
    assert dec.base_ids.tolist() == ids
    assert dec.codebook == enc.codebook
    assert dec.history.records() == enc.history.records()
    assert lzw.decompress(codes, lzw_codec.config)[0] == ids


def test_lru_history_follows_the_step_table(use_fast: bool) -> None:
    """The notes' step table of lru, C = 3: step k's entry is created on reading code k (0-based), and its
    victim is gone from that same code on."""
    enc = codec("lru", 3, use_fast).encode(TWO_PHRASES)
    records = [(r.hyper_id, r.base_ids, r.created_at, r.removed_at) for r in enc.history.records()]
    assert records == [
        (5, (1, 2), 1, 7),  # victim of step 7
        (6, (2, 1), 2, 5),  # victim of step 5: leaves 6 @2, 7 @4 (5 has the child 7)
        (7, (1, 2, 1), 3, 6),  # victim of step 6: leaves 6 @5, 7 @4
        (6, (2, 3), 5, 8),  # step 8: 7 is the phrase; leaves 5 @7, 6 @5
        (7, (3, 4), 6, None),
        (5, (4, 3), 7, 9),  # step 9: leaves 5 @7, 6 @8
        (6, (3, 4, 3), 8, 10),  # step 10: leaves 5 @9, 6 @8
        (5, (3, 4, 1), 9, 11),  # step 11: leaves 5 @9, 6 @10
        (6, (1, 2), 10, None),
        (5, (2, 1), 11, None),
    ]
    assert dict(enc.codebook) == {5: (2, 1), 6: (1, 2), 7: (3, 4)}
    assert enc.entry_positions.tolist() == [11, 10, 6]


def test_reset_history_follows_the_notes(use_fast: bool) -> None:
    """reset, C = 3: full at step 5 (all dropped, (2,3) not added) and again at step 9 ((3,4,1) not added)."""
    enc = codec("reset", 3, use_fast).encode(TWO_PHRASES)
    records = [(r.hyper_id, r.base_ids, r.created_at, r.removed_at) for r in enc.history.records()]
    assert records == [
        (5, (1, 2), 1, 5),
        (6, (2, 1), 2, 5),
        (7, (1, 2, 1), 3, 5),
        (5, (3, 4), 6, 9),
        (6, (4, 3), 7, 9),
        (7, (3, 4, 3), 8, 9),
        (5, (1, 2), 10, None),
        (6, (2, 1), 11, None),
    ]
    assert dict(enc.codebook) == {5: (1, 2), 6: (2, 1)}


def test_each_code_names_the_entry_live_at_its_index(use_fast: bool) -> None:
    """The history is enough to expand a stream: code t names the entry with created_at <= t < removed_at."""
    for policy, c, ids, _ in (p.values for p in WORKED_EXAMPLES):
        enc = codec(policy, c, use_fast).encode(ids)  # type: ignore[arg-type]
        expanded: list[int] = []
        for t, code in enumerate(enc.ids.tolist()):
            named = [
                r.base_ids
                for r in enc.history.records()
                if r.hyper_id == code and r.created_at <= t and (r.removed_at is None or t < r.removed_at)
            ]
            expanded.extend(named[0] if code >= 5 else [code])
            assert len(named) == (1 if code >= 5 else 0)
        assert expanded == ids


def test_freeze_history_is_the_codebook() -> None:
    enc = codec("freeze", 3, True).encode(TWO_PHRASES)
    assert [(r.hyper_id, r.base_ids, r.created_at, r.removed_at) for r in enc.history.records()] == [
        (5, (1, 2), 1, None),
        (6, (2, 1), 2, None),
        (7, (1, 2, 1), 3, None),
    ]


def test_lru_stream_reports_reused_ids() -> None:
    """The stream's created entries carry the victim's id, as the model must overwrite that slot."""
    config = CompressionConfig(5, 0, max_subtokens=3, max_codebook_size=3, codebook_policy="lru")
    stream = lzw.LZWStream(config)
    created = stream.feed_many([1, 2, 5, 7, 2, 3, 4])
    assert created == [(5, (1, 2)), (6, (2, 1)), (7, (1, 2, 1)), (6, (2, 3)), (7, (3, 4))]
    assert stream.entries == [(1, 2), (2, 3), (3, 4)]
    assert stream.next_hyper_id == 5  # step 7's victim: leaves 5 @3, 6 @5, 7 @6


def test_lru_victim_id_is_the_same_step_code() -> None:
    """V=5, M=3, C=1, lru: after [1, 5] the only entry, 5 = (1,1), is the pending phrase: no victim exists.
    After 2 it is a leaf other than the pending (2,): the victim, so code 5 names the same-step (2,2)."""
    config = CompressionConfig(5, 0, max_subtokens=3, max_codebook_size=1, codebook_policy="lru")
    stream = lzw.LZWStream(config)
    stream.feed_many([1, 5])
    assert stream.pending_phrase == (1, 1)
    assert stream.next_hyper_id is None  # the only leaf is the pending phrase itself
    stream.feed(2)  # (1,1,2) would be due: no victim, nothing added; pending (2,)
    assert stream.entries == [(1, 1)] and stream.next_hyper_id == 5
    assert stream.same_step_entry() == (2, 2)
    assert stream.feed(5) == [(5, (2, 2))]  # victim 5's id: the same-step entry (2, 2), not (1, 1)
    assert stream.base_ids == [1, 1, 1, 2, 2, 2]


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        pytest.param("lur", "Did you mean 'lru'", id="typo"),
        pytest.param("Reset", "Did you mean 'reset'", id="case"),
        pytest.param("fifo", "Known: freeze, reset, lru", id="unknown"),
    ],
)
def test_unknown_policy_is_a_value_error_with_the_known_names(policy: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"unknown codebook policy '{policy}'.*{message}"):
        CompressionConfig(5, 0, codebook_policy=policy)
    with pytest.raises(ValueError, match=message):
        LZWCodec(5, pad_token_id=0, codebook_policy=policy)


def test_policy_round_trips_and_absent_means_freeze() -> None:
    lru = CompressionConfig(5, 0, max_codebook_size=3, codebook_policy="lru")
    assert lru.to_dict()["codebook_policy"] == "lru"
    assert CompressionConfig.from_dict(lru.to_dict()) == lru
    freeze = CompressionConfig(5, 0, max_codebook_size=3)
    assert "codebook_policy" not in freeze.to_dict()  # files written before policies existed stay identical
    assert CompressionConfig.from_dict(freeze.to_dict()).codebook_policy == "freeze"
    assert LZWCodec.from_config(lru).config == lru
