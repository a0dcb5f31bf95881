"""Fixtures of the renderer tests: the figures a plot function drew, kept open so a test can read them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from matplotlib.figure import Figure


@pytest.fixture
def drawn_figures(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Figure]]:
    """Figures the code under test passes to ``plt.close``, in drawing order; closed after the test."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    close = plt.close
    figures: list[Figure] = []
    monkeypatch.setattr(plt, "close", figures.append)
    yield figures
    for figure in figures:
        close(figure)
