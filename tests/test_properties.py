"""Properties of the control law, proven over generated inputs (issue 12, item 10).

The example-based tests (test_decision.py, test_plan.py) pin the cases someone thought of; these
let hypothesis look for the ones nobody did. Every property is a promise an SRE relies on when
the plane is left alone on a production fleet. The runs are derandomised: the same examples on
every machine, so a failure here is a failure everywhere, never a flake.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaleahead.domain.alarm import floor_decision, on_alarm, on_alarm_cleared
from scaleahead.domain.controller import standing
from scaleahead.domain.decision import Action, Decision, DecisionInput, Reason, clamp, decide
from scaleahead.domain.plan import Plan
from scaleahead.domain.reactive import (
    EPISODE_JITTER_SECONDS,
    Arrival,
    FloorState,
    active_floor,
    arrival,
    reactive_floor,
)
from scaleahead.domain.target import EcsTarget
from scaleahead.domain.timing import (
    MAX_AGE_SECONDS,
    MAX_FUTURE_SKEW_SECONDS,
    from_the_future,
    untrusted_time,
)
from tests.conftest import NOW, make_target

J = EPISODE_JITTER_SECONDS


def runs(n: int) -> settings:
    """Deterministic, no example database, no deadline (a slow CI box must not fail these)."""
    return settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


# --- decide ------------------------------------------------------------------------------------

capacity = st.integers(min_value=0, max_value=200)


@st.composite
def decision_inputs(draw: st.DrawFn, *, consistent_window: bool = False) -> DecisionInput:
    """Any input ``decide`` can be given: bounds with min <= max and max >= 1 (the target's own
    validation), a current capacity anywhere (also outside the bounds: an operator edit, a
    tightened max), any plan, floor, window, data and resource-guard state, paused or not.

    With ``consistent_window`` the stable plan is what ``plan.stabilised`` returns: the highest
    plan of a window that includes the plan made now, so never below it (see
    ``test_the_stable_plan_is_never_below_the_plan_made_now``)."""
    lo = draw(st.integers(min_value=0, max_value=40))
    hi = draw(st.integers(min_value=max(lo, 1), max_value=lo + 60))
    # Mostly around the bounds, where the rules meet; now and then anywhere (an operator edit,
    # a tightened max).
    near = st.integers(min_value=max(lo - 3, 0), max_value=hi + 3)
    value = near | near | near | st.integers(min_value=0, max_value=hi + 40)
    maybe = st.none() | value | value
    plan = draw(maybe)
    if consistent_window and plan is not None:
        stable = draw(st.none() | st.integers(min_value=plan, max_value=plan + 40))
    else:
        stable = draw(maybe)
    return DecisionInput(
        current=draw(value),
        min_capacity=lo,
        max_capacity=hi,
        plan=plan,
        plan_basis="generated",
        floor=draw(maybe),
        stable_plan=stable,
        window_covered=draw(st.booleans() | st.just(True)),
        data_ok=draw(st.booleans() | st.just(True)),
        data_problem="no load datapoint in the last 30 min",
        acts=draw(st.booleans() | st.just(True)),
        resource_floor=draw(maybe),
        resource_floor_reason="generated guard",
        paused=draw(st.sampled_from(["", "", "", "paused by ops: incident 42"])),
    )


def acting(i: DecisionInput) -> DecisionInput:
    return replace(i, acts=True, paused="")


@runs(600)
@given(decision_inputs())
def test_decide_stays_within_bounds(i: DecisionInput) -> None:
    """``desired`` is always within [min, max]: a current above max always comes down to max
    (or lower, when a scale-in is due anyway) and one below min comes up to min, whatever the
    plan, floor, guards or data say (no rule ever holds an out-of-bounds capacity). The bounds
    are the operator's contract with the budget and with the service's own limits; nothing
    the forecast or an alarm says may break it."""
    d = decide(i)
    assert i.min_capacity <= d.desired <= i.max_capacity, d
    assert d.current == i.current
    if i.current > i.max_capacity:  # down to max at least (further when a scale-in is due)
        assert d.action is Action.SCALE_IN, d
    if i.current < i.min_capacity:
        assert d.action is Action.SCALE_OUT, d
    # The action says which way capacity moves, and NONE means it does not.
    assert (d.action is Action.NONE) == (d.desired == d.current), d
    assert (d.action is Action.SCALE_OUT) == (d.desired > d.current), d


@runs(600)
@given(decision_inputs(consistent_window=True))
def test_an_executed_decision_moves_toward_the_plan_or_floor(i: DecisionInput) -> None:
    """An executed change goes toward what the plan and the floor ask (within the bounds) and
    never past it: a scale-out lands exactly on it, a scale-in stops at or above it (the
    stabilisation window and the guards may hold it higher, never lower). Without a plan or
    floor the only change made is back into the bounds. An SRE reading a scale-in must never
    find capacity below what the plane itself said it needs."""
    d = decide(acting(i))
    if not d.execute:
        assert d.action is Action.NONE
        return
    assert d.desired != d.current
    if i.plan is None and i.floor is None:
        assert d.desired == clamp(i.current, i.min_capacity, i.max_capacity) != i.current
        return
    goal = clamp(max(i.plan or 0, i.floor or 0), i.min_capacity, i.max_capacity)
    if d.action is Action.SCALE_OUT:
        assert i.current < goal == d.desired, d
    else:
        assert goal <= d.desired < i.current, d


@runs(400)
@given(decision_inputs())
def test_paused_or_forecast_only_never_executes_and_says_why(i: DecisionInput) -> None:
    """Paused (the kill switch) or forecast-only never executes anything, and a change it
    would have made is recorded as such, with PAUSED (which wins) or FORECAST_ONLY as the
    reason: the operator who pulled the switch must be able to trust it, and the log must
    still show what would have happened. The would-be change is exactly the acting one."""
    d = decide(i)
    would = decide(acting(i))
    if i.paused or not i.acts:
        assert d.execute is False, d
        assert (d.action, d.desired) == (would.action, would.desired)
        if d.action is not Action.NONE:
            assert d.message.startswith("would "), d
            if i.paused:
                assert d.reason is Reason.PAUSED and i.paused in d.message, d
            else:
                assert d.reason is Reason.FORECAST_ONLY and "forecast-only" in d.message, d
    else:
        assert d == would
        assert d.execute == (d.action is not Action.NONE), d


def _only_scale_in_is_down_to_max(i: DecisionInput, d: Decision) -> None:
    if d.action is Action.SCALE_IN:
        assert i.current > i.max_capacity and d.desired == i.max_capacity, d
        assert d.reason in (Reason.ABOVE_MAX, Reason.PAUSED, Reason.FORECAST_ONLY), d


@runs(400)
@given(decision_inputs())
def test_never_scales_in_on_missing_or_stale_data(i: DecisionInput) -> None:
    """With missing or stale load data (``data_ok`` False) capacity never goes down, except
    from above max to exactly max: shedding capacity on a blind guess is how an outage
    starts, while the max is the operator's bound, not a guess."""
    i = replace(i, data_ok=False)
    _only_scale_in_is_down_to_max(i, decide(i))


