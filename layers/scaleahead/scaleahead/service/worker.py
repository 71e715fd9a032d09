"""One work item: refresh the forecast if due, run the domain's tick, act, record.

The tick itself is ``domain.tick``, the same function the backtest replays; this module adds
what only the Lambda has: the reads (load, forecast, planned events), the refit, the lease,
the recognition of a redelivered work item, the action through ``actuate``, and the rest
(``domain.rest``) told to the tick on the target's item.

This module fits forecasts and therefore imports numpy (through ``domain.forecast``); the alarm
path never imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from scaleahead.domain.controller import (
    HISTORY_SECONDS,
    evaluation_interval,
    forecast_horizon,
    observe,
    recent_seconds,
)
from scaleahead.domain.decision import Action, Reason
from scaleahead.domain.events import outside_events
from scaleahead.domain.forecast import fit_forecast
from scaleahead.domain.record import DecisionRecord, Source
from scaleahead.domain.rest import describe_rest
from scaleahead.domain.series import Forecast, InsufficientHistory
from scaleahead.domain.state import StoredForecast
from scaleahead.domain.target import Target
from scaleahead.domain.tick import (
    Memory,
    Seen,
    decide_step,
    explain,
    forecast_view,
    plan_rest,
    plan_step,
    refit_due,
)
from scaleahead.service.actuate import carry_out, record_and_observe, settle
from scaleahead.service.ports import CONFIGURATION_FAULTS, LeaseHeld, LeasePort
from scaleahead.service.runtime import AnyRuntime


@dataclass(frozen=True)
class Skipped:
    """A work item that led to no decision: why (``unknown_target``, ``disabled``,
    ``duplicate``), and the tick it carried."""

    target_id: str
    reason: str
    tick: int | None = None


Outcome = DecisionRecord | Skipped


def refresh_forecast(
    rt: AnyRuntime,
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


def read_ahead(rt: AnyRuntime, target_ids: Sequence[str], now: float) -> None:
    """Read the batch's recent load ahead, in as few calls as can be (``MetricsPort.read_ahead``),
    for the targets that will read it: not those due a refit (they read 14 days, alone), and
    not those whose definition is missing, invalid or disabled (``process_target`` says why).
    Inside the store's and the metrics' shared reads, so this costs no DynamoDB read."""
    reads = []
    for tid in target_ids:
        try:
            target = rt.store.get_target(tid)
            if target is None or not target.enabled:
                continue
            stored = rt.store.get_forecast(target) if target.forecast.enabled else None
        except Exception:  # an economy: the work item meets (and reports) the fault itself
            continue
        if refit_due(target, stored.generated_at if stored else None, now):
            continue
        reads.append((target, now - recent_seconds(target.load_metric.period_seconds)))
    rt.metrics.read_ahead(reads, now)


def process_target(rt: AnyRuntime, target_id: str, now: float, tick: int | None = None) -> Outcome:
    """Plan and act for one target; returns the decision record (or why nothing was decided).

    ``tick`` identifies the work item: SQS delivers at least once, and a tick already handled
    is recognised under the lease and dropped, with no second decision and no change. The
    lease is taken only after the slow part (reading metrics, fitting): the alarm path waits
    for it, and should wait for a read-decide-act, not for a forecast.
    """
    target = rt.store.get_target(target_id)
    if target is None:
        rt.store.record_rejected(now, f"work item for unknown target {target_id!r}", target_id)
        return Skipped(target_id, "unknown_target")
    if not target.enabled:
        return Skipped(target_id, "disabled")

    period = target.load_metric.period_seconds
    stored = rt.store.get_forecast(target) if target.forecast.enabled else None
    every_event = rt.store.planned_events(None, now)  # one Query per batch (shared_reads)
    events = [e for e in every_event if e.target == target.id]
    if refit_due(target, stored.generated_at if stored else None, now):
        history = rt.metrics.load_series(target, now - HISTORY_SECONDS, now)
        # The model learns from ordinary days: the windows of events begun are left out, those
        # of every target planning from this forecast (a shared driver's fit serves them all).
        begun = [e for e in every_event if e.start <= now and e.learned_by == target.forecast_key]
        stored = refresh_forecast(rt, target, now, outside_events(history, begun), stored)
    else:
        history = rt.metrics.load_series(target, now - recent_seconds(period), now)
    seen = Seen(
        forecast_view(target, stored, now),
        observe(history, now, period),
        events,
        evaluation_interval(target, rt.settings.tick_seconds),
    )
    try:
        with rt.store.lease(target.id, rt.owner, now) as lease:
            return _decide_under_lease(rt, lease, target, now, tick, seen)
    except LeaseHeld:
        record = _not_acted(
            target,
            Reason.LEASE_HELD,
            "another invocation holds this target's lease; the next tick re-plans",
        )
        record_and_observe(rt, target, now, record)
        return record


def _not_acted(target: Target, reason: Reason, message: str) -> DecisionRecord:
    """A decision refused before capacity was read: no figures, only why."""
    return DecisionRecord(
        Source.WORKER, Action.NONE, False, reason, message, kind=target.kind.value
    )


def _decide_under_lease(
    rt: AnyRuntime,
    lease: LeasePort,
    target: Target,
    now: float,
    tick: int | None,
    seen: Seen,
) -> Outcome:
    """Read, decide, act and record, holding the lease: the part that must not run twice."""
    state = lease.state
    settled = settle(rt, lease, target, now)
    # A redelivered tick is dropped, unless it finds its own first attempt's action not made
    # (the attempt died after recording the intent): then it plans again, from what is now.
    duplicate = tick is not None and state.last_tick is not None and tick <= state.last_tick
    if duplicate and not settled.not_done:
        return Skipped(target.id, "duplicate", tick)
    if tick is not None:
        state.last_tick = max(tick, state.last_tick or tick)
    # Planned under the lease: the learned warm-up lives in the state read with it.
    memory = Memory(state.plans, state.floor, state.warmups, state.rest)
    planned = plan_step(target, seen, memory, now)
    state.plans, state.floor, state.rest = planned.stand.plans, planned.stand.floor_state, None
    adapter = rt.adapter(target)
    paused = rt.paused(target)
    try:
        out = decide_step(
            target,
            seen,
            planned,
            now,
            lambda guarded: adapter.read(target, scale_in=guarded),
            acts=rt.acts(target),
            paused=paused,
        )
    except CONFIGURATION_FAULTS as err:
        # A configuration fault, not a passing one: record it every tick (the operator sees
        # it in the log and in `decisions`) rather than retry into the dead-letter queue. The
        # tick is handled: its redelivery would only say it again; a reconciled intent is kept.
        record = _not_acted(target, Reason.FAILED, f"cannot read capacity: {err}")
        record_and_observe(rt, target, now, record)
        lease.commit(state)
        return record
    decision = out.decision
    rest = plan_rest(target, seen, planned, decision, out.reading, now)
    if rest is not None and not settled.not_done:
        state.rest = rest
        decision = replace(
            decision, message=f"{decision.message}; {describe_rest(rest, out.reading.desired)}"
        )
    inputs = replace(
        explain(target, seen, planned, now, paused=paused, mode=rt.mode(target).value),
        distrusted=settled.distrusted or None,
        rest_until=state.rest.until if state.rest else None,
    )
    record = carry_out(
        rt,
        lease,
        target,
        state,
        out.reading,
        decision,
        source=Source.WORKER,
        now=now,
        inputs=inputs,
    )
    if state.rest is not None:
        # Told to the tick on the target's own item, which it reads anyway: a resting target
        # costs the tick nothing, and no work item is sent for it.
        rt.store.rest_target(target, state.rest.until)
    return record
