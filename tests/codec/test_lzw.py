"""Hand-worked LZW examples, edge cases and bad input, for the reference and the compiled codec alike."""

from __future__ import annotations

import numpy as np
import pytest

from zip2zip.codec import lzw
from zip2zip.codec.config import CompressionConfig
from zip2zip.codec.lzw_codec import LZWCodec

IMPLEMENTATIONS = [pytest.param(False, id="reference"), pytest.param(True, id="fast")]


@pytest.fixture(params=IMPLEMENTATIONS)
def use_fast(request: pytest.FixtureRequest) -> bool:
    return request.param


def codec(
    use_fast: bool, *, v: int = 10, c: int = 100, m: int = 3, disabled: tuple[int, ...] = ()
) -> LZWCodec:
    return LZWCodec(
        v, pad_token_id=0, max_codebook_size=c, max_subtokens=m, disabled_ids=disabled, use_fast=use_fast
    )


def entries(cb) -> dict[int, tuple[int, ...]]:  # type: ignore[no-untyped-def]
    return dict(cb)


def test_alternating_pair(use_fast: bool) -> None:
    """[1,2,1,2,1,2,1,2]: emit 1 (add 10=12), emit 2 (add 11=21), emit 10 (add 12=121), 121 is full -> emit 12, emit 2."""
    enc = codec(use_fast).encode([1, 2, 1, 2, 1, 2, 1, 2])
    assert enc.ids.tolist() == [1, 2, 10, 12, 2]
    assert entries(enc.codebook) == {10: (1, 2), 11: (2, 1), 12: (1, 2, 1)}
    assert enc.entry_positions.tolist() == [1, 2, 3]


def test_run_of_one_id_uses_same_step_codes(use_fast: bool) -> None:
    """[1]*6: emit 1 (add 10=11), emit 10 (add 11=111), then 111 reaches M=3 and is emitted at once."""
    enc = codec(use_fast).encode([1] * 6)
    assert enc.ids.tolist() == [1, 10, 11]
    # Both hypertokens are used in the step that defines them: the decoder must still recover them.
    assert codec(use_fast).decode([1, 10, 11]).tolist() == [1] * 6


def test_disabled_id_ends_phrase_but_keeps_codebook(use_fast: bool) -> None:
    enc = codec(use_fast, disabled=(9,)).encode([1, 2, 9, 1, 2, 1, 2])
    assert enc.ids.tolist() == [1, 2, 9, 10, 10]
    assert all(9 not in e for e in entries(enc.codebook).values())


def test_full_codebook_adds_nothing(use_fast: bool) -> None:
    enc = codec(use_fast, c=3).encode([1, 2, 3, 4, 5] * 3)
    assert entries(enc.codebook) == {10: (1, 2), 11: (2, 3), 12: (3, 4)}
    assert enc.ids.tolist() == [1, 2, 3, 4, 5, 10, 12, 5, 10, 12, 5]


@pytest.mark.parametrize(
    ("ids", "kwargs"),
    [
        pytest.param([], {}, id="empty"),
        pytest.param([7], {}, id="single-id"),
        pytest.param([4] * 50, {}, id="all-same"),
        pytest.param([0, 0, 9, 0], {"disabled": (9,)}, id="all-disabled"),
        pytest.param([1, 1, 1, 1], {"m": 1}, id="M=1-is-identity"),
        pytest.param([1, 2, 1, 2], {"c": 0}, id="C=0-is-identity"),
    ],
)
def test_edge_cases_round_trip(use_fast: bool, ids: list[int], kwargs: dict) -> None:
    c = codec(use_fast, **kwargs)
    enc = c.encode(ids)
    assert c.decode(enc.ids).tolist() == ids
    if kwargs.get("m") == 1 or kwargs.get("c") == 0 or set(ids) <= c.config.disabled_ids:
        assert enc.ids.tolist() == ids
        assert enc.codebook.num_entries == 0


def test_non_canonical_stream_gives_same_text_and_codebook(use_fast: bool) -> None:
    c = codec(use_fast)
    canonical = c.decode_with_codebook([1, 2, 10, 12, 2])
    spelled_out = c.decode_with_codebook([1, 2, 1, 2, 1, 2, 1, 2])
    assert spelled_out.base_ids.tolist() == canonical.base_ids.tolist()
    assert spelled_out.codebook == canonical.codebook


def test_same_step_after_non_canonical_prefix(use_fast: bool) -> None:
    """[1,1,1] leaves the pending phrase (1,1), so 11 (not yet created) means (1,1,1)."""
    assert codec(use_fast).decode([1, 1, 1, 11]).tolist() == [1] * 6