@runs(400)
@given(decision_inputs(), st.booleans())
def test_never_scales_in_before_the_stabilisation_window_is_covered(
    i: DecisionInput, no_stable_plan: bool
) -> None:
    """Until plans cover the whole stabilisation window (or without a stable plan) capacity
    never goes down, except from above max to exactly max: a plan that dipped for one tick
    must not shed capacity the next tick wants back (flapping costs cold starts and errors)."""
    i = replace(i, stable_plan=None) if no_stable_plan else replace(i, window_covered=False)
    _only_scale_in_is_down_to_max(i, decide(i))


@runs(600)
@given(decision_inputs())
def test_a_scale_in_never_goes_below_the_floor_or_a_resource_guard(i: DecisionInput) -> None:
    """A scale-in never lands below the reactive floor (an alarm said reality beat the plan)
    nor below the resource guard (e.g. the replicas a cache or a database needs to hold its
    data), unless capacity is above max, when it comes down to max and no lower. Going below
    either is the plane causing the incident it exists to prevent."""
    d = decide(i)
    if d.action is not Action.SCALE_IN:
        return
    for bound in (i.floor, i.resource_floor):
        if bound is None:
            continue
        assert d.desired >= min(bound, i.max_capacity), d
        if d.desired < bound:
            assert i.current > i.max_capacity and d.desired == i.max_capacity, d


