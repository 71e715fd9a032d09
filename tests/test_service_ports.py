"""The use cases on in-memory fakes of their ports: no moto, no AWS, each outcome exact.

The worker, the alarm path and the tick see capacity, metrics and state only through
``scaleahead.service.ports``; here those ports are ``scaleahead_testkit.fakes``, so each test
states what was read, what was asked for and what was recorded, in milliseconds. The adapters
keep the same contracts on moto (test_ecs_adapter, test_worker, test_handlers...).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from typing import Any

import pytest

from scaleahead.domain.alarm_events import AlarmSignal
from scaleahead.domain.decision import Action, Reason
from scaleahead.domain.record import DecisionRecord, TickInputs
from scaleahead.service.alarm import handle_signal
from scaleahead.service.ports import NotFound, Transient
from scaleahead.service.runtime import AnyRuntime, Runtime
from scaleahead.service.tick import run_tick
from scaleahead.service.worker import Skipped, process_target
from scaleahead_testkit.fakes import (
    FakeCapacity,
    FakeMetrics,
    MemoryQueue,
    MemoryStore,
    fake_runtime,
)
from tests.conftest import NOW, target_dict

TICK = int(NOW // 60 * 60)
ALARM = "scaleahead-web-high-load"


def fake_world(
    load: float = 1000.0, desired: int = 4, **over: Any
) -> tuple[Runtime[MemoryStore], FakeCapacity, FakeMetrics]:
    """Target ``web`` (100 req/min a task, 2..20 tasks) at ``desired`` tasks, with half an hour
    of ``load`` a minute: too short a history to fit, so the plan tracks the observed load."""
    capacity = FakeCapacity({"web": desired})
    metrics = FakeMetrics({"web": [(NOW - 60 * i, load) for i in range(30, 0, -1)]})
    rt = fake_runtime([target_dict(**over)], capacity=capacity, metrics=metrics)
    return rt, capacity, metrics


def decided(out: DecisionRecord | Skipped) -> DecisionRecord:
    assert isinstance(out, DecisionRecord), out
    return out


def stored(rec: DecisionRecord, at: float = NOW) -> DecisionRecord:
    """The record as the store reads it back: with its target and time."""
    return replace(rec, target_id="web", at=at)


def alarm(state: str = "ALARM", at: float = NOW - 110, observed: float = 520.0) -> AlarmSignal:
    return AlarmSignal(
        alarm_name=ALARM,
        state=state,
        previous_state="OK",
        timestamp=at,
        observed=observed,
        threshold=400.0,
        source="eventbridge",
        event_id="6a7e8feb",
        account="123456789012",
        region="us-east-1",
    )


def test_the_fake_runtime_is_a_runtime_the_services_take() -> None:
    rt: AnyRuntime = fake_runtime([target_dict()])  # mypy: MemoryStore is a StatePort
    assert rt.store.get_target("web") is not None and rt.store.get_target("ghost") is None


def test_a_tick_scales_out_when_the_load_exceeds_the_capacity() -> None:
    rt, cap, met = fake_world(load=1000.0, desired=4)
    rec = decided(process_target(rt, "web", NOW, TICK))
    assert (rec.action, rec.reason, rec.executed) == (Action.SCALE_OUT, Reason.PLAN, True)
    assert (rec.before, rec.after, rec.desired) == (4, 10, 10)
    assert isinstance(rec.inputs, TickInputs) and rec.inputs.observed_load == 1000.0
    assert "reactive-only" in rec.inputs.plan_basis
    assert cap.desired["web"] == 10 and cap.sets("web") == [10]
    # the alarm moved with the capacity: 10 tasks x 100 req/min
    assert met.alarms == {ALARM: 1000.0} and rec.alarm_threshold == 1000.0
    store = rt.store
    assert store.decisions_of("web") == [stored(rec)]
    state = store.get_state("web")
    assert (state.last_action, state.last_desired, state.last_tick) == ("scale_out", 10, TICK)
    assert state.pending is None and store.lease_owner("web") is None
    fc = store.get_forecast("web")
    assert fc is not None and fc.status == "reactive-only"  # half an hour cannot be fitted


def test_a_redelivered_tick_is_a_duplicate_and_acts_once() -> None:
    rt, cap, _ = fake_world()
    first = decided(process_target(rt, "web", NOW, TICK))
    again = process_target(rt, "web", NOW + 20, TICK)
    assert again == Skipped("web", "duplicate", TICK)
    assert first.executed and cap.sets("web") == [10]
    assert rt.store.decisions_of("web") == [stored(first)]


def test_a_lease_held_elsewhere_is_recorded_and_nothing_is_called() -> None:
    rt, cap, _ = fake_world()
    rt.store.acquire_lease("web", "alarm-path", NOW)
    rec = decided(process_target(rt, "web", NOW, TICK))
    assert (rec.reason, rec.action, rec.executed) == (Reason.LEASE_HELD, Action.NONE, False)
    assert cap.calls == [] and cap.desired["web"] == 4
    assert rt.store.decisions_of("web") == [stored(rec)]
    # the other invocation still holds it, and the state was not touched
    assert rt.store.lease_owner("web") == "alarm-path" and rt.store.writes == []


def test_a_resource_not_found_is_recorded_as_failed_and_raises_nothing() -> None:
    rt, cap, _ = fake_world()
    cap.fail_next("read", NotFound("service prod/web not found"))
    rec = decided(process_target(rt, "web", NOW, TICK))
    assert (rec.reason, rec.executed) == (Reason.FAILED, False)
    assert "service prod/web not found" in rec.message
    assert cap.ops("set") == [] and rt.store.decisions_of("web") == [stored(rec)]
    # the tick is handled (its redelivery is a duplicate), the lease released
    assert rt.store.get_state("web").last_tick == TICK and rt.store.lease_owner("web") is None
    assert process_target(rt, "web", NOW + 20, TICK) == Skipped("web", "duplicate", TICK)


def test_a_transient_failure_after_the_change_is_reconciled_once_without_acting_again() -> None:
    rt, cap, _ = fake_world()
    # AWS made the change, but the reply was lost: the SDK gave up with a transient error
    cap.fail_next("set", Transient("read timeout on UpdateService"), applied=True)
    with pytest.raises(Transient):
        process_target(rt, "web", NOW, TICK)
    intent = rt.store.get_state("web").pending
    assert intent is not None and (intent.before, intent.desired) == (4, 10)
    assert rt.store.decisions == [] and rt.store.lease_owner("web") is None

    # SQS redelivers the work item: the intent is completed against the resource, once
    assert process_target(rt, "web", NOW + 30, TICK) == Skipped("web", "duplicate", TICK)
    assert cap.sets("web") == [10]
    [(tid, sk, rec)] = rt.store.decisions
    assert (tid, sk) == ("web", intent.sk)
    assert (rec.executed, rec.reconciled, rec.action, rec.after) == (
        True,
        True,
        Action.SCALE_OUT,
        10,
    )
    state = rt.store.get_state("web")
    assert state.pending is None and (state.last_action, state.last_desired) == ("scale_out", 10)


def test_a_transient_failure_before_the_change_is_recorded_failed_then_acted_once() -> None:
    rt, cap, _ = fake_world()
    cap.fail_next("set", Transient("throttled"))
    with pytest.raises(Transient):
        process_target(rt, "web", NOW, TICK)
    intent = rt.store.get_state("web").pending
    assert intent is not None and cap.desired["web"] == 4

    # the redelivery finds the change not made: recorded so under the intent's key, then made
    rec = decided(process_target(rt, "web", NOW + 30, TICK))
    assert rec.executed and rec.after == 10 and cap.desired["web"] == 10
    assert cap.sets("web") == [10, 10]  # the first asked and was refused, the second made it
    keys = {sk: r for _, sk, r in rt.store.decisions}
    assert len(keys) == 2 and keys[intent.sk].reconciled and not keys[intent.sk].executed


def test_an_alarm_raises_the_floor_and_its_copy_is_a_duplicate() -> None:
    rt, cap, met = fake_world(load=150.0)
    out = handle_signal(rt, alarm(), NOW)
    assert (out.status, out.target_id) == ("handled", "web") and out.record is not None
    rec = out.record
    # 4 tasks' threshold is 400; 520 observed is 1.3 x over: a floor of ceil(5.2) = 6
    assert (rec.action, rec.reason, rec.before, rec.after) == (
        Action.SCALE_OUT,
        Reason.REACTIVE_FLOOR,
        4,
        6,
    )
    assert cap.desired["web"] == 6 and met.alarms == {ALARM: 600.0}
    floor = rt.store.get_state("web").floor
    assert (floor.floor, floor.alarm_state, floor.changed_at) == (6, "ALARM", NOW - 110)

    # the same change delivered again (SNS beside EventBridge, or a retry) does nothing
    copy = handle_signal(rt, alarm(), NOW + 1)
    assert copy.status == "duplicate" and "copy of the change" in copy.reason
    assert cap.sets("web") == [6] and rt.store.decisions_of("web") == [stored(rec)]
    assert [reason for _, reason, _ in rt.store.rejected] == [copy.reason]


def test_the_tick_enqueues_due_targets_and_records_a_broken_definition() -> None:
    queue = MemoryQueue()
    rt = fake_runtime(
        [target_dict(), target_dict(id="api", enabled=False)],
        queue=queue,
    )
    rt.store.put_definition("bad", {"id": "bad", "kind": "ecs"})
    result = run_tick(rt, NOW)
    assert (result.enqueued, result.disabled, result.invalid) == (["web"], ["api"], ["bad"])
    assert queue.sent == [{"target_id": "web", "tick": TICK}]
    [(_, reason, _)] = rt.store.rejected
    assert reason.startswith("target bad: stored definition is invalid")


# Run in a fresh interpreter where botocore and boto3 cannot be imported at all: the services
# (and the fakes) must import and run without them. test_architecture checks the imports each
# module writes; this checks what running them loads, through every module they reach.
_WITHOUT_BOTO = """
import json, sys
sys.modules["botocore"] = None
sys.modules["boto3"] = None
from scaleahead.domain.alarm_events import AlarmSignal
from scaleahead.service.alarm import handle_signal
from scaleahead.service.tick import run_tick
from scaleahead.service.worker import process_target
from scaleahead_testkit.fakes import FakeCapacity, FakeMetrics, fake_runtime

target, now = json.loads(sys.argv[1]), float(sys.argv[2])
metrics = FakeMetrics({"web": [(now - 60 * i, 1000.0) for i in range(1, 31)]})
rt = fake_runtime([target], capacity=FakeCapacity({"web": 4}), metrics=metrics)
run_tick(rt, now)
worker = process_target(rt, "web", now)
name = "scaleahead-web-high-load"
signal = AlarmSignal(name, "ALARM", "OK", now - 60, 2000.0, 1000.0, "sns", "e")
alarm = handle_signal(rt, signal, now + 60)
loaded = sorted(m for m in sys.modules if m.startswith(("scaleahead.aws", "scaleahead.handlers")))
print(json.dumps([worker.after, alarm.status, loaded]))
"""


def test_the_services_run_with_botocore_unimportable() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _WITHOUT_BOTO, json.dumps(target_dict()), str(NOW)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == [10, "handled", []]
