"""The control law of one target, as pure functions: what a tick plans and decides (what an
alarm changes is ``domain.alarm``, which the alarm path imports without this module's forecast
and plan machinery).

The worker and the alarm function wrap these with reads, leases and writes; the backtest calls
them on a simulated clock. Keeping the law here, free of AWS and of numpy, is what lets the
backtest's figures speak for the product: it runs this code, not a model of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from scaleahead.domain.decision import Decision, DecisionInput, clamp, decide
from scaleahead.domain.events import PlannedEvent, floor_in, uplift_in, uplifted
from scaleahead.domain.level import level_for, observed_ratio
from scaleahead.domain.plan import Plan, predictive_plan, stabilised, trim_plans
from scaleahead.domain.reactive import FloorState, active_floor
from scaleahead.domain.series import Forecast
from scaleahead.domain.warmup import WarmupLog, learned_seconds

if TYPE_CHECKING:
    from scaleahead.domain.target import Target

RECENT_SECONDS = 30 * 60
# How much load history a forecast is fitted on: two weeks, so each weekday is seen twice.
HISTORY_SECONDS = 14 * 86400
# A stored forecast older than this many refresh intervals (its refits keep failing) is not
# planned on: the tick goes reactive-only rather than trust it.
STALE_AFTER_REFRESHES = 3


@dataclass(frozen=True)
class Observation:
    """What the load metric says right now, and whether it can be trusted for a scale-in."""

    points: list[tuple[float, float]]
    latest: float | None
    problem: str

    @property
    def ok(self) -> bool:
        return not self.problem


def recent_seconds(period: int) -> int:
    """How far back "now" looks: 30 minutes, or three periods of a coarse metric."""
    return max(RECENT_SECONDS, 3 * period + 120)


def observe(points: Sequence[tuple[float, float]], now: float, period: int) -> Observation:
    window = recent_seconds(period)
    recent = [(t, v) for t, v in points if now - window <= t <= now]
    if not recent:
        return Observation([], None, f"no load datapoint in the last {window // 60} min")
    t_last, v_last = recent[-1]
    if not math.isfinite(v_last):
        return Observation(recent, None, "the latest load datapoint is not a finite number")
    # CloudWatch publishes a period's datapoint after the period ends, plus some delay.
    max_age = 3 * period + 120
    if now - t_last > max_age:
        return Observation(
            recent, v_last, f"the latest load datapoint is {(now - t_last) / 60:.0f} min old"
        )
    return Observation(recent, v_last, "")


def evaluation_interval(target: Target, tick_seconds: int) -> int:
    """How long until this target is planned again: its own interval, at least one tick."""
    return max(target.evaluate_every_seconds, tick_seconds)


def forecast_horizon(target: Target, tick_seconds: int) -> int:
    """How far a fitted forecast must reach: until the next refresh, plus one warm-up and one
    evaluation interval beyond it (the last plan made from it looks that far), plus an hour's
    slack for a late refresh; never under six hours, for the operator's charts."""
    every = evaluation_interval(target, tick_seconds)
    return max(
        6 * 3600,
        target.forecast.refresh_seconds + target.effective_warmup_seconds + every + 3600,
    )


def plan_tick(
    target: Target,
    forecast: Forecast | None,
    obs: Observation,
    now: float,
    every: int,
    unavailable: str,
    warmup_seconds: int | None = None,
    events: Sequence[PlannedEvent] = (),
) -> tuple[Plan, float, float]:
    """The plan for this evaluation, with the level correction it applied and the observed
    ratio that correction came from (``level.observed_ratio``; 1 without a forecast), which a
    rest projects forward (``tick.plan_rest``); ``warmup_seconds`` overrides the target's (the
    worker passes the learned warm-up, ``planning_warmup``).

    Planned events act on the same window as the forecast peak: an uplift multiplies the
    forecast before anything else (so the level correction compares reality with the uplifted
    expectation once the event is on), and a ``--min`` floor holds from one warm-up before the
    event opens until it closes."""
    warmup = target.effective_warmup_seconds if warmup_seconds is None else warmup_seconds
    if forecast is not None:
        forecast = uplifted(forecast, events)
    ratio = observed_ratio(forecast, obs.points, now) if forecast is not None else 1.0
    level = level_for(forecast, ratio, now) if forecast is not None else 1.0
    plan = predictive_plan(
        forecast,
        now=now,
        warmup_seconds=warmup,
        # The plan must last until the next evaluation, which may be several ticks away.
        tick_seconds=every,
        capacity_per_unit=target.capacity_per_unit,
        level=level,
        observed_load=obs.latest,
        unavailable_reason=unavailable,
    )
    up = uplift_in(events, plan.window_start, plan.window_end) if forecast is not None else None
    if up is not None:
        plan = replace(plan, basis=f"{plan.basis}, with {up.describe()}")
    held = floor_in(events, plan.window_start, plan.window_end)
    if (
        held is not None
        and held.min_capacity is not None
        and (plan.desired is None or held.min_capacity > plan.desired)
    ):
        plan = replace(plan, desired=held.min_capacity, basis=held.describe())
    return plan, level, ratio


