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

from typing import Any

from scaleahead.aws.capacity import ResourceNotFound
from scaleahead.aws.errors import AwsCallFailed
from scaleahead.domain.alarm_events import AlarmSignal, target_id_from_alarm
from scaleahead.domain.controller import (
    alarm_threshold,
    floor_decision,
    on_alarm,
    on_alarm_cleared,
)
from scaleahead.domain.reactive import Arrival, arrival
from scaleahead.domain.target import Target, TargetError
from scaleahead.domain.timing import untrusted_time
from scaleahead.service.actuate import carry_out, settle
from scaleahead.service.runtime import Runtime
from scaleahead.store import Lease, LeaseHeld

# The worker holds a lease for well under a second: wait for it (0.2 s, 0.4 s, ...) rather
# than fail, up to about three seconds in all.
LEASE_TRIES = 5


def _refuse(
    rt: Runtime, now: float, status: str, reason: str, signal: AlarmSignal
) -> dict[str, Any]:
    rt.store.record_rejected(now, reason, signal.__dict__)
    return {"status": status, "reason": reason}


def handle_signal(
    rt: Runtime,
    signal: AlarmSignal,
    now: float,
    *,
    account: str | None = None,
    region: str | None = None,
) -> dict[str, Any]:
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
    target = rt.store.get_target(tid)
    if target is None:
        reason = f"alarm {name!r} names target {tid!r}, which is not defined"
        return _refuse(rt, now, "rejected", reason, signal)
    if not target.enabled:
        reason = f"alarm {name!r}: target {tid!r} is disabled; nothing done"
        return _refuse(rt, now, "ignored", reason, signal)

    try:
        with rt.store.lease(target.id, rt.owner, now, tries=LEASE_TRIES) as lease:
            return _apply(rt, lease, target, signal, now)
    except LeaseHeld:
        # Still held after waiting: quiet if the holder has already applied this very change,
        # else raise so that Lambda retries (the change is then checked again, under the lease).
        state = rt.store.get_state(target.id)
        assert signal.timestamp is not None
        if state.pending is None and arrival(state.floor, signal.state, signal.timestamp) in (
            Arrival.DUPLICATE,
            Arrival.OLDER,
        ):
            return {"status": "duplicate", "target_id": target.id}
        raise


def _apply(
    rt: Runtime, lease: Lease, target: Target, signal: AlarmSignal, now: float
) -> dict[str, Any]:
    state = lease.state
    assert signal.timestamp is not None  # untrusted_time refused the rest
    changed_at = signal.timestamp
    settled = settle(rt, lease, target, now)
    order = arrival(state.floor, signal.state, changed_at)
    name = signal.alarm_name

    if order is not Arrival.NEW:
        redo = (
            order is Arrival.DUPLICATE
            and signal.state == "ALARM"
            and settled.not_done
            and state.floor.floor is not None
        )
        if not redo:
            applied = state.floor.changed_at or 0.0
            reason = f"alarm {name!r}: {signal.state} at {changed_at:.3f} is " + (
                f"a copy of the change already applied ({applied:.3f}); nothing done"
                if order is Arrival.DUPLICATE
                else f"older than the change already applied ({applied:.3f}); ignored"
            )
            status = "duplicate" if order is Arrival.DUPLICATE else "ignored"
            return _refuse(rt, now, status, reason, signal)

    try:
        reading = rt.adapter(target).read(target, scale_in=False)
    except (ResourceNotFound, TargetError, AwsCallFailed) as err:
        # A configuration fault: retrying the event cannot fix it; record it and stop. (A
        # transient error propagates instead: Lambda retries the event.)
        reason = f"alarm {name!r}: cannot read capacity of {target.id!r}: {err}"
        return _refuse(rt, now, "failed", reason, signal)
    paused = rt.paused(target)
    acts = rt.acts(target)
    # The threshold is the one this stack set on the alarm (on record, else the one it sets for
    # this capacity, as `targets apply` does), never the payload's: a forged low one would
    # inflate the overshoot, a forged high one would silence a real alarm.
    threshold = state.alarm_threshold or alarm_threshold(target, reading.desired)
    if order is not Arrival.NEW:
        # The first delivery recorded this episode but its action was not made (it was
        # interrupted, and reconciled as not done): apply the episode's own floor, as recorded.
        assert state.floor.floor is not None
        decision = floor_decision(
            target, state.floor.floor, reading.desired, acts=acts, paused=paused
        )
    elif signal.state == "ALARM":
        state.floor, decision = on_alarm(
            target,
            state.floor,
            reading.desired,
            signal.observed,
            threshold,
            now,
            changed_at,
            acts=acts,
            paused=paused,
        )
    else:
        state.floor, decision = on_alarm_cleared(
            target, state.floor, signal.state, reading.desired, changed_at
        )
    inputs = {
        "alarm": name,
        "alarm_state": signal.state,
        "alarm_source": signal.source,
        "alarm_changed_at": changed_at,
        "observed_load": signal.observed,
        "alarm_threshold_seen": signal.threshold,
        "alarm_threshold_used": threshold,
        "episode_start": state.floor.start,
        "floor": state.floor.floor,
        "min": target.min_capacity,
        "max": target.max_capacity,
        "mode": rt.mode(target).value,
        "paused": paused or None,
        "distrusted": settled.distrusted or None,
    }
    record = carry_out(
        rt, lease, target, state, reading, decision, source="alarm", now=now, inputs=inputs
    )
    return {"status": "handled", "target_id": target.id, **record}
