"""The predictive plan, the stabilisation window and the reactive floor (pure code)."""

from __future__ import annotations

import math

import pytest

from scaleahead.domain.plan import predictive_plan, stabilised, trim_plans
from scaleahead.domain.reactive import FloorState, active_floor, reactive_floor
from scaleahead.domain.series import Forecast


def fc(values: list[float], start: float = 0.0, step: int = 300) -> Forecast:
    return Forecast(
        start=start,
        step=step,
        mean=tuple(v * 0.8 for v in values),
        upper=tuple(values),
        quantile=0.9,
        generated_at=start,
        history_seconds=86400 * 14,
        model="test",
    )


def test_plan_takes_the_peak_over_warmup_plus_one_tick() -> None:
    # slots of 5 min: 100, 100, 350, 900 ...; window [0, 0+300+60] covers slots 0 and 1 only
    f = fc([100, 100, 350, 900, 900, 900])
    p = predictive_plan(f, now=0, warmup_seconds=300, tick_seconds=60, capacity_per_unit=100)
    assert p.desired == 1
    # a longer warm-up reaches the 350 slot: ceil(3.5) = 4
    p = predictive_plan(f, now=0, warmup_seconds=600, tick_seconds=60, capacity_per_unit=100)
    assert p.desired == 4
    # ... and the 900 slot when the warm-up is 15 minutes
    p = predictive_plan(f, now=0, warmup_seconds=900, tick_seconds=60, capacity_per_unit=100)
    assert p.desired == 9


def test_plan_uses_upper_not_mean_and_level() -> None:
    f = fc([500] * 10)
    p = predictive_plan(f, now=0, warmup_seconds=300, tick_seconds=60, capacity_per_unit=100)
    assert p.desired == 5  # mean is 400: the upper band decides
    p = predictive_plan(
        f, now=0, warmup_seconds=300, tick_seconds=60, capacity_per_unit=100, level=1.3
    )
    assert p.desired == math.ceil(6.5)


def test_observed_load_is_a_floor_on_the_plan() -> None:
    f = fc([200] * 10)
    p = predictive_plan(
        f, now=0, warmup_seconds=300, tick_seconds=60, capacity_per_unit=100, observed_load=730
    )
    assert p.desired == 8 and "observed" in p.basis


def test_without_forecast_the_plan_is_reactive_only_and_says_why() -> None:
    p = predictive_plan(
        None,
        now=0,
        warmup_seconds=300,
        tick_seconds=60,
        capacity_per_unit=100,
        observed_load=250,
        unavailable_reason="only 3.0 h of load history",
    )
    assert p.desired == 3 and "reactive-only" in p.basis and "3.0 h" in p.basis
    p = predictive_plan(None, now=0, warmup_seconds=300, tick_seconds=60, capacity_per_unit=100)
    assert p.desired is None


def test_forecast_that_does_not_cover_the_window_is_not_used() -> None:
    f = fc([900, 900], start=0)  # ends at 600 s
    p = predictive_plan(
        f, now=500, warmup_seconds=300, tick_seconds=60, capacity_per_unit=100, observed_load=100
    )
    assert p.desired == 1 and "reactive-only" in p.basis


def test_stabilised_needs_a_full_window_and_returns_its_maximum() -> None:
    plans = [(0.0, 9), (300.0, 4), (600.0, 3)]
    # window (0, 600]: the plan made at 0 was in force at the window's start
    assert stabilised(plans, 600, 600, 300) == (9, True)
    assert stabilised(plans, 900, 600, 300) == (4, True)
    assert stabilised(plans, 600, 900, 300) == (9, False)  # no plan before the window
    assert stabilised([(500.0, 3)], 600, 600, 300) == (3, False)
    assert stabilised([], 600, 600, 300) == (None, False)


def test_a_gap_in_the_plans_does_not_count_as_coverage() -> None:
    # one plan two hours ago and one now: nothing proves the plan stayed low in between
    assert stabilised([(-7200.0, 9), (0.0, 2)], 0, 900, 120) == (9, False)
    assert stabilised([(-7200.0, 2), (0.0, 2)], 0, 900, 120) == (2, False)
    ticks = [(float(t), 2) for t in range(-900, 1, 60)]
    assert stabilised(ticks, 0, 900, 120) == (2, True)


def test_trim_keeps_one_plan_before_the_window_as_proof_of_coverage() -> None:
    plans = [(0.0, 9), (100.0, 8), (700.0, 3)]
    kept = trim_plans(plans, 800, 600)
    assert kept == [(100.0, 8), (700.0, 3)]
    assert stabilised(kept, 800, 600, 600) == (8, True)
    assert stabilised([*kept, (1300.0, 3)], 1300, 600, 600) == (3, True)


@pytest.mark.parametrize(
    ("current", "observed", "threshold", "step", "want"),
    [
        (4, None, None, 1, 5),  # no datapoints: one step
        (4, 1500.0, 1000.0, 1, 6),  # 4 x 1.5 = 6 beats 4 + 1
        (4, 1010.0, 1000.0, 2, 6),  # step beats a small overshoot
        (0, 500.0, 100.0, 1, 5),  # from zero: the overshoot over one unit's threshold
        (4, float("nan"), 1000.0, 1, 5),  # a NaN datapoint is ignored
        (8, 520.0, 800.0, 1, 8),  # a stale alarm: 8 already serve its load, no step
    ],
)
def test_reactive_floor(
    current: int, observed: float | None, threshold: float | None, step: int, want: int
) -> None:
    assert reactive_floor(current, observed, threshold, step) == want


def test_floor_held_while_alarm_and_for_the_window_after_ok() -> None:
    s = FloorState(floor=7, alarm_state="ALARM", raised_at=0)
    assert active_floor(s, 10_000, 600) == 7
    ok = FloorState(floor=7, alarm_state="OK", raised_at=0, ok_at=1000)
    assert active_floor(ok, 1500, 600) == 7
    assert active_floor(ok, 1600, 600) is None
    assert active_floor(FloorState(), 0, 600) is None


def test_a_zero_stabilisation_window_scales_in_on_the_plan_made_now() -> None:
    """Found by the backtest: with a window of 0 the plan made now fell outside the half-open
    window, so the window never filled and the target never scaled in."""
    plans = [(100.0, 9), (160.0, 7), (220.0, 4)]
    assert stabilised(plans, 220.0, 0, 90) == (4, True)
    assert stabilised(plans[:2], 220.0, 0, 90) == (None, False)  # nothing planned now
