"""Wall-clock timing for benchmarks: warm-up first, interleaved repeats, raw samples kept.

Every timed call is bracketed by ``sync()`` (e.g. ``torch.cuda.synchronize``) so asynchronous device
work is inside the interval; ``time.perf_counter`` only. Nothing here summarises beyond the median.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def _no_sync() -> None:
    return None


def time_interleaved(
    fns: dict[str, Callable[[], Any]],
    *,
    num_repeats: int,
    num_warmup: int = 1,
    sync: Callable[[], None] = _no_sync,
) -> dict[str, list[float]]:
    """Seconds per call of each function, measured in rounds (A, B, A, B, ...) so drift hits all alike."""
    if num_repeats < 1:
        raise ValueError(f"num_repeats={num_repeats} must be >= 1")
    for _ in range(num_warmup):
        for fn in fns.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(num_repeats):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            samples[name].append(time.perf_counter() - start)
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values)


def stdev(values: list[float]) -> float | None:
    return statistics.stdev(values) if len(values) > 1 else None