def forecast_plan(
    target: Target,
    forecast: Forecast,
    at: float,
    every: int,
    warmup_seconds: int,
    events: Sequence[PlannedEvent] = (),
) -> Plan | None:
    """The plan a tick at ``at`` will make from this forecast alone, its capacity within the
    target's bounds, for the operator's look ahead (``status``, ``forecast``): the tick's own
    law, less what only that tick can know (the load it observes and the level correction it
    reads from it). None where the forecast does not cover the window."""
    nothing = Observation([], None, "")
    plan, _, _ = plan_tick(target, forecast, nothing, at, every, "", warmup_seconds, events)
    if plan.desired is None:
        return None
    return replace(plan, desired=clamp(plan.desired, target.min_capacity, target.max_capacity))


def planning_warmup(target: Target, log: WarmupLog) -> tuple[int, str]:
    """The warm-up to plan with, and where it comes from: the operator's ``warmup_seconds``
    when set (their word wins), else the learned one once there are enough observations, else
    the kind's default."""
    if target.warmup_seconds is not None:
        return target.warmup_seconds, "configured"
    learned = learned_seconds(log)
    if learned is not None:
        return learned, f"learned from {len(log.observed)} scale-outs"
    return target.effective_warmup_seconds, "default for the kind"


@dataclass(frozen=True)
class Standing:
    """What a tick decides against besides the plan: the reactive floor and the window."""

    plans: list[tuple[float, int]]
    floor_state: FloorState
    floor: int | None
    stable: int | None
    covered: bool


def standing(
    target: Target,
    plan: Plan,
    now: float,
    every: int,
    plans: Sequence[tuple[float, int]],
    floor_state: FloorState,
) -> Standing:
    """Record this plan in the stabilisation window and expire the floor if its time is up."""
    stab = target.effective_stabilisation_seconds
    floor = active_floor(floor_state, now, stab)
    if floor is None and floor_state.floor is not None:
        # Expired; keep the episode's identity so an older or copied delivery stays ignored.
        floor_state = floor_state.expired()
    kept = list(plans)
    if plan.desired is not None:
        kept = trim_plans([*kept, (now, plan.desired)], now, stab)
    # One missed evaluation is tolerated; a longer gap means the window has to fill again.
    stable, covered = stabilised(kept, now, stab, 2 * every + 30)
    return Standing(kept, floor_state, floor, stable, covered)


def decide_tick(
    target: Target,
    plan: Plan,
    obs: Observation,
    stand: Standing,
    current: int,
    *,
    acts: bool = True,
    paused: str = "",
    resource_floor: int | None = None,
    resource_floor_reason: str = "",
) -> Decision:
    return decide(
        DecisionInput(
            current=current,
            min_capacity=target.min_capacity,
            max_capacity=target.max_capacity,
            plan=plan.desired,
            plan_basis=plan.basis,
            floor=stand.floor,
            stable_plan=stand.stable,
            window_covered=stand.covered,
            data_ok=obs.ok and plan.desired is not None,
            data_problem=obs.problem or plan.basis,
            acts=acts,
            resource_floor=resource_floor,
            resource_floor_reason=resource_floor_reason,
            paused=paused,
        )
    )
