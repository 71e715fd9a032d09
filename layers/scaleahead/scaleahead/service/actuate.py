"""Carry out a decision under the target's lease and record it: shared by alarm and worker.

Both paths end the same way (act or not, keep the alarm's threshold on the capacity now
planned, write the decision log, tell the observers), so they share this one function and can
never disagree about what was recorded.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from scaleahead.aws.capacity import CapacityReading
from scaleahead.domain.controller import alarm_threshold
from scaleahead.domain.decision import Action, Decision, Reason
from scaleahead.domain.target import Target
from scaleahead.domain.warmup import asked, observe_ready, scaled_in
from scaleahead.service.runtime import Runtime
from scaleahead.store import TargetState

log = logging.getLogger(__name__)


def carry_out(
    rt: Runtime,
    target: Target,
    state: TargetState,
    reading: CapacityReading,
    decision: Decision,
    *,
    source: str,
    now: float,
    inputs: dict[str, Any],
) -> dict[str, Any]:
    """Execute ``decision`` (unless the resource is busy), commit the state (releasing the
    lease), then record the decision; returns the record."""
    detail = ""
    # Whatever is decided, this reading may show an earlier scale-out ready: a warm-up observed.
    state.warmups = observe_ready(state.warmups, now, reading.ready)
    if decision.execute and reading.busy:
        decision = replace(
            decision,
            reason=Reason.BUSY,
            execute=False,
            message=f"{decision.message}; not now: {reading.busy}, will retry next tick",
        )
    executed = False
    if decision.execute:
        try:
            act = rt.adapter(target).set_capacity(target, decision.desired, reading)
        except (ClientError, BotoCoreError) as err:
            decision = replace(
                decision,
                reason=Reason.FAILED,
                execute=False,
                message=f"{decision.message}; the change failed: {err}",
            )
        else:
            executed = act.applied
            detail = act.detail
            if executed:
                state.last_action = decision.action.value
                state.last_action_at = now
                state.last_desired = act.desired
                if act.desired > reading.desired:
                    state.warmups = asked(state.warmups, now, act.desired)
                else:
                    state.warmups = scaled_in(state.warmups, act.desired)

    capacity_now = (
        state.last_desired if executed and state.last_desired is not None else (reading.desired)
    )
    threshold = alarm_threshold(target, capacity_now)
    if state.alarm_threshold is None or abs(state.alarm_threshold - threshold) > 1e-6:
        try:
            rt.metrics.put_high_load_alarm(target, rt.settings.alarm_prefix, threshold)
            state.alarm_threshold = threshold
        except (ClientError, BotoCoreError) as err:
            # The scaling already happened; a stale threshold only delays the next alarm.
            log.warning("could not move the high-load alarm of %s: %s", target.id, err)

    record: dict[str, Any] = {
        "source": source,
        "kind": target.kind.value,
        "action": decision.action.value if executed or not decision.execute else Action.NONE.value,
        "before": reading.desired,
        "after": capacity_now,
        "desired": decision.desired,
        "ready": reading.ready,
        "executed": executed,
        "reason": decision.reason.value,
        "message": decision.message,
        "detail": detail,
        "alarm_threshold": state.alarm_threshold,
        "inputs": inputs,
    }
    # State first: once capacity has changed, the floor, the plans and the threshold must be on
    # record even if writing the log line below fails (a retry then sees the change as done).
    rt.store.commit_state(state, rt.owner)
    record_and_observe(rt, target, now, record)
    return record


def record_and_observe(rt: Runtime, target: Target, now: float, record: dict[str, Any]) -> None:
    """Write the decision log entry, then tell the observers; observers never fail a decision."""
    rt.store.record_decision(target.id, now, record)
    try:
        rt.on_decision(target, record)
    except Exception:
        log.exception("decision observer failed for %s", target.id)
