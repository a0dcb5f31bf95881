"""Codebook: lookups, fixed-shape tables for the hyper-encoder, serialisation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zip2zip.codec.codebook import Codebook
from zip2zip.codec.config import CompressionConfig

CONFIG = CompressionConfig(10, 0, max_subtokens=3, max_codebook_size=4)


def make() -> Codebook:
    return Codebook.from_entries(CONFIG, [(1, 2), (2, 1), (1, 2, 1)])


def test_subtokens_and_iteration() -> None:
    cb = make()
    assert cb.num_entries == len(cb) == 3
    assert cb.subtokens(12) == (1, 2, 1)
    assert list(cb) == [(10, (1, 2)), (11, (2, 1)), (12, (1, 2, 1))]
    with pytest.raises(ValueError, match="hypertoken id 13 is not in this codebook"):
        cb.subtokens(13)
    with pytest.raises(ValueError, match="hypertoken id 5 is not in this codebook"):
        cb.subtokens(5)


def test_tables_are_padded_with_the_pad_id() -> None:
    cb = make()
    assert cb.table.tolist() == [[1, 2, 0], [2, 1, 0], [1, 2, 1]]
    padded = cb.padded_table()
    assert padded.shape == (4, 3)
    assert padded[3].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="num_rows=2 < num_entries=3"):
        cb.padded_table(2)
    with pytest.raises(ValueError):  # read-only: a cached table cannot be mutated by accident
        cb.table[0, 0] = 5


def test_dict_round_trip_through_json() -> None:
    cb = make()
    again = Codebook.from_dict(json.loads(json.dumps(cb.to_dict())))
    assert again == cb
    bad = cb.to_dict()
    bad["entries"].append([7])
    with pytest.raises(ValueError, match="entry 3 has 1 base ids"):
        Codebook.from_dict(bad)


def test_bound_is_enforced() -> None:
    with pytest.raises(ValueError, match="exceed max_codebook_size=4"):
        Codebook.from_entries(CONFIG, [(1, 2)] * 5)
    assert Codebook.empty(CONFIG).table.shape == (0, 3)
    assert np.array_equal(Codebook.empty(CONFIG).lengths, np.zeros(0))
