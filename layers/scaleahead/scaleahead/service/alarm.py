"""An alarm state change: raise the reactive floor at once on ALARM, start its expiry on OK.

Latency matters here (users are waiting on capacity the forecast missed), so this path imports
no numpy and makes three AWS calls on ALARM: read capacity, set it, move the alarm.
"""

from __future__ import annotations

import time
from typing import Any

from scaleahead.aws.capacity import ResourceNotFound
from scaleahead.domain.alarm_events import AlarmSignal, target_id_from_alarm
from scaleahead.domain.controller import on_alarm, on_alarm_cleared
from scaleahead.domain.target import TargetError
from scaleahead.service.actuate import carry_out
from scaleahead.service.runtime import Runtime
from scaleahead.store import LeaseHeld, TargetState

LEASE_TRIES = 5


def _lease(rt: Runtime, target_id: str, now: float) -> TargetState:
    """The worker holds a lease for well under a second; wait briefly rather than fail."""
    for attempt in range(LEASE_TRIES):
        try:
            return rt.store.acquire_lease(target_id, rt.owner, now)
        except LeaseHeld:
            if attempt == LEASE_TRIES - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def handle_signal(rt: Runtime, signal: AlarmSignal, now: float) -> dict[str, Any]:
    tid = target_id_from_alarm(rt.settings.alarm_prefix, signal.alarm_name)
    if tid is None:
        reason = (
            f"alarm {signal.alarm_name!r} is not managed by this stack "
            f"(expected '{rt.settings.alarm_prefix}<target>-high-load')"
        )
        rt.store.record_rejected(now, reason, signal.__dict__)
        return {"status": "rejected", "reason": reason}
    target = rt.store.get_target(tid)
    if target is None:
        reason = f"alarm {signal.alarm_name!r} names target {tid!r}, which is not defined"
        rt.store.record_rejected(now, reason, signal.__dict__)
        return {"status": "rejected", "reason": reason}

    if not target.enabled:
        reason = f"alarm {signal.alarm_name!r}: target {tid!r} is disabled; nothing done"
        rt.store.record_rejected(now, reason, signal.__dict__)
        return {"status": "ignored", "reason": reason}

    state = _lease(rt, target.id, now)
    try:
        changed_at = signal.timestamp if signal.timestamp is not None else now
        if state.floor.changed_at is not None and changed_at < state.floor.changed_at:
            # A late or retried delivery of an older change: applying it would undo a newer one
            # (an old ALARM after OK would pin the floor with nothing left to clear it).
            rt.store.release_lease(target.id, rt.owner)
            reason = (
                f"alarm {signal.alarm_name!r}: {signal.state} from {changed_at:.0f} is older "
                f"than the change already applied ({state.floor.changed_at:.0f}); ignored"
            )
            rt.store.record_rejected(now, reason, signal.__dict__)
            return {"status": "ignored", "reason": reason}
        try:
            reading = rt.adapter(target).read(target, scale_in=False)
        except (ResourceNotFound, TargetError) as err:
            # A configuration fault: retrying the event cannot fix it; record it and stop.
            rt.store.release_lease(target.id, rt.owner)
            reason = f"alarm {signal.alarm_name!r}: cannot read capacity of {tid!r}: {err}"
            rt.store.record_rejected(now, reason, signal.__dict__)
            return {"status": "failed", "reason": reason}
        paused = rt.paused(target)
        if signal.state == "ALARM":
            state.floor, decision = on_alarm(
                target,
                state.floor,
                reading.desired,
                signal.observed,
                signal.threshold,
                now,
                changed_at,
                acts=rt.acts(target),
                paused=paused,
            )
        else:
            state.floor, decision = on_alarm_cleared(
                target, state.floor, signal.state, reading.desired, changed_at
            )
        inputs = {
            "alarm": signal.alarm_name,
            "alarm_state": signal.state,
            "alarm_source": signal.source,
            "observed_load": signal.observed,
            "alarm_threshold_seen": signal.threshold,
            "floor": state.floor.floor,
            "min": target.min_capacity,
            "max": target.max_capacity,
            "mode": rt.mode(target).value,
            "paused": paused or None,
        }
        record = carry_out(
            rt, target, state, reading, decision, source="alarm", now=now, inputs=inputs
        )
        return {"status": "handled", "target_id": target.id, **record}
    except BaseException:
        rt.store.release_lease(target.id, rt.owner)
        raise
