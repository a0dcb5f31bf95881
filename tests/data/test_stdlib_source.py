"""``stdlib_source``: a prefix of the sorted standard-library files, recorded by hash; too much is refused."""

from __future__ import annotations

import hashlib
import sysconfig
from pathlib import Path

import pytest

from zip2zip.data.stdlib_source import stdlib_source


def test_the_text_is_a_prefix_of_the_sorted_files() -> None:
    first = min(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    data, info = stdlib_source(3000)
    assert len(data) == info["num_bytes"] == 3000
    assert info["sha256"] == hashlib.sha256(data).hexdigest()
    assert first.read_bytes().startswith(data) or data.startswith(first.read_bytes())
    assert stdlib_source(1000)[0] == data[:1000]


def test_more_than_the_library_holds_is_refused() -> None:
    with pytest.raises(ValueError, match="lower --num-bytes"):
        stdlib_source(10**12)
