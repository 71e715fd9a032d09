"""One tick of one target, as a pure function: the worker runs it, and so do the backtest, the
``status`` command and the forecast chart, so each of them shows what the Lambda would do.

A tick takes what was read before it (the forecast on record, the recent load, the planned
events) and what the target remembers (its recent plans, the alarm episode, its learned
warm-ups), and returns the decision and the target's new memory; ``explain`` says what the
decision was made from, for its record. It reads capacity through
the ``read`` it is given, once, and a second time with the resource's scale-in guards only when
a scale-in is on the table: those guards cost reads (ElastiCache: the memory and CPU of every
node). Acting on the decision, and recording it, is the caller's part: ``plan_step``, then
``decide_step``, then ``plan_rest`` (how long the target may go unevaluated).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scaleahead.domain.capacity import CapacityReading
from scaleahead.domain.controller import (
    STALE_AFTER_REFRESHES,
    Observation,
    Standing,
    decide_tick,
    plan_tick,
    planning_warmup,
    standing,
)
from scaleahead.domain.decision import Action, Decision, clamp
from scaleahead.domain.events import PlannedEvent
from scaleahead.domain.level import level_for
from scaleahead.domain.plan import Plan, predictive_plan
from scaleahead.domain.reactive import FloorState
from scaleahead.domain.record import TickInputs
from scaleahead.domain.rest import MAX_REST_SECONDS, Rest, fill_rest
from scaleahead.domain.series import Forecast, forecast_error
from scaleahead.domain.state import StoredForecast
from scaleahead.domain.target import Target
from scaleahead.domain.warmup import WarmupLog

NO_FORECAST_YET = "no forecast has been fitted yet"
FORECAST_DISABLED = "forecasting is disabled for this target (reactive-only)"
FORECAST_TOO_OLD = "the stored forecast is too old"


def refit_due(target: Target, fitted_at: float | None, now: float) -> bool:
    """A forecast is refitted once it is ``refresh_seconds`` old (or when there is none)."""
    return target.forecast.enabled and (
        fitted_at is None or now - fitted_at >= target.forecast.refresh_seconds
    )


def forecast_unavailable(
    target: Target, now: float, *, fitted_at: float | None, usable: bool, reason: str
) -> str:
    """Why the forecast on record may not be planned from now, or "" when it may.

    ``usable``: the fit produced a forecast (``reason`` says why not otherwise). A forecast
    older than ``STALE_AFTER_REFRESHES`` refreshes (its refits keep failing) is not trusted:
    the tick goes reactive-only rather than plan on it.
    """
    if not target.forecast.enabled:
        return FORECAST_DISABLED
    if fitted_at is None:
        return NO_FORECAST_YET
    if not usable:
        return reason or NO_FORECAST_YET
    if now - fitted_at > STALE_AFTER_REFRESHES * target.forecast.refresh_seconds:
        return FORECAST_TOO_OLD
    return ""


@dataclass(frozen=True)
class ForecastView:
    """The forecast a tick plans from (None when it may not), and what is on record."""

    forecast: Forecast | None
    unavailable: str
    fitted_at: float | None = None
    status: str = "disabled"


def forecast_view(target: Target, stored: StoredForecast | None, now: float) -> ForecastView:
    """The forecast on record as a tick may plan from it; ``status`` and the forecast chart
    look ahead through the same rule, so they never show a plan the worker would refuse."""
    fitted_at = stored.generated_at if stored else None
    usable = stored is not None and stored.status == "ok" and bool(stored.forecast)
    why = forecast_unavailable(
        target, now, fitted_at=fitted_at, usable=usable, reason=stored.reason if stored else ""
    )
    forecast = (
        Forecast.from_item(stored.forecast) if stored and stored.forecast and not why else None
    )
    return ForecastView(forecast, why, fitted_at, stored.status if stored else "disabled")


@dataclass(frozen=True)
class Seen:
    """What the tick read before it ran: the forecast, the recent load, the planned events."""

    view: ForecastView
    obs: Observation
    events: Sequence[PlannedEvent]
    every: int


@dataclass(frozen=True)
class Memory:
    """What the target carries from tick to tick (part of its stored state)."""

    plans: list[tuple[float, int]]
    floor: FloorState
    warmups: WarmupLog
    # The rest the previous evaluation took, if any (``domain.rest``).
    rest: Rest | None = None


@dataclass(frozen=True)
class TickOutcome:
    decision: Decision
    reading: CapacityReading
    plans: list[tuple[float, int]]
    floor: FloorState


# read(guarded): the capacity, with the resource's scale-in guards evaluated when ``guarded``.
Read = Callable[[bool], CapacityReading]


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


@dataclass(frozen=True)
class Planned:
    """The first half of a tick: the plan, stood against the window and the alarm floor."""

    plan: Plan
    level: float
    stand: Standing
    warmup: int
    warmup_source: str
    # the observed load over the forecast that ``level`` came from (``level.observed_ratio``)
    ratio: float = 1.0


def plan_step(target: Target, seen: Seen, memory: Memory, now: float) -> Planned:
    """Plan, and stand the plan against the stabilisation window and the alarm floor. What it
    returns is the target's new memory whether or not capacity can then be read."""
    warmup, warmup_source = planning_warmup(target, memory.warmups)
    plan, level, ratio = plan_tick(
        target,
        seen.view.forecast,
        seen.obs,
        now,
        seen.every,
        seen.view.unavailable,
        warmup,
        seen.events,
    )
    plans = fill_rest(memory.plans, memory.rest, seen.every, now)
    stand = standing(target, plan, now, seen.every, plans, memory.floor)
    return Planned(plan, level, stand, warmup, warmup_source, ratio)


