"""Wall-clock timing for benchmarks: warm-up first, interleaved repeats, raw samples kept.

Every clock read is preceded by ``sync()`` (e.g. ``torch.cuda.synchronize``) so asynchronous device
work is inside the interval; ``time.perf_counter`` only. Nothing here summarises beyond the median, the
spread and the median's confidence interval (which decides how many rounds a benchmark runs), and nothing
here knows about models: ``time_decode`` drives any ``Decoder``.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from zip2zip.evaluation.results import metric


def _no_sync() -> None:
    return None


def _no_lap(part: str) -> None:
    return None


def time_interleaved(
    fns: dict[str, Callable[[], object]],  # return values are discarded
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


class Decoder(Protocol):
    """One prefill + decode run as ``time_decode`` drives it; a new object per run (it holds the cache).

    ``prefill()`` runs the prompts (called again, it starts the run afresh). ``step(index, lap)`` is one
    decode step for the whole batch: pick one id per row, feed it, run one forward; it calls ``lap(part)``
    at the end of each part of the step (a no-op unless profiling). ``is_done()`` ends decoding before ``max_steps``, e.g. once a
    base-token budget is reached; a fixed-length run always returns False.
    """

    @property
    def batch_size(self) -> int: ...

    @property
    def max_steps(self) -> int: ...

    def prefill(self) -> None: ...

    def step(self, index: int, lap: Callable[[str], None]) -> None: ...

    def is_done(self) -> bool: ...


@dataclass(frozen=True)
class DecodeTiming:
    """Seconds and step counts of one run. A step is one forward of the whole batch, so it emits
    ``batch_size`` ids; ``profile_s`` (part -> seconds summed over steps) is empty unless profiled."""

    prefill_s: float
    decode_s: float
    num_steps: int
    batch_size: int
    profile_s: dict[str, float] = field(default_factory=dict)

    @property
    def num_emitted_ids(self) -> int:
        return self.batch_size * self.num_steps


def time_decode(
    decoder: Decoder,
    *,
    sync: Callable[[], None] = _no_sync,
    profile: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> DecodeTiming:
    """Time ``decoder.prefill()``, then steps until ``max_steps`` or ``is_done()``; sync before every read.

    ``profile`` also reads the clock at the start of each step and at every ``lap``, which adds syncs
    inside the steps: use it in a separate run, not in the timed ones. ``clock`` is for tests.
    """

    def read() -> float:
        sync()
        return clock()

    parts: dict[str, float] = {}
    last = 0.0

    def lap(part: str) -> None:
        nonlocal last
        now = read()
        parts[part] = parts.get(part, 0.0) + now - last
        last = now

    start = read()
    decoder.prefill()
    mid = read()
    num_steps = 0
    while num_steps < decoder.max_steps and not decoder.is_done():
        if profile:
            last = read()
        decoder.step(num_steps, lap if profile else _no_lap)
        num_steps += 1
    end = read()
    return DecodeTiming(mid - start, end - mid, num_steps, decoder.batch_size, parts)


def time_decode_interleaved(
    decoders: Mapping[str, Decoder],
    *,
    block_steps: int,
    prefill_repeats: int = 1,
    sync: Callable[[], None] = _no_sync,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, DecodeTiming]:
    """Like ``time_decode`` for several decoders at once, taking turns: the prefills (each decoder's
    ``prefill_repeats`` times, the order reversed at each repeat; ``prefill_s`` is their mean), then blocks
    of ``block_steps`` decode steps, one decoder after the other, the order reversed at each block (A B,
    B A, A B, ...). Each decoder's decode time is the sum of its own blocks.

    Run one after the other, two 15-second decodes see different machines (a CPU's clock, another
    process); in turns of a second they see the same one, so their ratio is steadier than either time.
    Repeating a short prefill does the same for prefills. A decoder that finishes early leaves the rest of
    the blocks to the others. ``clock`` is for tests.
    """
    if block_steps < 1 or prefill_repeats < 1:
        raise ValueError(f"block_steps={block_steps}, prefill_repeats={prefill_repeats}: both must be >= 1")

    def read() -> float:
        sync()
        return clock()

    order = list(decoders)
    prefill_s = dict.fromkeys(decoders, 0.0)
    for _ in range(prefill_repeats):
        for name in order:
            start = read()
            decoders[name].prefill()  # a new prefill starts the run afresh
            prefill_s[name] += (read() - start) / prefill_repeats
        order.reverse()
    decode_s = dict.fromkeys(decoders, 0.0)
    num_steps = dict.fromkeys(decoders, 0)

    def running(name: str) -> bool:
        decoder = decoders[name]
        return num_steps[name] < decoder.max_steps and not decoder.is_done()

    order = list(decoders)
    while any(running(name) for name in order):
        for name in order:
            if not running(name):
                continue
            start = read()
            for _ in range(block_steps):
                if not running(name):
                    break
                decoders[name].step(num_steps[name], _no_lap)
                num_steps[name] += 1
            decode_s[name] += read() - start
        order.reverse()
    return {
        name: DecodeTiming(prefill_s[name], decode_s[name], num_steps[name], decoder.batch_size)
        for name, decoder in decoders.items()
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def stdev(values: list[float]) -> float | None:
    return statistics.stdev(values) if len(values) > 1 else None


def median_metric(values: list[float], unit: str) -> dict[str, Any]:
    """Repeated measurements as one metric: the median, the stdev (none from one sample) and the raw values.

    ``median_metric([3.0, 1.0, 2.0], "ms")`` has value 2.0, stdev 1.0 and values [3.0, 1.0, 2.0].
    """
    return metric(median(values), unit, num_samples=len(values), values=values, stdev=stdev(values))


def median_interval(
    values: list[float], *, confidence: float = 0.95, num_resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """The percentile-bootstrap ``confidence`` interval of the median of ``values`` (seeded: reproducible).

    Distribution-free, so it suits ratios of timings, whose outliers (a round slowed by another process)
    are one-sided. ``median_interval([1.0, 1.0, 1.0])`` is (1.0, 1.0); it always lies within the values.
    """
    if not values:
        raise ValueError("median_interval needs at least one value")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence}: must be in (0, 1)")
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(num_resamples))
    tail = (1 - confidence) / 2
    low = medians[int(tail * (num_resamples - 1))]
    high = medians[round((1 - tail) * (num_resamples - 1))]
    return low, high