@runs(300)
@given(
    st.lists(st.tuples(st.floats(NOW - 3600, NOW), capacity), max_size=12),
    capacity,
    st.sampled_from([0, 60, 600, 1800]),
)
def test_the_stable_plan_is_never_below_the_plan_made_now(
    plans: list[tuple[float, int]], desired: int, stab: int
) -> None:
    """What the tick hands ``decide`` as the stable plan is never below the plan it has just
    made: the window's highest plan includes this one. The scale-in property above relies
    on it; were it broken, a scale-in could overshoot the plan."""
    target = _target(0, 200, 1, 3.0, 50, stab)
    plan = Plan(desired, None, NOW, NOW + 600, "generated")
    stand = standing(target, plan, NOW, 60, plans, FloorState())
    assert stand.stable is None or stand.stable >= desired


# --- the reactive floor: one episode, one raise, capped ---------------------------------------

any_float = (
    st.none()
    | st.floats()
    | st.sampled_from(
        [0.0, -0.0, -1.0, math.nan, math.inf, -math.inf, 1e300, 1e-300, 5e-324, 1e308]
    )
)


@runs(1200)
@given(
    start=st.integers(min_value=0, max_value=10**7),
    step=st.integers(min_value=1, max_value=100),
    ratio=st.floats(min_value=1.0, max_value=100.0),
    units=st.integers(min_value=1, max_value=5000),
    observed=any_float,
    threshold=any_float,
)
def test_the_per_episode_cap(
    start: int,
    step: int,
    ratio: float,
    units: int,
    observed: float | None,
    threshold: float | None,
) -> None:
    """Whatever the alarm's payload says (0, negative, NaN, infinite, 1e300 over 1e-300: it
    is only as trustworthy as whoever published it), the floor is an int, at least one step
    above the episode's start unless the load is within the threshold (then exactly the
    start: the alarm is already answered), and never above
    ``max(start + step, min(ceil(max(start, 1) x ratio), start + units))``. A forged or
    absurd datapoint then costs at most that much capacity, never a tenfold bill."""
    r = reactive_floor(start, observed, threshold, step, max_ratio=ratio, max_units=units)
    assert type(r) is int
    bound = max(start + step, min(math.ceil(max(start, 1) * ratio), start + units))
    assert start <= r <= bound, (r, bound)
    o = math.nan if observed is None else observed
    t = math.nan if threshold is None else threshold
    positive = math.isfinite(o) and math.isfinite(t) and o > 0 and t > 0
    if positive and o <= t:
        assert r == start
    if r == start:
        # Within the threshold (to the last bit of a float division: 1 ulp over is not load).
        assert positive
        assert o <= t or math.isclose(o, t, rel_tol=1e-12), (o, t)
    else:
        assert r >= start + step


@cache
def _target(lo: int, hi: int, step: int, ratio: float, units: int, stab: int = 600) -> EcsTarget:
    return make_target(
        min_capacity=lo,
        max_capacity=hi,
        scale_in_stabilisation_seconds=stab,
        alarm={"step": step, "max_step_ratio": ratio, "max_step_units": units},
    )


@st.composite
def targets(draw: st.DrawFn) -> EcsTarget:
    lo = draw(st.integers(min_value=0, max_value=10))
    hi = draw(st.integers(min_value=max(lo, 1), max_value=500))
    step = draw(st.integers(min_value=1, max_value=5))
    ratio = draw(st.sampled_from([1.0, 1.5, 2.0, 3.0, 10.0, 100.0]))
    units = draw(st.integers(min_value=step, max_value=5000))
    stab = draw(st.sampled_from([0, 60, 600, 3600]))
    return _target(lo, hi, step, ratio, units, stab)


