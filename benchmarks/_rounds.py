"""How many timed rounds a cell of ``throughput`` or ``decode_step`` gets: a fixed count, or as many as its
ratios (zip2zip / base, paired by round) need for a 95% interval within a stated half-width.

A fixed count (``--num-repeats N``) runs exactly N rounds, as the regression presets do. Adaptive runs
(no count given) take at least ``min_rounds``, then stop as soon as every ratio's interval
(``zip2zip.evaluation.timing.median_interval``) is within +-``target_ratio_half_width`` of its median, or
once the cell's timed rounds have used ``max_cell_seconds``. Noisy cells (short prompts) so get more rounds than
steady ones, and no cell runs unbounded. This module decides when to stop; it times nothing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from zip2zip.evaluation.timing import median_interval

Ratios = Mapping[str, list[float]]  # ratio name -> one value per timed round so far


def relative_half_width(values: list[float]) -> float:
    """Half the width of the median's 95% interval as a fraction of the median: 0.03 is +-3%."""
    low, high = median_interval(values)
    return (high - low) / 2 / abs(statistics.median(values))


class RoundSettings(Protocol):
    """The fields of a benchmark's Config this module reads (a Protocol: it need not import the script)."""

    @property
    def num_repeats(self) -> int | None: ...
    @property
    def target_ratio_half_width(self) -> float: ...
    @property
    def min_rounds(self) -> int: ...
    @property
    def max_cell_seconds(self) -> float: ...


@dataclass(frozen=True)
class Rounds:
    """A fixed count (``num_repeats``) or the adaptive rule (``num_repeats=None``); see the module docstring.
    The fields are named as the Config fields they come from, so that an error names the flag to fix."""

    num_repeats: int | None
    target_ratio_half_width: float
    min_rounds: int
    max_cell_seconds: float

    def __post_init__(self) -> None:
        if self.num_repeats is not None and self.num_repeats < 1:
            raise ValueError(
                f"num_repeats={self.num_repeats} (--num-repeats): must be >= 1, or none: adaptive"
            )
        if self.min_rounds < 2:
            raise ValueError(
                f"min_rounds={self.min_rounds} (--min-rounds): must be >= 2 (an interval needs a spread)"
            )
        if not self.target_ratio_half_width > 0 or not self.max_cell_seconds > 0:
            raise ValueError(
                f"target_ratio_half_width={self.target_ratio_half_width}, max_cell_seconds="
                f"{self.max_cell_seconds} (--target-ratio-half-width, --max-cell-seconds): both must be > 0"
            )

    @classmethod
    def of(cls, config: RoundSettings) -> Rounds:
        return cls(
            config.num_repeats, config.target_ratio_half_width, config.min_rounds, config.max_cell_seconds
        )

    @property
    def fewest(self) -> int:
        """The fewest timed rounds a cell gets: a full run needs >= 5."""
        return self.min_rounds if self.num_repeats is None else self.num_repeats

    def run(
        self, ratios: Callable[[], Ratios], *, clock: Callable[[], float] = time.perf_counter
    ) -> Iterator[int]:
        """Round indices 0, 1, ...: the caller times round ``i`` in its loop body; ``ratios()`` gives the
        paired ratios of the rounds done so far. ``clock`` is for tests."""
        if self.num_repeats is not None:
            yield from range(self.num_repeats)
            return
        start, done = clock(), 0
        while done < self.min_rounds or not self._settled(ratios(), clock() - start):
            yield done
            done += 1

    def _settled(self, ratios: Ratios, elapsed_s: float) -> bool:
        if elapsed_s >= self.max_cell_seconds:
            return True
        return all(relative_half_width(values) <= self.target_ratio_half_width for values in ratios.values())

    def record(self, ratios: Ratios, elapsed_s: float) -> dict[str, Any]:
        """What an adaptive cell reached, for the result's assets: rounds, why it stopped, each interval.
        Nothing for a fixed count, whose result keeps the shape it always had."""
        if self.num_repeats is not None:
            return {}
        half_widths = {name: relative_half_width(values) for name, values in ratios.items()}
        settled = all(h <= self.target_ratio_half_width for h in half_widths.values())
        return {
            "num_rounds": len(next(iter(ratios.values()))),
            "stopped_by": "interval" if settled else "time cap",
            "elapsed_s": elapsed_s,
            "ratio_intervals_95": {
                name: {"low": low, "high": high, "relative_half_width": half_widths[name]}
                for name, (low, high) in ((n, median_interval(v)) for n, v in ratios.items())
            },
        }
