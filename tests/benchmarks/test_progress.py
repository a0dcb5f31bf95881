"""``benchmarks._progress``: the estimate of the time left, and the per-cell lines on stderr (never stdout,
which the result summary uses)."""

from __future__ import annotations

import itertools

import pytest

from benchmarks._progress import CellProgress, minutes_left


@pytest.mark.parametrize(
    ("elapsed_s", "num_done", "num_left", "text"),
    [
        (120.0, 2, 3, "3.0 min left"),
        (0.0, 0, 4, "estimate after the first cell"),
        (50.0, 5, 0, "done"),
    ],
    ids=["mean-cell-times-left", "nothing-timed-yet", "finished"],
)
def test_minutes_left(elapsed_s: float, num_done: int, num_left: int, text: str) -> None:
    assert minutes_left(elapsed_s, num_done, num_left) == text


def test_each_finished_cell_prints_its_line_with_count_and_estimate_on_stderr(capsys) -> None:
    clock = itertools.count(0.0, 30.0)  # 30 s between reads: start, then one read per finished cell
    with CellProgress("throughput", total=4, num_kept=1, clock=lambda: next(clock)) as progress:
        progress.start("code 256+256 replay")
        progress.note("round 2/5")
        progress.finish("code 256+256 replay: prefill x1.31")
    out, err = capsys.readouterr()
    assert out == ""
    assert "code 256+256 replay: prefill x1.31 [2/4, 1.0 min left]" in err


def test_a_skipped_cell_counts_as_done_but_does_not_shorten_the_estimate(capsys) -> None:
    clock = itertools.count(0.0, 60.0)
    with CellProgress("efficiency", total=3, clock=lambda: next(clock)) as progress:
        progress.skip("llama3 code: kept from the previous run")
        progress.finish("smollm2 code: gain 20.0% (main), 4 settings")
    err = capsys.readouterr().err
    assert "llama3 code: kept from the previous run [1/3, estimate after the first cell]" in err
    assert "smollm2 code: gain 20.0% (main), 4 settings [2/3, 2.0 min left]" in err