@st.composite
def copies(draw: st.DrawFn, at: float, spread: float = J) -> list[float]:
    """The stamps of one state change as its copies arrive, in any order: each channel (and
    each retry) stamps it up to ``spread`` apart. The margin keeps clear of the one-ulp edge
    of ``|a - b| <= J`` at epoch magnitudes; real copies are a few hundred ms apart."""
    width = draw(st.floats(min_value=0.0, max_value=spread * 0.999))
    offsets = st.floats(min_value=0.0, max_value=width)
    return [at + o for o in draw(st.lists(offsets, min_size=1, max_size=6))]


def _prior(draw: Callable[[st.SearchStrategy[Any]], Any], at: float, stab: int) -> FloorState:
    """Nothing on record, or an earlier episode opened more than the jitter before ``at`` and
    cleared before it, its floor possibly still held (OK within one window)."""
    if draw(st.booleans()):
        return FloorState()
    opened = at - draw(st.floats(min_value=J + 1.0, max_value=4 * 3600.0))
    ok_at = draw(st.floats(min_value=opened + 1.0, max_value=at - 0.5))
    floor = draw(st.integers(min_value=1, max_value=600))
    return FloorState(floor, "OK", opened, ok_at, ok_at, opened_at=opened, start=floor - 1)


class Service:
    """The alarm path's rule, without AWS: classify each delivery with ``arrival``; only NEW
    changes reach ``on_alarm`` / ``on_alarm_cleared``; a DUPLICATE or OLDER one does nothing."""

    def __init__(self, target: EcsTarget, state: FloorState) -> None:
        self.target = target
        self.state = state
        self.raised: list[tuple[FloorState, FloorState, int, float, float]] = []
        self.cleared = 0
        self.now = 0.0

    def deliver(
        self, state: str, at: float, current: int, observed: Any, threshold: Any, delay: float
    ) -> Arrival:
        self.now = max(self.now, at + delay)
        order = arrival(self.state, state, at)
        if order is not Arrival.NEW:
            return order
        before = self.state
        if state == "ALARM":
            self.state, d = on_alarm(
                self.target, before, current, observed, threshold, self.now, at
            )
            self.raised.append((before, self.state, current, self.now, at))
            floor = clamp(self.state.floor or 0, self.target.min_capacity, self.target.max_capacity)
            assert d.desired <= max(current, floor), d
        else:
            self.state, d = on_alarm_cleared(self.target, before, state, current, at)
            self.cleared += 1
            assert d.execute is False and d.action is Action.NONE
        return order


def _expected_floor(svc: Service, i: int, observed: Any, threshold: Any) -> int:
    """The episode's floor from its start alone (and a floor an earlier one still holds)."""
    before, _, start, now, _ = svc.raised[i]
    t = svc.target
    own = reactive_floor(
        start,
        observed,
        threshold,
        t.alarm.step,
        max_ratio=t.alarm.max_step_ratio,
        max_units=t.alarm.max_step_units,
    )
    return max(own, active_floor(before, now, t.effective_stabilisation_seconds) or 0)


