"""The live view of a benchmark run: one tqdm bar over its cells (which cell, how many remain, an estimate)
and one summary line per finished cell, both on stderr so that stdout and the result file are unchanged.

The estimate is the mean time of the cells finished in this run times the cells left: cells kept by
``--resume`` are counted as done but not timed, so they do not shorten it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType

from tqdm.auto import tqdm


def minutes_left(elapsed_s: float, num_done: int, num_left: int) -> str:
    """``minutes_left(120.0, 2, 3)`` -> ``"3.0 min left"`` (the mean cell so far, times the cells left)."""
    if num_left == 0:
        return "done"
    if num_done == 0:
        return "estimate after the first cell"
    return f"{elapsed_s / num_done * num_left / 60:.1f} min left"


class CellProgress:
    """``with CellProgress("throughput", total=8) as progress:``, then per cell ``progress.start(name)`` and
    ``progress.finish(summary)`` (or ``progress.skip(reason)``); ``progress.note(text)`` shows where inside a cell the run is (a round)."""

    def __init__(
        self,
        benchmark: str,
        *,
        total: int,
        num_kept: int = 0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """``total`` cells of the run, of which ``num_kept`` were finished before (``--resume``)."""
        self._bar = tqdm(
            total=total, initial=num_kept, desc=benchmark, unit="cell", file=sys.stderr, dynamic_ncols=True
        )
        self._clock = clock
        self._started = clock()
        self._num_done = 0
        self._cell = ""

    def __enter__(self) -> CellProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._bar.close()

    def start(self, cell: str) -> None:
        self._cell = cell
        self._bar.set_postfix_str(cell)

    def note(self, text: str) -> None:
        self._bar.set_postfix_str(f"{self._cell}, {text}")

    def finish(self, summary: str) -> None:
        """Count the cell done and print ``summary [done/total, estimate]`` above the bar."""
        self._num_done += 1
        self._advance(summary)

    def skip(self, summary: str) -> None:
        """Count a cell that took no measuring (kept by ``--resume``, or skipped): not in the estimate."""
        self._advance(summary)

    def _advance(self, summary: str) -> None:
        self._bar.update(1)
        total = self._bar.total
        left = minutes_left(self._clock() - self._started, self._num_done, total - self._bar.n)
        self._bar.write(f"{summary} [{self._bar.n}/{total}, {left}]", file=sys.stderr)