def test_non_greedy_stream_creates_more_entries_than_codes(use_fast: bool) -> None:
    """V=3, M=3: 7 codes spell 13 base ids and create 8 entries; 5 and 6 end up read as parts of longer phrases."""
    c = LZWCodec(3, pad_token_id=2, max_subtokens=3, max_codebook_size=64, use_fast=use_fast)
    dec = c.decode_with_codebook([0, 1, 3, 4, 0, 6, 5])
    assert dec.base_ids.tolist() == [0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1]
    assert [e for _, e in dec.codebook] == [
        (0, 1),
        (1, 0),
        (0, 1, 1),
        (1, 0, 0),
        (0, 1, 0),
        (0, 0),
        (0, 0, 1),
        (1, 1),
    ]
    assert dec.entry_positions.tolist() == [1, 2, 3, 4, 5, 5, 6, 6]


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        pytest.param([10], "id 10 at position 0 does not exist yet", id="hyper-id-first"),
        pytest.param([1, 2, 15], "id 15 at position 2 does not exist yet", id="unknown-hyper-id"),
        pytest.param([1, 2, 1, 2, 1, 2, 13], "id 13 at position 6", id="next-id-that-pending-cannot-form"),
        pytest.param([1, 10, 11, 12], "id 12 at position 3", id="pending-emitted-at-M"),
        pytest.param([1, -1], "id -1 at position 1", id="negative"),
        pytest.param([1, 9, 10], "id 10 at position 2", id="same-step-after-disabled"),
    ],
)
def test_decode_rejects_ids_that_cannot_exist(use_fast: bool, codes: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        codec(use_fast, disabled=(9,)).decode(codes)


@pytest.mark.parametrize("bad", [10, 12, -3, 2**40], ids=["V", "hyper-range", "negative", "huge"])
def test_encode_rejects_ids_outside_base_vocab(use_fast: bool, bad: int) -> None:
    with pytest.raises(
        ValueError, match=rf"base id {bad} at position 2 is outside the base vocabulary 0\.\.9"
    ):
        codec(use_fast).encode([1, 2, bad, 1])


def test_encode_rejects_float_and_2d_input() -> None:
    c = codec(True)
    with pytest.raises(TypeError, match="integer ids"):
        c.encode(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="1-D"):
        c.encode(np.ones((2, 2), np.int64))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"initial_vocab_size": 0, "pad_token_id": 0}, "initial_vocab_size=0", id="empty-vocab"),
        pytest.param({"initial_vocab_size": 10, "pad_token_id": 10}, "pad_token_id=10", id="pad-outside"),
        pytest.param(
            {"initial_vocab_size": 10, "pad_token_id": 0, "max_subtokens": 0}, "max_subtokens=0", id="M=0"
        ),
        pytest.param(
            {"initial_vocab_size": 10, "pad_token_id": 0, "max_codebook_size": -1},
            "max_codebook_size=-1",
            id="C<0",
        ),
        pytest.param(
            {"initial_vocab_size": 10, "pad_token_id": 0, "disabled_ids": frozenset({11})},
            r"disabled_ids \[11\]",
            id="disabled-outside",
        ),
    ],
)
def test_config_rejects_impossible_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CompressionConfig(**kwargs)


def test_config_rejects_non_int() -> None:
    with pytest.raises(TypeError, match="max_subtokens must be an int"):
        CompressionConfig(10, 0, max_subtokens=2.5)  # type: ignore[arg-type]


def test_pad_is_always_disabled() -> None:
    assert 0 in CompressionConfig(10, 0).disabled_ids
    assert codec(True).encode([1, 1, 0, 1, 1, 1, 1]).ids.tolist() == [1, 1, 0, 10, 10]


def test_config_round_trips_through_dict() -> None:
    config = CompressionConfig(10, 0, max_subtokens=4, max_codebook_size=7, disabled_ids=frozenset({3}))
    assert CompressionConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown CompressionConfig keys"):
        CompressionConfig.from_dict({**config.to_dict(), "max_merge": 3})


class TestStream:
    def test_feed_returns_exactly_the_entries_created(self) -> None:
        stream = lzw.LZWStream(CompressionConfig(10, 0, max_codebook_size=100))
        assert stream.feed(1) == []
        assert stream.feed(2) == [(10, (1, 2))]
        assert stream.feed(10) == [(11, (2, 1))]
        assert stream.feed(12) == [(12, (1, 2, 1))]  # same-step code: created by this very step
        assert stream.base_ids == [1, 2, 1, 2, 1, 2, 1]

    def test_same_step_entry_is_pending_plus_its_first_id(self) -> None:
        stream = lzw.LZWStream(CompressionConfig(10, 0, max_codebook_size=100))
        assert stream.same_step_entry() is None  # nothing pending yet
        stream.feed(1)
        assert stream.same_step_entry() == (1, 1)
        assert stream.expand(10) == (1, 1)
        with pytest.raises(ValueError, match="id 11 at position 1 does not exist yet"):
            stream.expand(11)