@runs(250)
@given(st.data(), targets(), st.floats(min_value=NOW - 86400, max_value=NOW))
def test_one_alarm_episode_raises_capacity_at_most_once(
    data: st.DataObject, target: EcsTarget, t0: float
) -> None:
    """One ALARM change delivered any number of times (EventBridge, SNS, the Lambda action,
    retries; stamps up to the jitter apart, in any order), with the capacity changing between
    the copies (the first copy scaled out, the tick ran, an operator edited it), calls
    ``on_alarm`` exactly once, and the floor depends on the capacity the episode started
    from alone. Seen in the field before this rule: 4 -> 6 -> 8 from one alarm, each copy
    re-deriving the floor from the capacity the previous copy had just set."""
    stab = target.effective_stabilisation_seconds
    svc = Service(target, _prior(data.draw, t0, stab))
    stamps = data.draw(copies(t0))
    n = len(stamps)
    currents = data.draw(st.lists(capacity, min_size=n, max_size=n))
    delays = data.draw(st.lists(st.floats(0.0, 60.0), min_size=n, max_size=n))
    observed, threshold = data.draw(any_float), data.draw(any_float)

    orders = [
        svc.deliver("ALARM", at, cur, observed, threshold, delay)
        for at, cur, delay in zip(stamps, currents, delays, strict=True)
    ]
    assert orders[0] is Arrival.NEW and set(orders[1:]) <= {Arrival.DUPLICATE}, orders
    assert len(svc.raised) == 1
    final = svc.state
    assert final.start == currents[0] and final.opened_at == stamps[0]
    assert final.floor == _expected_floor(svc, 0, observed, threshold)
    # Were a copy to reach on_alarm after all, the same start gives the same floor, whatever
    # the capacity found then: never compounded.
    for at, cur, delay in zip(stamps[1:], currents[1:], delays[1:], strict=True):
        again, _ = on_alarm(target, final, currents[0], observed, threshold, svc.now + delay, at)
        assert again.floor == final.floor
        if target.min_capacity <= cur <= target.max_capacity and cur >= (final.floor or 0):
            assert floor_decision(target, final.floor or 0, cur).action is Action.NONE


@runs(100)
@given(st.data(), targets(), st.floats(min_value=NOW - 86400, max_value=NOW))
def test_an_ok_between_two_alarms_makes_the_second_a_new_episode(
    data: st.DataObject, target: EcsTarget, t1: float
) -> None:
    """ALARM, OK, ALARM again more than the jitter later: the second ALARM is a new episode
    and raises once more (from its own start), each change's copies do nothing, and copies
    of the earlier changes that straggle in after it are ignored. A real second spike must
    get its capacity; a retried first one must not get it twice."""
    draw = data.draw
    spread = draw(st.floats(min_value=0.0, max_value=J))
    first = draw(copies(t1, spread))
    t_ok = max(first) + draw(st.floats(min_value=0.001, max_value=600.0))
    ok = draw(copies(t_ok, spread))
    t2 = max(max(ok), max(first) + J) + draw(st.floats(min_value=0.001, max_value=600.0))
    second = draw(copies(t2, spread))
    observed, threshold = draw(any_float), draw(any_float)
    svc = Service(target, FloorState())

    def run(state: str, stamps: list[float]) -> list[Arrival]:
        return [
            svc.deliver(state, at, draw(capacity), observed, threshold, draw(st.floats(0, 30)))
            for at in stamps
        ]

    a1, o, a2 = run("ALARM", first), run("OK", ok), run("ALARM", second)
    for orders in (a1, o, a2):
        assert orders[0] is Arrival.NEW and set(orders[1:]) <= {Arrival.DUPLICATE}, orders
    assert len(svc.raised) == 2 and svc.cleared == 1
    for i in (0, 1):
        assert svc.raised[i][1].floor == _expected_floor(svc, i, observed, threshold)
    # Straggling copies of the first ALARM and of the OK, after the second ALARM: ignored.
    late = draw(
        st.lists(st.sampled_from([("ALARM", at) for at in first] + [("OK", at) for at in ok]))
    )
    settled = svc.state
    for state, at in late:
        assert svc.deliver(state, at, draw(capacity), observed, threshold, 0.0) is Arrival.OLDER
    assert svc.state == settled and len(svc.raised) == 2


states = st.sampled_from(["ALARM", "OK", "INSUFFICIENT_DATA"])


