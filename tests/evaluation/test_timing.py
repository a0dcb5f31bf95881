"""``time_decode`` with a fake decoder and a fake clock: a sync before every clock read, one step per
forward of the whole batch, early stop, and the profile split; ``time_decode_interleaved``'s turns. The clock only moves when the fake
decoder says so, so every expected interval is exact. And ``median_metric``, the one summary of repeats,
and ``median_interval``, which decides how many repeats an adaptive run takes."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import pytest

from zip2zip.evaluation.timing import median_interval, median_metric, time_decode, time_decode_interleaved

PREFILL_S, SELECT_S, MODEL_S = 10.0, 1.0, 2.0


class _FakeDevice:
    """Records syncs, clock reads and decoder calls in order; work advances the clock."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.now = 0.0

    def sync(self) -> None:
        self.events.append("sync")

    def clock(self) -> float:
        self.events.append("clock")
        return self.now


class _FakeDecoder:
    """``batch_size`` rows; each step feeds one id per row (the step index), then a forward."""

    def __init__(
        self, device: _FakeDevice, *, batch_size: int, max_steps: int, done_after: int | None = None
    ):
        self.device = device
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.done_after = done_after
        self.fed: list[list[int]] = [[] for _ in range(batch_size)]  # row -> ids fed
        self.num_forwards = 0

    def prefill(self) -> None:
        self.device.events.append("prefill")
        self.device.now += PREFILL_S

    def step(self, index: int, lap: Callable[[str], None]) -> None:
        self.device.events.append(f"step {index}")
        self.device.now += SELECT_S
        lap("select")
        for row in self.fed:
            row.append(index)
        self.num_forwards += 1
        self.device.now += MODEL_S
        lap("model")

    def is_done(self) -> bool:
        return self.done_after is not None and self.num_forwards >= self.done_after


@pytest.mark.parametrize("profile", [False, True], ids=["timed", "profiled"])
def test_sync_before_every_clock_read(profile: bool) -> None:
    device = _FakeDevice()
    decoder = _FakeDecoder(device, batch_size=3, max_steps=4)
    time_decode(decoder, sync=device.sync, clock=device.clock, profile=profile)
    reads = [i for i, event in enumerate(device.events) if event == "clock"]
    assert all(device.events[i - 1] == "sync" for i in reads)
    # start, after prefill, end; profiling adds one read per step start and one per lap
    assert len(reads) == 3 + (4 * 3 if profile else 0)
    assert device.events.index("prefill") < device.events.index("step 0")


def test_counts_steps_of_the_whole_batch() -> None:
    device = _FakeDevice()
    decoder = _FakeDecoder(device, batch_size=3, max_steps=5)
    timing = time_decode(decoder, sync=device.sync, clock=device.clock)
    assert [e for e in device.events if e.startswith("step")] == [f"step {i}" for i in range(5)]
    assert timing.num_steps == decoder.num_forwards == 5
    assert timing.batch_size == 3
    assert timing.num_emitted_ids == 15 == sum(len(row) for row in decoder.fed)
    assert decoder.fed == [[0, 1, 2, 3, 4]] * 3
    assert timing.prefill_s == PREFILL_S
    assert timing.decode_s == 5 * (SELECT_S + MODEL_S)
    assert timing.profile_s == {}


def test_stops_when_the_decoder_is_done() -> None:
    device = _FakeDevice()
    decoder = _FakeDecoder(device, batch_size=2, max_steps=8, done_after=3)
    timing = time_decode(decoder, sync=device.sync, clock=device.clock)
    assert timing.num_steps == 3 and timing.num_emitted_ids == 6


def test_profile_splits_each_step_into_its_laps() -> None:
    device = _FakeDevice()
    decoder = _FakeDecoder(device, batch_size=2, max_steps=4)
    timing = time_decode(decoder, sync=device.sync, clock=device.clock, profile=True)
    assert timing.profile_s == {"select": 4 * SELECT_S, "model": 4 * MODEL_S}
    assert timing.decode_s == sum(timing.profile_s.values())


class _NamedDecoder(_FakeDecoder):
    """A fake decoder whose events carry its name and whose steps cost ``step_s`` each."""

    def __init__(self, device: _FakeDevice, name: str, *, max_steps: int, step_s: float, **kwargs: int):
        super().__init__(device, batch_size=1, max_steps=max_steps, **kwargs)
        self.name, self.step_s = name, step_s

    def prefill(self) -> None:
        self.device.events.append(f"{self.name} prefill")
        self.device.now += PREFILL_S

    def step(self, index: int, lap: Callable[[str], None]) -> None:
        self.device.events.append(f"{self.name} {index}")
        self.num_forwards += 1
        self.device.now += self.step_s


