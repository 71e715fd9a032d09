"""Rests through the use cases: the worker rests a target whose forecast holds its capacity,
the tick then skips it (no work item, no read) until the rest ends; a definition applied, or an
alarm, ends the rest at once; and the table's mark is written only for the definition planned
from, never recreating a deleted target. The fakes for the use cases, moto for the store."""

from __future__ import annotations

from typing import Any

import pytest

from scaleahead.domain.alarm_events import AlarmSignal
from scaleahead.domain.rest import Rest
from scaleahead.domain.series import Forecast
from scaleahead.domain.state import StoredForecast
from scaleahead.service.alarm import handle_signal
from scaleahead.service.runtime import Runtime
from scaleahead.service.tick import run_tick
from scaleahead.service.worker import process_target
from scaleahead.store import TARGETS_PK
from scaleahead_testkit.fakes import FakeCapacity, FakeMetrics, MemoryStore, fake_runtime
from tests.conftest import NOW, Aws, make_target, target_dict
from tests.faults import Faults, body_has
from tests.test_service_ports import decided

TICK = int(NOW // 60 * 60)
AT = TICK + 5.0  # the worker runs a few seconds after its tick


def flat(load: float, at: float) -> StoredForecast:
    fc = Forecast(
        start=at - 3600,
        step=60,
        mean=(load,) * 600,
        upper=(load,) * 600,
        quantile=0.9,
        generated_at=at - 60,
        history_seconds=14 * 86400,
        model="test",
    )
    return StoredForecast("ok", at - 60, fc.model, fc.to_item())


def world(load: float = 350.0, desired: int = 4) -> Runtime[MemoryStore]:
    """``web`` at ``desired`` tasks of 100, a fresh flat forecast of ``load`` and half an hour
    of that load observed: 350 plans 4 tasks, the capacity there is."""
    metrics = FakeMetrics({"web": [(AT - 60 * i, load) for i in range(30, 0, -1)]})
    rt = fake_runtime([target_dict()], capacity=FakeCapacity({"web": desired}), metrics=metrics)
    target = rt.store.get_target("web")
    assert target is not None
    rt.store.put_forecast(target, flat(load, AT))
    return rt


def test_a_held_capacity_rests_and_the_tick_skips_the_target_until_the_rest_ends() -> None:
    rt = world()
    rec = decided(process_target(rt, "web", AT, tick=TICK))
    assert rec.executed is False and rec.after == 4
    assert rec.tick is not None and rec.tick.rest_until == AT + 300
    assert "next evaluation in 5 min" in rec.message  # the record says why nothing follows
    assert rt.store.rests == {"web": AT + 300}
    skipped = [run_tick(rt, TICK + 60 * k) for k in range(1, 5)]
    assert all(r.resting == ["web"] and not r.enqueued for r in skipped)
    assert run_tick(rt, TICK + 300).enqueued == ["web"]  # within half a tick of the end
    # the next evaluation counts the skipped ticks as plans for the 4 tasks held
    decided(process_target(rt, "web", AT + 300, tick=TICK + 300))
    plans = rt.store.get_state("web").plans
    assert [t for t, _ in plans] == [AT + 60 * k for k in range(6)]
    assert {d for _, d in plans} == {4}


def test_a_target_that_needs_more_does_not_rest() -> None:
    rt = world(load=650.0)
    rec = decided(process_target(rt, "web", AT, tick=TICK))
    assert rec.executed and rec.after == 7
    assert rec.tick is not None and rec.tick.rest_until is None
    assert rt.store.rests == {} and run_tick(rt, TICK + 60).enqueued == ["web"]


def test_a_definition_applied_ends_the_rest() -> None:
    rt = world()
    decided(process_target(rt, "web", AT, tick=TICK))
    assert run_tick(rt, TICK + 60).resting == ["web"]
    rt.store.put_target(make_target(max_capacity=30))
    assert run_tick(rt, TICK + 120).enqueued == ["web"]


def _alarm(at: float) -> AlarmSignal:
    return AlarmSignal(
        alarm_name="scaleahead-web-high-load",
        state="ALARM",
        previous_state="OK",
        timestamp=at,
        observed=900.0,
        threshold=400.0,
        source="eventbridge",
        event_id="rest-1",
        account="123456789012",
        region="us-east-1",
    )


def test_an_alarm_ends_the_rest_and_keeps_the_ticks_rested_so_far() -> None:
    rt = world()
    decided(process_target(rt, "web", AT, tick=TICK))
    out = handle_signal(rt, _alarm(AT + 100), AT + 110)
    assert out.status == "handled"
    assert rt.store.rests == {}
    rest = rt.store.get_state("web").rest
    assert rest is not None and rest.until == AT + 110  # truncated, not forgotten
    assert run_tick(rt, TICK + 120).enqueued == ["web"]


# ---------------------------------------------------------------- the table's mark, on moto


def _item(aws: Aws) -> dict[str, Any] | None:
    got = aws.dynamodb.get_item(
        TableName=aws.settings.state_table, Key={"pk": {"S": TARGETS_PK}, "sk": {"S": "web"}}
    )
    item: dict[str, Any] | None = got.get("Item")
    return item


def test_the_mark_is_written_only_on_the_definition_planned_from(aws: Aws) -> None:
    store = aws.rt.store
    planned_from = make_target()
    store.put_target(planned_from, NOW)
    assert store.rest_target(planned_from, NOW + 300)
    [entry] = store.target_entries()
    assert entry.rest_until == NOW + 300
    store.end_rest("web")
    [entry] = store.target_entries()
    assert entry.rest_until is None
    store.end_rest("web")  # nothing to end: no error
    # another definition applied since: the mark is refused, the new one is evaluated
    store.put_target(make_target(max_capacity=30), NOW)
    assert not store.rest_target(planned_from, NOW + 300)
    [entry] = store.target_entries()
    assert entry.rest_until is None
    # a deleted target is never written back by a late mark
    store.delete_target("web")
    assert not store.rest_target(planned_from, NOW + 300)
    assert _item(aws) is None


def test_a_mark_that_cannot_be_written_costs_a_read_not_a_decision(
    aws: Aws, faults: Faults, caplog: pytest.LogCaptureFixture
) -> None:
    """The rest is an economy: when DynamoDB refuses its mark, the decision already recorded
    stands, nothing is retried, and the tick simply evaluates the target again."""
    store = aws.rt.store
    target = make_target()
    store.put_target(target, NOW)
    store.put_forecast(target, flat(350.0, AT))
    aws.put_load([(AT - 60 * i, 350.0) for i in range(15, 0, -1)])
    from moto.ecs.models import ecs_backends

    # moto runs no task: its 4 tasks are made running, as the demo's world does (a target
    # with capacity still starting never rests)
    ecs_backends["123456789012"]["us-east-1"].services["prod:web"].running_count = 4
    faults.add("dynamodb", "UpdateItem", "denied", times=0, when=body_has("rest_until"))
    rec = decided(process_target(aws.rt, "web", AT, tick=TICK))
    assert rec.executed is False and rec.tick is not None and rec.tick.rest_until == AT + 300
    assert "could not mark web resting" in caplog.text
    assert [r.reason for r in store.decisions("web")] == [rec.reason]  # recorded, once
    result = run_tick(aws.rt, TICK + 60)
    assert result.enqueued == ["web"] and result.resting == []


def test_an_alarm_whose_end_of_rest_cannot_be_written_still_acts_once(
    aws: Aws, faults: Faults, caplog: pytest.LogCaptureFixture
) -> None:
    """Ending the rest comes after the action, off the latency-critical path; when DynamoDB
    refuses it, the action stands, the invocation does not fail (a retry would be a duplicate
    anyway), and the rest simply runs out."""
    store = aws.rt.store
    target = make_target()
    store.put_target(target, NOW)
    assert store.rest_target(target, AT + 300)
    faults.add("dynamodb", "UpdateItem", "denied", times=0, when=body_has("REMOVE rest_until"))
    # a rest on record, as the worker leaves it
    with store.lease("web", "worker", AT) as lease:
        lease.state.rest = Rest(AT, AT + 300, 4)
        lease.commit(lease.state)
    out = handle_signal(aws.rt, _alarm(AT + 100), AT + 110)
    assert out.status == "handled" and out.record is not None and out.record.executed
    assert aws.desired() > 4  # scaled out once
    assert "could not end the rest of web" in caplog.text
    state = store.get_state("web")
    assert state.rest is not None and state.rest.until == AT + 110
