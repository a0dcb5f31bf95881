"""``benchmarks._rounds``: a fixed count runs exactly its rounds; adaptive rounds stop once every ratio's
interval is narrow enough, or at the time cap, never before ``min_rounds``; the record says which."""

from __future__ import annotations

import itertools

import pytest

from benchmarks._rounds import Rounds, relative_half_width


def _adaptive(**changes: float) -> Rounds:
    settings = {"target_ratio_half_width": 0.03, "min_rounds": 3, "max_cell_seconds": 100.0, **changes}
    return Rounds(
        None, settings["target_ratio_half_width"], int(settings["min_rounds"]), settings["max_cell_seconds"]
    )


def _drive(rounds: Rounds, series: list[float], clock_step_s: float = 1.0) -> dict[str, list[float]]:
    """Run the loop as a benchmark does, appending the next value of ``series`` per round."""
    ratios: dict[str, list[float]] = {"speedup": []}
    clock = itertools.count(0.0, clock_step_s)
    for i in rounds.run(lambda: ratios, clock=lambda: next(clock)):
        ratios["speedup"].append(series[i])
    return ratios


def test_a_fixed_count_runs_exactly_its_rounds_and_records_nothing() -> None:
    rounds = Rounds(4, 0.03, 5, 1.0)
    ratios = _drive(rounds, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert ratios["speedup"] == [1.0, 2.0, 3.0, 4.0]
    assert rounds.record(ratios, 9.0) == {}
    assert rounds.fewest == 4 and _adaptive(min_rounds=6).fewest == 6


def test_steady_ratios_stop_at_min_rounds() -> None:
    rounds = _adaptive()
    ratios = _drive(rounds, [1.3] * 50)
    assert len(ratios["speedup"]) == 3
    record = rounds.record(ratios, 3.0)
    assert record["num_rounds"] == 3 and record["stopped_by"] == "interval"
    assert record["ratio_intervals_95"]["speedup"] == {"low": 1.3, "high": 1.3, "relative_half_width": 0.0}


def test_noisy_ratios_get_more_rounds_until_their_interval_is_narrow() -> None:
    noisy = [1.0, 1.4, 1.2] + [1.2] * 100  # a wide start, then steady
    ratios = _drive(_adaptive(), noisy)
    assert 3 < len(ratios["speedup"]) < 100
    assert relative_half_width(ratios["speedup"]) <= 0.03


def test_the_time_cap_stops_a_cell_that_never_settles() -> None:
    rounds = _adaptive(max_cell_seconds=10.0)
    ratios = _drive(rounds, [1.0, 2.0] * 50)  # the clock moves 1 s per ratios() call
    assert len(ratios["speedup"]) < 20
    assert rounds.record(ratios, 10.0)["stopped_by"] == "time cap"


def test_settings_are_validated_naming_the_flag() -> None:
    with pytest.raises(ValueError, match="num_repeats"):
        Rounds(0, 0.03, 5, 1.0)
    with pytest.raises(ValueError, match="min_rounds"):
        Rounds(None, 0.03, 1, 1.0)
    with pytest.raises(ValueError, match="target_ratio_half_width"):
        Rounds(None, 0.0, 5, 1.0)
