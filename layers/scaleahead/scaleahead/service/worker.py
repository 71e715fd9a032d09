"""One work item: refresh the forecast if stale, plan, decide, actuate, record.

This module fits forecasts and therefore imports numpy (through ``domain.forecast``); the alarm
path never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scaleahead.aws.capacity import CapacityReading, ResourceNotFound
from scaleahead.aws.errors import AwsCallFailed
from scaleahead.domain.controller import (
    HISTORY_SECONDS,
    STALE_AFTER_REFRESHES,
    Observation,
    decide_tick,
    evaluation_interval,
    forecast_horizon,
    observe,
    plan_tick,
    planning_warmup,
    recent_seconds,
    standing,
)
from scaleahead.domain.decision import Action, Decision, Reason
from scaleahead.domain.events import PlannedEvent, outside_events
from scaleahead.domain.forecast import fit_forecast
from scaleahead.domain.series import Forecast, InsufficientHistory, forecast_error
from scaleahead.domain.target import Target, TargetError
from scaleahead.service.actuate import carry_out, record_and_observe, settle
from scaleahead.service.runtime import Runtime
from scaleahead.store import Lease, LeaseHeld, StoredForecast


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def refresh_forecast(
    rt: Runtime,
    target: Target,
    now: float,
    history: list[tuple[float, float]],
    previous: StoredForecast | None = None,
) -> StoredForecast:
    """Refit and store; the previous forecast lends the fit its model choice (kept a day)."""
    before = None
    if previous is not None and previous.status == "ok" and previous.forecast:
        before = Forecast.from_item(previous.forecast)
    try:
        fc = fit_forecast(
            [t for t, _ in history],
            [v for _, v in history],
            now=now,
            horizon_seconds=forecast_horizon(target, rt.settings.tick_seconds),
            quantile=target.forecast.quantile,
            max_history_seconds=HISTORY_SECONDS,
            previous=before,
        )
    except InsufficientHistory as err:
        stored = StoredForecast("reactive-only", now, str(err), None)
    else:
        stored = StoredForecast("ok", now, fc.model, fc.to_item())
    rt.store.put_forecast(target, stored)
    return stored


@dataclass(frozen=True)
class _Seen:
    """What a work item read before taking the lease: the forecast, the load, the events."""

    forecast: Forecast | None
    stored: StoredForecast | None
    obs: Observation
    events: list[PlannedEvent]
    every: int
    unavailable: str


def process_target(
    rt: Runtime, target_id: str, now: float, tick: int | None = None
) -> dict[str, Any]:
    """Plan and act for one target; returns the decision record (or why nothing was decided).

    ``tick`` identifies the work item: SQS delivers at least once, and a tick already handled
    is recognised under the lease and dropped, with no second decision and no change. The
    lease is taken only after the slow part (reading metrics, fitting): the alarm path waits
    for it, and should wait for a read-decide-act, not for a forecast.
    """
    target = rt.store.get_target(target_id)
    if target is None:
        rt.store.record_rejected(now, f"work item for unknown target {target_id!r}", target_id)
        return {"target_id": target_id, "reason": "unknown_target"}
    if not target.enabled:
        return {"target_id": target_id, "reason": "disabled"}

    period = target.load_metric.period_seconds
    stored = rt.store.get_forecast(target) if target.forecast.enabled else None
    refresh = target.forecast.enabled and (
        stored is None or now - stored.generated_at >= target.forecast.refresh_seconds
    )
    every_event = rt.store.planned_events(None, now)  # one Query per batch (shared_reads)
    events = [e for e in every_event if e.target == target.id]
    if refresh:
        history = rt.metrics.load_series(target, now - HISTORY_SECONDS, now)
        # The model learns from ordinary days: the windows of events begun are left out, those
        # of every target planning from this forecast (a shared driver's fit serves them all).
        begun = [e for e in every_event if e.start <= now and e.learned_by == target.forecast_key]
        stored = refresh_forecast(rt, target, now, outside_events(history, begun), stored)
    else:
        history = rt.metrics.load_series(target, now - recent_seconds(period), now)
    obs = observe(history, now, period)

    forecast: Forecast | None = None
    unavailable = "forecasting is disabled for this target (reactive-only)"
    if stored is not None:
        if stored.status == "ok" and stored.forecast:
            if now - stored.generated_at <= STALE_AFTER_REFRESHES * target.forecast.refresh_seconds:
                forecast = Forecast.from_item(stored.forecast)
            else:
                unavailable = "the stored forecast is too old"
        else:
            unavailable = stored.reason
    every = evaluation_interval(target, rt.settings.tick_seconds)

    try:
        with rt.store.lease(target.id, rt.owner, now) as lease:
            seen = _Seen(forecast, stored, obs, events, every, unavailable)
            return _decide_under_lease(rt, lease, target, now, tick, seen)
    except LeaseHeld:
        record = {
            "source": "worker",
            "kind": target.kind.value,
            "action": "none",
            "executed": False,
            "reason": Reason.LEASE_HELD.value,
            "message": "another invocation holds this target's lease; the next tick re-plans",
        }
        record_and_observe(rt, target, now, record)
        return record


def _decide_under_lease(
    rt: Runtime,
    lease: Lease,
    target: Target,
    now: float,
    tick: int | None,
    seen: _Seen,
) -> dict[str, Any]:
    """Read, decide, act and record, holding the lease: the part that must not run twice."""
    forecast, stored, obs, events, every = (
        seen.forecast,
        seen.stored,
        seen.obs,
        seen.events,
        seen.every,
    )
    state = lease.state
    settled = settle(rt, lease, target, now)
    # A redelivered tick is dropped, unless it finds its own first attempt's action not made
    # (the attempt died after recording the intent): then it plans again, from what is now.
    duplicate = tick is not None and state.last_tick is not None and tick <= state.last_tick
    if duplicate and not settled.not_done:
        return {"target_id": target.id, "reason": "duplicate", "tick": tick}
    if tick is not None:
        state.last_tick = max(tick, state.last_tick or tick)
    adapter = rt.adapter(target)
    # Planned under the lease: the learned warm-up lives in the state read with it.
    warmup, warmup_source = planning_warmup(target, state.warmups)
    plan, level = plan_tick(target, forecast, obs, now, every, seen.unavailable, warmup, events)
    stand = standing(target, plan, now, every, state.plans, state.floor)
    state.plans, state.floor = stand.plans, stand.floor_state

    paused = rt.paused(target)

    def decide_on(reading: CapacityReading, *, guarded: bool) -> Decision:
        return decide_tick(
            target,
            plan,
            obs,
            stand,
            reading.desired,
            acts=rt.acts(target),
            paused=paused,
            resource_floor=reading.scale_in_floor if guarded else None,
            resource_floor_reason=reading.scale_in_floor_reason if guarded else "",
        )

    try:
        # The resource's scale-in guards cost reads (ElastiCache: memory and CPU of every
        # node), so they are evaluated only once a scale-in is on the table.
        reading = adapter.read(target, scale_in=False)
        decision = decide_on(reading, guarded=False)
        if decision.action is Action.SCALE_IN:
            reading = adapter.read(target)
            decision = decide_on(reading, guarded=True)
    except (ResourceNotFound, TargetError, AwsCallFailed) as err:
        # A configuration fault, not a passing one: record it every tick (the operator sees
        # it in the log and in `decisions`) rather than retry into the dead-letter queue. The
        # tick is not marked handled; a reconciled intent is kept.
        record = {
            "source": "worker",
            "kind": target.kind.value,
            "action": "none",
            "executed": False,
            "reason": Reason.FAILED.value,
            "message": f"cannot read capacity: {err}",
        }
        record_and_observe(rt, target, now, record)
        lease.commit(state)  # the tick is handled: its redelivery would only say it again
        return record
    inputs = {
        "plan": plan.desired,
        "plan_basis": plan.basis,
        "planned_load": plan.planned_load,
        "observed_load": obs.latest,
        "data_problem": obs.problem or None,
        "level": round(level, 4),
        "floor": stand.floor,
        "stable_plan": stand.stable,
        "min": target.min_capacity,
        "max": target.max_capacity,
        "mode": rt.mode(target).value,
        "paused": paused or None,
        "warmup_seconds": warmup,
        "warmup_source": warmup_source,
        "forecast_at": stored.generated_at if stored else None,
        "forecast_status": stored.status if stored else "disabled",
        "forecast_now": forecast.at(now) if forecast else None,
        "forecast_upper_now": forecast.at(now, upper=True) if forecast else None,
        # How far the forecast was off over the recent window: the dashboard's accuracy line.
        "events": [e.describe() for e in events if e.overlaps(now, plan.window_end)] or None,
        "forecast_error": _rounded(forecast_error(forecast, obs.points)) if forecast else None,
        "distrusted": settled.distrusted or None,
    }
    return carry_out(
        rt, lease, target, state, reading, decision, source="worker", now=now, inputs=inputs
    )