def test_interleaved_decoders_take_turns_in_blocks_and_each_gets_its_own_time() -> None:
    device = _FakeDevice()
    a = _NamedDecoder(device, "A", max_steps=5, step_s=1.0)
    b = _NamedDecoder(device, "B", max_steps=3, step_s=10.0)
    timings = time_decode_interleaved({"A": a, "B": b}, block_steps=2, sync=device.sync, clock=device.clock)
    work = [e for e in device.events if e not in ("sync", "clock")]
    # prefills in order, then blocks of 2 with the order reversed each time; B ends first, A goes on alone
    assert work == ["A prefill", "B prefill", "A 0", "A 1", "B 0", "B 1", "B 2", "A 2", "A 3", "A 4"]
    assert (timings["A"].num_steps, timings["B"].num_steps) == (5, 3)
    assert (timings["A"].decode_s, timings["B"].decode_s) == (5.0, 30.0)
    assert timings["A"].prefill_s == timings["B"].prefill_s == PREFILL_S
    reads = [i for i, event in enumerate(device.events) if event == "clock"]
    assert all(device.events[i - 1] == "sync" for i in reads)


def test_interleaved_prefills_repeat_in_alternating_order_and_report_their_mean() -> None:
    device = _FakeDevice()
    a = _NamedDecoder(device, "A", max_steps=1, step_s=1.0)
    b = _NamedDecoder(device, "B", max_steps=1, step_s=1.0)
    timings = time_decode_interleaved(
        {"A": a, "B": b}, block_steps=1, prefill_repeats=3, sync=device.sync, clock=device.clock
    )
    prefills = [e for e in device.events if e.endswith("prefill")]
    assert prefills == ["A prefill", "B prefill", "B prefill", "A prefill", "A prefill", "B prefill"]
    assert timings["A"].prefill_s == timings["B"].prefill_s == PREFILL_S


def test_interleaved_decoders_stop_when_done() -> None:
    device = _FakeDevice()
    a = _NamedDecoder(device, "A", max_steps=8, step_s=1.0, done_after=3)
    b = _NamedDecoder(device, "B", max_steps=4, step_s=1.0)
    timings = time_decode_interleaved({"A": a, "B": b}, block_steps=2, sync=device.sync, clock=device.clock)
    assert (timings["A"].num_steps, timings["B"].num_steps) == (3, 4)
    with pytest.raises(ValueError, match="block_steps"):
        time_decode_interleaved({"A": a}, block_steps=0)
    with pytest.raises(ValueError, match="prefill_repeats"):
        time_decode_interleaved({"A": a}, block_steps=1, prefill_repeats=0)


def test_median_metric_keeps_the_raw_values_and_has_no_spread_from_one_sample() -> None:
    assert median_metric([3.0, 1.0, 2.0], "ms") == {
        "value": 2.0,
        "unit": "ms",
        "num_samples": 3,
        "values": [3.0, 1.0, 2.0],
        "stdev": 1.0,
    }
    assert "stdev" not in median_metric([4.0], "s") and median_metric([4.0], "s")["value"] == 4.0


def test_median_interval_of_equal_values_has_no_width() -> None:
    assert median_interval([1.25] * 5) == (1.25, 1.25)


def test_median_interval_holds_the_median_within_the_values_and_is_reproducible() -> None:
    values = [1.31, 1.28, 1.35, 1.30, 1.52, 1.29, 1.33]
    low, high = median_interval(values)
    assert min(values) <= low <= statistics.median(values) <= high <= max(values)
    assert low < high
    assert median_interval(values) == (low, high)


def test_median_interval_narrows_with_more_rounds_of_the_same_spread() -> None:
    rounds = [1.0, 1.1, 0.9, 1.05, 0.95]
    low5, high5 = median_interval(rounds)
    low40, high40 = median_interval(rounds * 8)
    assert high40 - low40 < high5 - low5


def test_median_interval_rejects_no_values_and_a_confidence_outside_0_1() -> None:
    with pytest.raises(ValueError, match="at least one"):
        median_interval([])
    with pytest.raises(ValueError, match="confidence"):
        median_interval([1.0], confidence=1.0)