def decide_step(
    target: Target,
    seen: Seen,
    planned: Planned,
    now: float,
    read: Read,
    *,
    acts: bool = True,
    paused: str = "",
) -> TickOutcome:
    """Read capacity and decide. Errors of ``read`` propagate: the caller knows what a failed
    read means for it."""
    obs, plan, stand = seen.obs, planned.plan, planned.stand

    def decide_on(reading: CapacityReading, guarded: bool) -> Decision:
        return decide_tick(
            target,
            plan,
            obs,
            stand,
            reading.desired,
            acts=acts,
            paused=paused,
            resource_floor=reading.scale_in_floor if guarded else None,
            resource_floor_reason=reading.scale_in_floor_reason if guarded else "",
        )

    reading = read(False)
    decision = decide_on(reading, False)
    if decision.action is Action.SCALE_IN:
        reading = read(True)
        decision = decide_on(reading, True)
    return TickOutcome(decision, reading, stand.plans, stand.floor_state)


def explain(
    target: Target, seen: Seen, planned: Planned, now: float, *, paused: str = "", mode: str = ""
) -> TickInputs:
    """What a tick decided from, for its decision record: separate from the decision, so that
    a replay of thousands of ticks (the backtest) pays only for the decision."""
    forecast, obs, plan, stand = seen.view.forecast, seen.obs, planned.plan, planned.stand
    return TickInputs(
        plan=plan.desired,
        plan_basis=plan.basis,
        planned_load=plan.planned_load,
        observed_load=obs.latest,
        data_problem=obs.problem or None,
        level=round(planned.level, 4),
        floor=stand.floor,
        stable_plan=stand.stable,
        min=target.min_capacity,
        max=target.max_capacity,
        mode=mode,
        paused=paused or None,
        warmup_seconds=planned.warmup,
        warmup_source=planned.warmup_source,
        forecast_at=seen.view.fitted_at,
        forecast_status=seen.view.status,
        forecast_now=forecast.at(now) if forecast else None,
        forecast_upper_now=forecast.at(now, upper=True) if forecast else None,
        events=[e.describe() for e in seen.events if e.overlaps(now, plan.window_end)] or None,
        forecast_error=_rounded(forecast_error(forecast, obs.points)) if forecast else None,
    )


def plan_rest(
    target: Target,
    seen: Seen,
    planned: Planned,
    decision: Decision,
    reading: CapacityReading,
    now: float,
) -> Rest | None:
    """The rest the target may take from now (``domain.rest`` says why it may), or None: the
    longest whole number of intervals, up to ``MAX_REST_SECONDS``, over which the forecast asks
    for no more than the present capacity and no skipped tick could have scaled in. The rest
    holds the highest capacity the stretched plan asks for: the plan each skipped tick counts
    as in the stabilisation window."""
    every = seen.every
    if MAX_REST_SECONDS // every < 2:
        return None  # a rest skips at least one tick: none fits at this interval
    plan = planned.plan
    current = reading.desired
    lo, hi = target.min_capacity, target.max_capacity
    if (
        decision.action is not Action.NONE
        or decision.desired != current
        or reading.ready < current
        or reading.busy
        or planned.stand.floor is not None
        or not seen.obs.ok
        or seen.view.forecast is None
        or seen.view.unavailable
        or seen.events
        or plan.desired is None
        or clamp(plan.desired, lo, hi) > current
    ):
        return None
    forecast, points = seen.view.forecast, seen.obs.points
    # A tick plans at least for the load it sees; a skipped tick would have seen load like
    # the recent one, so the stretched plan takes the highest of the recent window.
    recent_peak = max((v for _, v in points), default=seen.obs.latest)
    window = target.effective_stabilisation_seconds
    ratio = planned.ratio
    known = sorted(planned.stand.plans)
    rest: Rest | None = None
    for ticks in range(2, MAX_REST_SECONDS // every + 1):
        # Every tick the rest skips would have planned over a window inside this stretched one,
        # with the level its correction would have reached by then: the last skipped tick's,
        # should the load keep its present ratio to the forecast (above it, the level rises).
        last_skipped = now + (ticks - 1) * every
        level = max(planned.level, level_for(forecast, ratio, last_skipped))
        stretched = predictive_plan(
            forecast,
            now=now,
            warmup_seconds=planned.warmup,
            tick_seconds=ticks * every,
            capacity_per_unit=target.capacity_per_unit,
            level=level,
            observed_load=recent_peak,
        )
        if stretched.desired is None or clamp(stretched.desired, lo, hi) > current:
            break
        if not _surely_held(known, now, every, last_skipped, window, lo, hi, current):
            break
        rest = Rest(now, now + ticks * every, clamp(stretched.desired, lo, hi))
    return rest


def _surely_held(
    plans: Sequence[tuple[float, int]],
    now: float,
    every: int,
    at: float,
    window: int,
    lo: int,
    hi: int,
    current: int,
) -> bool:
    """Whether the tick at ``at`` would surely leave capacity at ``current``: a plan already on
    record (``plans``, sorted, none after ``now``) for at least ``current`` is still in force
    over the stabilisation window at ``at`` (``plan.stabilised``: the plans inside the window,
    and the last one before it), however low the ticks between now and then would have
    planned. A scale-in the window allows is never delayed by a rest; only one the window
    would have allowed below the rest's own plan waits for it to leave the window, as the
    ticks it skipped would have asked."""
    if lo >= current:
        return True  # nothing to scale in to: a skipped tick's plan counts as at least ``lo``
    start = at - window
    if any(t > start and clamp(d, lo, hi) >= current for t, d in plans):
        return True
    if start >= now + every - 1e-6:
        return False  # the plan in force at the window's start is a skipped tick's
    before = [d for t, d in plans if t <= start]
    return bool(before) and clamp(before[-1], lo, hi) >= current