@st.composite
def records(draw: st.DrawFn) -> FloorState:
    """A record as the alarm path leaves it: the last change applied, and the episode's
    opening (at or before it) if there has been one."""
    changed = draw(st.floats(min_value=NOW - 86400, max_value=NOW))
    state = draw(states)
    if state == "ALARM":
        opened: float | None = changed - draw(st.sampled_from([0.0, 0.0, 5.0, 3600.0]))
    else:
        opened = draw(st.none() | st.floats(min_value=changed - 86400, max_value=changed - 1))
    return FloorState(
        draw(st.none() | capacity), state, None, None, changed, opened_at=opened, start=1
    )


@runs(500)
@given(records(), states, st.floats(min_value=J + 0.001, max_value=86400.0), st.booleans())
def test_a_change_beyond_the_jitter_is_older_or_new_by_its_time(
    rec: FloorState, state: str, gap: float, before: bool
) -> None:
    """A change stamped more than the jitter before the last change applied is OLDER
    (applying it would undo a newer one: a late OK must not expire the floor of a spike
    happening now), and one more than the jitter after it is NEW (a real change is never
    swallowed), except a copy of the ALARM that opened the episode on record, which is a
    DUPLICATE either way: it does nothing, however late."""
    assert rec.changed_at is not None
    at = rec.changed_at - gap if before else rec.changed_at + gap
    order = arrival(rec, state, at)
    opening_copy = state == "ALARM" and rec.opened_at is not None and abs(at - rec.opened_at) <= J
    if opening_copy:
        assert order is Arrival.DUPLICATE
    else:
        assert order is (Arrival.OLDER if before else Arrival.NEW), (rec, state, at)


# --- time ---------------------------------------------------------------------------------------

any_time = st.none() | st.floats()
finite = st.floats(allow_nan=False, allow_infinity=False)
epoch = st.floats(min_value=0.0, max_value=4e9) | finite


@runs(600)
@given(any_time, st.floats())
def test_time_checks_never_raise(at: float | None, now: float) -> None:
    """No stamp, however broken (None, NaN, +-inf, 1e308, negative), makes the checks raise:
    a poison value must be refused with a reason, not crash the function into Lambda's
    retries (which would deliver it again and again)."""
    assert isinstance(untrusted_time(at, now, "alarm change"), str)
    assert isinstance(from_the_future(at, now), bool)


@runs(800)
@given(
    st.one_of(
        finite,
        st.floats(min_value=-2 * MAX_AGE_SECONDS, max_value=2 * MAX_FUTURE_SKEW_SECONDS),
        st.sampled_from([-MAX_AGE_SECONDS, MAX_FUTURE_SKEW_SECONDS, 0.0]),
    ),
    epoch,
    st.booleans(),
)
def test_a_time_is_trusted_exactly_within_the_age_and_skew_bounds(
    x: float, now: float, relative: bool
) -> None:
    """A finite stamp is trusted exactly when ``now - 3600 <= at <= now + 120``: an hour covers
    every honest delivery and retry, two minutes every honest clock skew. Trusting a stamp
    from 2099 would make every genuine change after it look older and be dropped for ever;
    refusing an honest one would drop a real alarm."""
    at = now + x if relative else x
    why = untrusted_time(at, now, "alarm change")
    inside = now - MAX_AGE_SECONDS <= at <= now + MAX_FUTURE_SKEW_SECONDS
    assert (why == "") == inside, (at, now, why)


@runs(600)
@given(any_time | st.sampled_from([math.nan, math.inf, -math.inf]), epoch)
def test_from_the_future_agrees_with_untrusted_time(at: float | None, now: float) -> None:
    """A stored time is "from the future" exactly when ``untrusted_time`` would refuse it as
    stamped in the future (beyond the skew); a non-finite stored time is never relied on
    either, and is never trusted by ``untrusted_time``. The two checks guard the write and
    the read of the same record, so they must not disagree about which side a time is on."""
    why = untrusted_time(at, now, "alarm change")
    future = from_the_future(at, now)
    if at is None:
        assert not future and why
    elif not math.isfinite(at):
        assert future and why
    else:
        assert future == (at > now + MAX_FUTURE_SKEW_SECONDS) == ("in the future" in why)
