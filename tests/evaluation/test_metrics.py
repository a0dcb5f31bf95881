"""Efficiency metrics: ratios of totals (not means of ratios), reuse counting, errors instead of sentinels."""

from __future__ import annotations

import numpy as np
import pytest

from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.evaluation.metrics import EfficiencyTotals, bytes_per_token, gain_percent


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
