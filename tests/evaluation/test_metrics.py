"""Efficiency metrics: ratios of totals (not means of ratios), reuse counting, errors instead of sentinels."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from zip2zip.codec.codebook import Codebook
from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.evaluation.metrics import EfficiencyTotals, _unique_rows, bytes_per_token, gain_percent


def test_scalar_metrics() -> None:
    assert bytes_per_token(10, 4) == 2.5
    assert gain_percent(4.0, 6.0) == 50.0
    with pytest.raises(ValueError):
        bytes_per_token(10, 0)
    with pytest.raises(ValueError):
        gain_percent(0.0, 1.0)


def test_hand_worked_document() -> None:
    """V=10, ids 1 2 1 2 1 2 1 2 -> codes 1 2 10 12 2 (codec docstring): entries 10=(1,2), 11=(2,1),
    12=(1,2,1), 13=(1,2,1,2)? no: M=3, so entry 13 is not created; reused entries: 10 and 12."""
    codec = LZWCodec(10, pad_token_id=0, max_subtokens=3, max_codebook_size=100)
    enc = codec.encode([1, 2, 1, 2, 1, 2, 1, 2])
    assert enc.ids.tolist() == [1, 2, 10, 12, 2]
    totals = EfficiencyTotals(vocab_size=10)
    totals.add_document(16, 8, enc.ids, enc.codebook)
    assert totals.base_bytes_per_token == 2.0
    assert totals.zip2zip_bytes_per_token == 16 / 5
    assert totals.num_hypertoken_uses == 2
    assert totals.num_hypertokens_reused == 2
    assert totals.hypertoken_reuse_fraction == 2 / enc.codebook.num_entries
    top = totals.top_hypertokens(1)
    assert top[0][1] == 1 and top[0][2] == 1


def test_ratio_of_totals_not_mean_of_ratios() -> None:
    class Empty:
        num_entries = 0

    totals = EfficiencyTotals(vocab_size=10)
    totals.add_document(100, 10, np.arange(10) % 10, Empty())  # 10 bytes/token
    totals.add_document(2, 2, np.array([1, 2]), Empty())  # 1 byte/token
    assert totals.base_bytes_per_token == pytest.approx(102 / 12)  # a mean of ratios would say 5.5
    with pytest.raises(ValueError, match="no hypertoken"):
        _ = totals.hypertoken_reuse_fraction


def test_rejects_hypertoken_outside_codebook() -> None:
    class Empty:
        num_entries = 0

    with pytest.raises(ValueError, match="only 0 entries"):
        EfficiencyTotals(vocab_size=10).add_document(3, 3, np.array([1, 10]), Empty())


def _reference_top_hypertokens(
    documents: list[tuple[np.ndarray, Codebook]], vocab_size: int, n: int
) -> list[tuple[tuple[int, ...], int, int]]:
    """Per used entry in Python, as ``EfficiencyTotals`` counted before it was vectorised."""
    uses_by_subtokens: Counter[tuple[int, ...]] = Counter()
    docs_by_subtokens: Counter[tuple[int, ...]] = Counter()
    for codes, codebook in documents:
        for hyper_id, uses in Counter(int(c) for c in codes if c >= vocab_size).items():
            uses_by_subtokens[codebook.subtokens(hyper_id)] += uses
            docs_by_subtokens[codebook.subtokens(hyper_id)] += 1
    ranked = sorted(uses_by_subtokens.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [(key, uses, docs_by_subtokens[key]) for key, uses in ranked]


@pytest.mark.parametrize("max_subtokens", [2, 3, 5], ids=lambda m: f"M{m}")
def test_top_hypertokens_equal_the_per_entry_reference(max_subtokens: int) -> None:
    """Ties in uses are frequent here (a small vocabulary), so the base-id order of ties is checked too,
    including an entry that is a prefix of another."""
    rng = np.random.default_rng(max_subtokens)
    codec = LZWCodec(6, pad_token_id=0, max_subtokens=max_subtokens, max_codebook_size=40)
    documents = []
    totals = EfficiencyTotals(vocab_size=6)
    for _ in range(12):
        ids = rng.integers(0, 6, size=int(rng.integers(0, 120))).tolist()
        enc = codec.encode(ids)
        documents.append((enc.ids, enc.codebook))
        totals.add_document(len(ids), len(ids), enc.ids, enc.codebook)
    expected = _reference_top_hypertokens(documents, 6, 1000)
    assert len(expected) > 20
    assert totals.top_hypertokens(1000) == expected
    assert totals.top_hypertokens(5) == expected[:5]
    assert EfficiencyTotals(vocab_size=6).top_hypertokens(5) == []


def test_unique_rows_equals_numpy_unique() -> None:
    rows = np.random.default_rng(0).integers(-1, 4, size=(300, 3))
    keys, which = _unique_rows(rows)
    expected_keys, expected_which = np.unique(rows, axis=0, return_inverse=True)
    assert np.array_equal(keys, expected_keys)
    assert np.array_equal(which, expected_which.reshape(-1))
    assert _unique_rows(np.array([[2, 1], [1, 5], [2, 1]]))[1].tolist() == [1, 0, 1]
