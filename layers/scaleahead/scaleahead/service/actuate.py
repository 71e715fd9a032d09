"""Carry out a decision under the target's lease and record it: shared by alarm and worker.

Both paths end the same way (act or not, keep the alarm's threshold on the capacity now
planned, write the decision log, tell the observers), so they share this one function and can
never disagree about what was recorded.

An action is on record before AWS is called: the decision goes into the target's state as an
*intent* (with the decision record's key), the lease still held. Then AWS is called, then the
decision record is written under that key, then the state is committed without the intent and
the lease released. An invocation that dies or times out anywhere in between leaves the
intent; the next one to take the lease (alarm or worker) ``reconcile``\\ s it against the
resource's real capacity and writes that one record: done or not done, never acted twice,
never unrecorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from scaleahead.domain.alarm import alarm_threshold, alarm_unavailable
from scaleahead.domain.capacity import CapacityReading
from scaleahead.domain.decision import Action, Decision, Reason
from scaleahead.domain.reactive import FloorState
from scaleahead.domain.record import DecisionRecord, Inputs, Source
from scaleahead.domain.state import Intent, TargetState
from scaleahead.domain.timing import from_the_future
from scaleahead.domain.warmup import asked, observe_ready, scaled_in
from scaleahead.service.ports import CONFIGURATION_FAULTS, LeasePort, PortError
from scaleahead.service.runtime import AnyRuntime

if TYPE_CHECKING:
    from scaleahead.domain.target import Target

log = logging.getLogger(__name__)


def distrust_the_future(state: TargetState, now: float) -> list[str]:
    """Forget stored times past now (plus the allowed skew), and say so.

    Only a fault (or a version that trusted stamps blindly) can have written them, and kept
    they would make every genuine tick or alarm look older than the record and be dropped.
    """
    notes = []
    if from_the_future(state.last_tick, now):
        notes.append(f"stored last_tick {state.last_tick} lies in the future; forgotten")
        state.last_tick = None
    f = state.floor
    if any(from_the_future(t, now) for t in (f.changed_at, f.opened_at, f.ok_at, f.raised_at)):
        notes.append(
            f"stored alarm episode ({f.alarm_state} at {f.changed_at}) lies in the future;"
            " forgotten"
        )
        state.floor = FloorState()
    for note in notes:
        log.warning("target %s: %s", state.target_id, note)
    return notes


def settle(rt: AnyRuntime, lease: LeasePort, target: Target, now: float) -> Settled:
    """What every invocation does first under the lease: forget stored times from the future
    and complete an intent an interrupted invocation left. Either marks the lease ``dirty``,
    so the state is kept whatever the invocation then decides."""
    state = lease.state
    distrusted = distrust_the_future(state, now)
    reconciled = reconcile(rt, target, state, now) if state.pending else None
    lease.dirty = lease.dirty or bool(distrusted) or reconciled is not None
    return Settled(distrusted, reconciled)


@dataclass(frozen=True)
class Settled:
    """What ``settle`` found, handed back so that the caller records the distrusted stamps
    with its decision, and acts again when an interrupted intent was not carried out."""

    distrusted: list[str]
    # The record of an interrupted intent completed now, or None.
    reconciled: DecisionRecord | None

    @property
    def not_done(self) -> bool:
        """An interrupted intent was found not carried out: its cause should act again."""
        return self.reconciled is not None and not self.reconciled.executed


def _moved(intent: Intent, reading: CapacityReading) -> str:
    """How the resource shows the intended change carried out, or "" if it does not."""
    if reading.desired == intent.desired:
        return f"capacity is {reading.desired}, as intended"
    if intent.action == Action.SCALE_OUT.value and reading.desired > intent.before:
        return f"capacity went from {intent.before} to {reading.desired}"
    if intent.action == Action.SCALE_IN.value and reading.desired < intent.before:
        return f"capacity went from {intent.before} to {reading.desired}"
    if reading.busy:
        # The intent was only written after a reading that found nothing in flight, under the
        # lease: a change in flight now is, all but certainly, this one.
        return f"a change is in flight ({reading.busy})"
    return ""


def _record_of(intent: Intent, after: int, executed: bool, message: str) -> DecisionRecord:
    return DecisionRecord(
        source=Source(intent.source),
        action=Action(intent.action) if executed else Action.NONE,
        before=intent.before,
        after=after,
        desired=intent.desired,
        ready=intent.ready,
        executed=executed,
        reason=Reason(intent.reason) if executed else Reason.FAILED,
        message=message,
        inputs=intent.inputs,
        reconciled=True,
    )


def _done(state: TargetState, intent: Intent, after: int) -> None:
    """The state an executed intent leaves: last action, and a scale-out to time its warm-up."""
    state.last_action = intent.action
    state.last_action_at = intent.at
    state.last_desired = after
    if after > intent.before:
        state.warmups = asked(state.warmups, intent.at, after)
    else:
        state.warmups = scaled_in(state.warmups, after)


def reconcile(
    rt: AnyRuntime, target: Target, state: TargetState, now: float
) -> DecisionRecord | None:
    """Complete an intent an earlier invocation left (it died between recording and finishing).

    The resource says whether the change was made; its decision record is written once, under
    the intent's key (kept if it is already there). The alarm is re-put at the next decision.
    A transient error reading the resource propagates and leaves the intent for a later try.
    """
    intent = state.pending
    if intent is None:
        return None
    prefix = f"{intent.message} [completed by a later invocation after the first was interrupted"
    try:
        reading = rt.adapter(target).read(target, scale_in=False)
    except CONFIGURATION_FAULTS as err:
        record = _record_of(intent, intent.before, False, f"{prefix}: cannot check: {err}]")
    else:
        how = _moved(intent, reading)
        if how:
            _done(state, intent, reading.desired)
            record = _record_of(intent, reading.desired, True, f"{prefix}: {how}]")
        else:
            record = _record_of(
                intent,
                reading.desired,
                False,
                f"{prefix}: capacity is still {reading.desired}; the change was not made]",
            )
    rt.store.record_decision(target.id, intent.at, record, sk=intent.sk, if_absent=True)
    state.pending = None
    state.alarm_threshold = None  # unknown whether the alarm was moved: move it again
    _observe(rt, target, record)
    return record


def carry_out(
    rt: AnyRuntime,
    lease: LeasePort,
    target: Target,
    state: TargetState,
    reading: CapacityReading,
    decision: Decision,
    *,
    source: Source,
    now: float,
    inputs: Inputs,
) -> DecisionRecord:
    """Execute ``decision`` (unless the resource is busy), record it, commit the state and
    release the lease; returns the record."""
    # Whatever is decided, this reading may show an earlier scale-out ready: a warm-up observed.
    state.warmups = observe_ready(state.warmups, now, reading.ready)
    if decision.execute and reading.busy:
        decision = replace(
            decision,
            reason=Reason.BUSY,
            execute=False,
            message=f"{decision.message}; not now: {reading.busy}, will retry next tick",
        )
    sk = rt.store.new_decision_sk(now)
    detail = ""
    executed = False
    after = reading.desired
    if decision.execute:
        intent = Intent(
            sk=sk,
            source=source.value,
            action=decision.action.value,
            before=reading.desired,
            desired=decision.desired,
            ready=reading.ready,
            reason=decision.reason.value,
            message=decision.message,
            at=now,
            inputs=inputs,
        )
        state.pending = intent
        lease.save(state)  # the intent is on record before AWS is called
        # A transient error propagates from here with the intent on record: the retry
        # reconciles it first, so it can never act a second time.
        try:
            act = rt.adapter(target).set_capacity(target, decision.desired, reading)
        except CONFIGURATION_FAULTS as err:
            decision, executed, after, detail = _refused(rt, target, intent, decision, err)
        else:
            executed, after, detail = act.applied, act.desired if act.applied else after, act.detail
        if executed:
            _done(state, intent, after)
        state.pending = None

    threshold = alarm_threshold(target, after)
    moves = state.alarm_threshold is None or abs(state.alarm_threshold - threshold) > 1e-6
    if moves and alarm_unavailable(target.load_metric.region, rt.metrics.home_region):
        moves = False  # no alarm can reach the functions: the tick is the reactive path
    if moves:
        try:
            rt.metrics.put_high_load_alarm(target, rt.settings.alarm_prefix, threshold)
            state.alarm_threshold = threshold
        except PortError as err:
            # The scaling already happened; a stale threshold only delays the next alarm.
            log.warning("could not move the high-load alarm of %s: %s", target.id, err)

    record = DecisionRecord(
        source=source,
        kind=target.kind.value,
        action=decision.action if executed or not decision.execute else Action.NONE,
        before=reading.desired,
        after=after,
        desired=decision.desired,
        ready=reading.ready,
        executed=executed,
        reason=decision.reason,
        message=decision.message,
        detail=detail,
        alarm_threshold=state.alarm_threshold,
        inputs=inputs,
    )
    # The record first, then the state: a failure between the two leaves the intent (or, for a
    # decision that did not act, a record written twice at worst), never an unrecorded change.
    rt.store.record_decision(target.id, now, record, sk=sk)
    lease.commit(state)
    _observe(rt, target, record)
    return record


def _refused(
    rt: AnyRuntime, target: Target, intent: Intent, decision: Decision, err: Exception
) -> tuple[Decision, bool, int, str]:
    """AWS refused the change for good (or the resource vanished). A refusal can follow a
    success whose reply was lost (botocore retried a call that had gone through), so the
    resource is read once more before the change is called failed."""
    try:
        reading = rt.adapter(target).read(target, scale_in=False)
    except CONFIGURATION_FAULTS:
        how = ""
    else:
        how = _moved(intent, reading)
    if how:
        return decision, True, reading.desired, f"the call answered {err}, but {how}"
    failed = replace(
        decision,
        reason=Reason.FAILED,
        execute=False,
        message=f"{decision.message}; the change failed: {err}",
    )
    return failed, False, intent.before, ""


def record_and_observe(rt: AnyRuntime, target: Target, now: float, record: DecisionRecord) -> None:
    """Write the decision log entry, then tell the observers; observers never fail a decision."""
    rt.store.record_decision(target.id, now, record)
    _observe(rt, target, record)


def _observe(rt: AnyRuntime, target: Target, record: DecisionRecord) -> None:
    try:
        rt.on_decision(target, record)
    except Exception:
        log.exception("decision observer failed for %s", target.id)
