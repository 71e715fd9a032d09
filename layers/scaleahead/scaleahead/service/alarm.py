"""An alarm state change: raise the reactive floor at once on ALARM, start its expiry on OK.

Latency matters here (users are waiting on capacity the forecast missed), so this path imports
no numpy and makes four AWS calls on ALARM: read capacity, record the intent, set capacity,
move the alarm (plus the lease and the records).

One state change arrives up to three times (EventBridge, SNS, the Lambda action, each stamped a
few hundred milliseconds apart) and any of them may be retried. Each change is checked against
the alarm episode on record under the target's lease (``reactive.arrival``): a copy of a change
already applied, or an older one, does nothing, however long after it comes. That holds by
design, not by a deduplication record that expires.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from scaleahead.domain.alarm import Change, admit, on_change, refusal
from scaleahead.domain.alarm_events import AlarmSignal, target_id_from_alarm
from scaleahead.domain.reactive import Arrival, arrival
from scaleahead.domain.record import DecisionRecord, Source
from scaleahead.domain.timing import untrusted_time
from scaleahead.service.actuate import carry_out, settle
from scaleahead.service.ports import CONFIGURATION_FAULTS, LeaseHeld, LeasePort
from scaleahead.service.runtime import AnyRuntime

if TYPE_CHECKING:
    from scaleahead.domain.target import Target

# The worker holds a lease for well under a second: wait for it (0.2 s, 0.4 s, ...) rather
# than fail, up to about three seconds in all.
LEASE_TRIES = 5


@dataclass(frozen=True)
class AlarmOutcome:
    """What one delivery of an alarm state change came to: ``handled`` (with its decision
    record), or ``rejected``, ``ignored``, ``duplicate``, ``failed`` with the reason."""

    status: str
    reason: str = ""
    target_id: str | None = None
    record: DecisionRecord | None = None


def _refuse(
    rt: AnyRuntime, now: float, status: str, reason: str, signal: AlarmSignal
) -> AlarmOutcome:
    rt.store.record_rejected(now, reason, signal.__dict__)
    return AlarmOutcome(status, reason)


def _change(signal: AlarmSignal) -> Change:
    assert signal.timestamp is not None  # untrusted_time refused the rest
    return Change(
        alarm=signal.alarm_name,
        state=signal.state,
        changed_at=signal.timestamp,
        observed=signal.observed,
        threshold_seen=signal.threshold,
        source=signal.source,
    )


def handle_signal(
    rt: AnyRuntime,
    signal: AlarmSignal,
    now: float,
    *,
    account: str | None = None,
    region: str | None = None,
) -> AlarmOutcome:
    """Apply one alarm state change; ``account`` and ``region`` are the stack's own, which
    the change must come from."""
    name = signal.alarm_name
    foreign = signal.foreign(account, region)
    if foreign:
        return _refuse(rt, now, "rejected", f"alarm {name!r}: {foreign}; nothing done", signal)
    untrusted = untrusted_time(signal.timestamp, now, f"alarm {name!r} {signal.state} change")
    if untrusted:
        return _refuse(rt, now, "rejected", f"{untrusted}; nothing done", signal)
    tid = target_id_from_alarm(rt.settings.alarm_prefix, name)
    if tid is None:
        reason = (
            f"alarm {name!r} is not managed by this stack "
            f"(expected '{rt.settings.alarm_prefix}<target>-high-load')"
        )
        return _refuse(rt, now, "rejected", reason, signal)
    # The compact record, validated when written: no pydantic on this path (issue 15).
    target = rt.store.alarm_target(tid)
    if target is None:
        reason = f"alarm {name!r} names target {tid!r}, which is not defined"
        return _refuse(rt, now, "rejected", reason, signal)
    if not target.enabled:
        reason = f"alarm {name!r}: target {tid!r} is disabled; nothing done"
        return _refuse(rt, now, "ignored", reason, signal)

    change = _change(signal)
    try:
        with rt.store.lease(target.id, rt.owner, now, tries=LEASE_TRIES) as lease:
            return _apply(rt, lease, target, signal, change, now)
    except LeaseHeld:
        # Still held after waiting: quiet if the holder has already applied this very change,
        # else raise so that Lambda retries (the change is then checked again, under the lease).
        state = rt.store.get_state(target.id)
        if state.pending is None and arrival(state.floor, change.state, change.changed_at) in (
            Arrival.DUPLICATE,
            Arrival.OLDER,
        ):
            return AlarmOutcome("duplicate", target_id=target.id)
        raise


def _apply(
    rt: AnyRuntime,
    lease: LeasePort,
    target: Target,
    signal: AlarmSignal,
    change: Change,
    now: float,
) -> AlarmOutcome:
    state = lease.state
    settled = settle(rt, lease, target, now)
    admission = admit(state.floor, change, interrupted=settled.not_done)
    if not admission.act:
        status = "duplicate" if admission.order is Arrival.DUPLICATE else "ignored"
        return _refuse(rt, now, status, refusal(state.floor, change, admission.order), signal)
    # The forecast that let the target rest has just been proved wrong: the worker plans it
    # again at the next tick (the rest's ticks so far still count as its plans). The state says
    # so now; the tick is told after the action, off the latency-critical path.
    rested = False
    if state.rest is not None and state.rest.until > now:
        state.rest, rested = replace(state.rest, until=now), True
    try:
        reading = rt.adapter(target).read(target, scale_in=False)
    except CONFIGURATION_FAULTS as err:
        # A configuration fault: retrying the event cannot fix it; record it and stop. (A
        # transient error propagates instead: Lambda retries the event.)
        reason = f"alarm {change.alarm!r}: cannot read capacity of {target.id!r}: {err}"
        return _refuse(rt, now, "failed", reason, signal)
    out = on_change(
        target,
        state.floor,
        change,
        admission,
        reading.desired,
        now,
        stored_threshold=state.alarm_threshold,
        acts=rt.acts(target),
        paused=rt.paused(target),
        mode=rt.mode(target).value,
    )
    state.floor = out.floor
    inputs = replace(out.inputs, distrusted=settled.distrusted or None)
    record = carry_out(
        rt,
        lease,
        target,
        state,
        reading,
        out.decision,
        source=Source.ALARM,
        now=now,
        inputs=inputs,
    )
    if rested:
        rt.store.end_rest(target.id)
    return AlarmOutcome("handled", target_id=target.id, record=record)
