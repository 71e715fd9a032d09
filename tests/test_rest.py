"""Rests (``domain.rest``): a tick that leaves capacity alone lets the target skip the next
ticks while the forecast, stretched over the rest, asks for the very capacity there is; the
skipped ticks count in the stabilisation window as plans for that capacity; anything in motion
or unsure keeps the target evaluated every tick."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaleahead.domain.capacity import CapacityReading
from scaleahead.domain.controller import Observation
from scaleahead.domain.decision import Action, clamp
from scaleahead.domain.events import PlannedEvent
from scaleahead.domain.plan import stabilised
from scaleahead.domain.reactive import FloorState
from scaleahead.domain.rest import MAX_REST_SECONDS, Rest, describe_rest, fill_rest, resting
from scaleahead.domain.series import Forecast
from scaleahead.domain.tick import (
    ForecastView,
    Memory,
    Planned,
    Seen,
    _surely_held,
    decide_step,
    plan_rest,
    plan_step,
)
from scaleahead.domain.warmup import WarmupLog
from tests.conftest import make_target

NOW = 1_800_000_000.0
TARGET = make_target()  # 100 per task, min 2, max 20, 10-minute scale-in window, ECS warm-up


def forecast(upper: list[float], step: int = 60) -> Forecast:
    """A forecast from one hour ago on a one-minute grid; the mean equals the upper edge so the
    level correction, on load that matches it, stays 1."""
    start = NOW - 3600
    values = [upper[0]] * 60 + upper
    return Forecast(
        start=start,
        step=step,
        mean=tuple(values),
        upper=tuple(values),
        quantile=0.9,
        generated_at=start,
        history_seconds=14 * 86400,
        model="test",
    )


def seen(fc: Forecast, load: float | None = None) -> Seen:
    latest = fc.upper[60] if load is None else load
    points = [(NOW - 60 * k, latest) for k in range(10, 0, -1)]
    return Seen(
        ForecastView(fc, "", fc.generated_at, "ok"), Observation(points, latest, ""), (), 60
    )


def seconds(rest: Rest | None, every: int = 60) -> int:
    """The evaluation interval when there is no rest, else the rest's length."""
    return every if rest is None else round(rest.until - rest.since)


def tick(s: Seen, capacity: int, memory: Memory | None = None) -> tuple[int, Planned, Memory]:
    """One tick at NOW on ``capacity`` tasks, all running: the rest it allows."""
    memory = memory or Memory([], FloorState(), WarmupLog())
    planned = plan_step(TARGET, s, memory, NOW)
    reading = CapacityReading(capacity, capacity)
    out = decide_step(TARGET, s, planned, NOW, lambda guarded: reading)
    rest = seconds(plan_rest(TARGET, s, planned, out.decision, reading, NOW))
    return rest, planned, replace(memory, plans=out.plans, floor=out.floor)


def test_a_flat_forecast_at_the_capacity_rests_the_longest() -> None:
    rest, planned, _ = tick(seen(forecast([450.0] * 120)), capacity=5)
    assert planned.plan.desired == 5
    assert rest == MAX_REST_SECONDS


def test_a_rise_ahead_shortens_the_rest_to_the_ticks_before_it_is_planned_for() -> None:
    # 450 for the next ten minutes, then 650: the plan covers warm-up + the interval, so the
    # rest may last only while its stretched window still ends before the rise.
    flat = tick(seen(forecast([450.0] * 120)), capacity=5)[1]
    reach = int(flat.plan.window_end - NOW)  # how far one tick's plan looks ahead
    rise_at = reach + 180  # three ticks beyond it (a plan's window includes its end)
    upper = [450.0] * (rise_at // 60) + [650.0] * 120
    rest, planned, _ = tick(seen(forecast(upper)), capacity=5)
    assert planned.plan.desired == 5
    # k intervals stretch the window by k - 1 ticks: three reach up to the rise, not into it
    assert rest == 3 * 60


@pytest.mark.parametrize(
    "why",
    [
        "plan differs",
        "not ready",
        "busy",
        "floor",
        "stale data",
        "no forecast",
        "events",
        "a recent peak beyond the capacity",
    ],
)
def test_nothing_in_motion_or_unsure_rests(why: str) -> None:
    fc = forecast([450.0] * 120)
    s = seen(fc)
    capacity, ready, busy = 5, 5, None
    memory = Memory([], FloorState(), WarmupLog())
    if why == "plan differs":
        # the plan (5) would scale in once the window is covered, and no plan on record holds
        # 7: nothing proves a skipped tick would have kept it
        capacity = ready = 7
    elif why == "not ready":
        ready = 4
    elif why == "busy":
        busy = "a change in flight"
    elif why == "floor":
        floor = FloorState(floor=5, alarm_state="ALARM", raised_at=NOW - 60)
        memory = Memory([], floor, WarmupLog())
    elif why == "stale data":
        s = replace(s, obs=Observation(s.obs.points, 450.0, "the latest datapoint is 9 min old"))
    elif why == "no forecast":
        s = replace(s, view=ForecastView(None, "no forecast has been fitted yet"))
    elif why == "a recent peak beyond the capacity":
        # the latest minute is back at 450, but one of the last ten reached 520: a skipped tick
        # could see such a minute, and the tick plans at least for the load it sees
        points = [(t, 520.0 if i == 3 else v) for i, (t, v) in enumerate(s.obs.points)]
        s = replace(s, obs=Observation(points, 450.0, ""))
    elif why == "events":
        event = PlannedEvent("web", "launch", NOW + 7200, NOW + 9000, uplift=1.5)
        s = replace(s, events=[event])
    planned = plan_step(TARGET, s, memory, NOW)
    reading = CapacityReading(capacity, ready, busy=busy)
    out = decide_step(TARGET, s, planned, NOW, lambda guarded: reading)
    assert seconds(plan_rest(TARGET, s, planned, out.decision, reading, NOW)) == 60, why


def test_five_minute_ticks_never_rest() -> None:
    """They already read a fifth as often; a longer rest would leave the level correction and
    a scale-in waiting for ten minutes or more."""
    s = replace(seen(forecast([450.0] * 120)), every=300)
    planned = plan_step(TARGET, s, Memory([], FloorState(), WarmupLog()), NOW)
    reading = CapacityReading(5, 5)
    out = decide_step(TARGET, s, planned, NOW, lambda guarded: reading)
    assert planned.plan.desired == 5
    assert plan_rest(TARGET, s, planned, out.decision, reading, NOW) is None


def test_a_decided_change_never_rests() -> None:
    s = seen(forecast([850.0] * 120))
    planned = plan_step(TARGET, s, Memory([], FloorState(), WarmupLog()), NOW)
    reading = CapacityReading(5, 5)
    out = decide_step(TARGET, s, planned, NOW, lambda guarded: reading)
    assert out.decision.action is Action.SCALE_OUT
    assert seconds(plan_rest(TARGET, s, planned, out.decision, reading, NOW)) == 60


def _scale_in_minute(rests: bool) -> tuple[int | None, int, Memory]:
    """Minutes after NOW at which 7 tasks scale in to the plan (5) of a flat forecast, the
    window (10 min) holding the 7 planned until NOW - 480; and the evaluations made."""
    s = seen(forecast([450.0] * 120))
    sevens = [(NOW - 600 + 60 * k, 7) for k in range(3)]
    fives = [(NOW - 420 + 60 * k, 5) for k in range(7)]
    memory = Memory([*sevens, *fives], FloorState(), WarmupLog())
    evaluations = 0
    reading = CapacityReading(7, 7)
    for minute in range(12):
        now = NOW + 60 * minute
        if memory.rest is not None and resting(memory.rest.until, now, 60):
            continue
        evaluations += 1
        planned = plan_step(TARGET, s, memory, now)
        out = decide_step(TARGET, s, planned, now, lambda guarded: reading)
        if out.decision.action is Action.SCALE_IN:
            return minute, evaluations, memory
        rest = plan_rest(TARGET, s, planned, out.decision, reading, now) if rests else None
        memory = replace(memory, plans=out.plans, floor=out.floor, rest=rest)
    return None, evaluations, memory


def test_a_scale_in_waiting_on_its_window_rests_without_being_delayed() -> None:
    """The 7 planned at NOW - 480 holds the window until NOW + 180: the skipped ticks could
    not have scaled in, and the rest ends at the very tick that can."""
    s = seen(forecast([450.0] * 120))
    memory = Memory(
        [
            *[(NOW - 600 + 60 * k, 7) for k in range(3)],
            *[(NOW - 420 + 60 * k, 5) for k in range(7)],
        ],
        FloorState(),
        WarmupLog(),
    )
    planned = plan_step(TARGET, s, memory, NOW)
    reading = CapacityReading(7, 7)
    out = decide_step(TARGET, s, planned, NOW, lambda guarded: reading)
    assert planned.plan.desired == 5 and out.decision.action is Action.NONE
    rest = plan_rest(TARGET, s, planned, out.decision, reading, NOW)
    assert rest == Rest(NOW, NOW + 180, 5)  # the skipped ticks count as plans for 5, not 7
    every_tick = _scale_in_minute(rests=False)
    rested = _scale_in_minute(rests=True)
    assert every_tick[0] == rested[0] == 3
    assert (every_tick[1], rested[1]) == (4, 2)


def test_a_scale_in_the_window_already_allows_is_never_rested_over() -> None:
    """Without a plan for the capacity on record within the window, a skipped tick might have
    scaled in: no rest, whatever the forecast says."""
    s = seen(forecast([450.0] * 120))
    memory = Memory([(NOW - 900 + 60 * k, 5) for k in range(15)], FloorState(), WarmupLog())
    planned = plan_step(TARGET, s, memory, NOW)
    # a resource guard (say) holds the scale-in now: the decision leaves 7 alone
    reading = CapacityReading(7, 7, scale_in_floor=7, scale_in_floor_reason="guard")
    out = decide_step(TARGET, s, planned, NOW, lambda guarded: reading)
    assert out.decision.action is Action.NONE, out.decision
    assert plan_rest(TARGET, s, planned, out.decision, reading, NOW) is None


def test_the_tick_within_half_a_tick_of_the_end_evaluates() -> None:
    # rested for 3 minutes by an evaluation 5 s after its tick at NOW
    until = NOW + 5 + 180
    assert [resting(until, NOW + 60 * k, 60) for k in (1, 2, 3, 4)] == [True, True, False, False]
    assert not resting(None, NOW, 60)


def test_the_skipped_ticks_count_as_plans_for_the_capacity_held() -> None:
    plans = [(NOW - 60, 5)]
    rest = Rest(NOW - 60, NOW + 180, 5)
    assert fill_rest(plans, rest, 60, NOW + 185) == [(NOW - 60 + 60 * k, 5) for k in range(4)]
    # a rest ended early (an alarm) fills only the ticks before now
    assert fill_rest(plans, replace(rest, until=NOW + 30), 60, NOW + 185) == [
        (NOW - 60, 5),
        (NOW, 5),
    ]
    assert fill_rest(plans, None, 60, NOW) == plans


def test_after_rests_a_falling_load_still_scales_in_when_the_window_allows() -> None:
    """Rests must not look like gaps (which would refill the window and delay scale-in), nor
    let capacity below what the rests held before they leave the window."""
    flat = forecast([450.0] * 120)
    memory = Memory([], FloorState(), WarmupLog())
    t = NOW - 3600
    # an hour of 5-minute rests at 5 tasks, each taken by the evaluation that ended the last
    while t < NOW:
        planned = plan_step(TARGET, seen(flat), memory, t)
        memory = replace(memory, plans=planned.stand.plans, rest=Rest(t, t + 300, 5))
        t += 300
    # the load falls: the plan is 3, the window (10 min) is covered by the rests' plans
    low = seen(forecast([250.0] * 120))
    planned = plan_step(TARGET, low, memory, NOW)
    assert planned.stand.covered
    assert planned.stand.stable == 5  # the rest that just ended held 5 until now
    memory = replace(memory, plans=planned.stand.plans, rest=None)
    stable = {}
    for k in range(1, 11):  # evaluated every minute from now on, each planning 3
        at = NOW + 60 * k
        planned = plan_step(TARGET, low, memory, at)
        assert planned.stand.covered, k  # no gap: the rests counted as plans
        stable[k] = planned.stand.stable
        memory = replace(memory, plans=planned.stand.plans)
    # the rests' 5 holds for one window after the last skipped tick (NOW - 60), then 3
    assert stable[9] == 5 and stable[10] == 3


def test_the_record_says_what_the_rest_holds() -> None:
    held = describe_rest(Rest(NOW, NOW + 300, 5), current=5)
    waiting = describe_rest(Rest(NOW, NOW + 180, 5), current=7)
    assert held.startswith("next evaluation in 5 min: the forecast holds this capacity")
    assert waiting.startswith("next evaluation in 3 min: the forecast asks for no more than 5")
    assert "stabilisation window holds this capacity" in waiting


@settings(max_examples=300, deadline=None)
@given(
    plans=st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 12)),
        min_size=0,
        max_size=12,
        unique_by=lambda p: p[0],
    ),
    window_ticks=st.integers(0, 20),
    ahead=st.integers(1, 5),
    current=st.integers(0, 12),
)
def test_surely_held_is_the_window_lower_bound(
    plans: list[tuple[int, int]], window_ticks: int, ahead: int, current: int
) -> None:
    """``_surely_held`` answers what ``plan.stabilised`` says of the plans on record with every
    skipped tick counted as planning nothing: the window's highest plan, at least."""
    every, now = 60, 40 * 60.0
    known = sorted((60.0 * t, d) for t, d in plans)
    at = now + ahead * every
    skipped = [(now + k * every, 0) for k in range(1, ahead + 1)]
    floor, _ = stabilised([*known, *skipped], at, window_ticks * every, math.inf)
    expected = floor is not None and clamp(floor, 0, 20) >= current
    assert _surely_held(known, now, every, at, window_ticks * every, 0, 20, current) == expected
