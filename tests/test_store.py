"""The DynamoDB store on moto, with tables created from template.yaml."""

from __future__ import annotations

from dataclasses import replace

import pytest
from boto3.dynamodb.conditions import Key

from scaleahead.domain.decision import Action, Reason
from scaleahead.domain.reactive import FloorState
from scaleahead.domain.record import AlarmInputs, DecisionRecord, Source, TickInputs
from scaleahead.store import LEASE_SECONDS, TARGETS_PK, Intent, LeaseHeld, StoredForecast, keys
from scaleahead.store.records import record_from_dict, record_to_dict
from tests.conftest import NOW, Aws, make_target


def test_targets_round_trip_and_list(aws: Aws) -> None:
    store = aws.rt.store
    t = make_target()
    store.put_target(t, NOW)
    assert store.get_target("web") == t
    assert [x.id for x in store.list_targets()] == ["web"]
    store.delete_target("web")
    assert store.get_target("web") is None


def test_lease_excludes_a_second_owner_until_it_expires(aws: Aws) -> None:
    store = aws.rt.store
    store.acquire_lease("web", "a", NOW)
    with pytest.raises(LeaseHeld):
        store.acquire_lease("web", "b", NOW + 1)
    # the same owner may renew; another may take it once it has expired
    store.acquire_lease("web", "a", NOW + 2)
    state = store.acquire_lease("web", "b", NOW + 2 + LEASE_SECONDS + 1)
    assert state.target_id == "web"


def test_commit_bumps_the_version_and_only_the_holder_may_commit(aws: Aws) -> None:
    store = aws.rt.store
    state = store.acquire_lease("web", "a", NOW)
    state.floor = FloorState(7, "ALARM", NOW, None)
    state.plans = [(NOW, 5)]
    store.commit_state(state, "a")
    again = store.get_state("web")
    assert again.version == 1 and again.floor.floor == 7 and again.plans == [(NOW, 5)]
    with pytest.raises(LeaseHeld):
        store.commit_state(again, "a")  # released on commit: "a" no longer holds it
    s2 = store.acquire_lease("web", "b", NOW + 1)
    s2.floor = FloorState()
    store.commit_state(s2, "b")
    final = store.get_state("web")
    assert final.version == 2 and final.floor.floor is None


def test_the_state_keeps_its_intent_whole(aws: Aws) -> None:
    store = aws.rt.store
    sk = keys.new_decision_sk(NOW)
    intent = Intent(
        sk, "worker", "scale-out", 4, 8, 4, "forecast", "to 8", NOW, TickInputs(level=1.5, plan=8)
    )
    state = store.acquire_lease("web", "a", NOW)
    state.pending, state.last_tick = intent, 60
    store.commit_state(state, "a")
    again = store.get_state("web")
    assert again.pending == intent and again.last_tick == 60 and again.lease_until is None


def test_key_formats_are_the_ones_stored() -> None:
    """Items already in tables are found by these keys: a format change needs a migration."""
    assert keys.target_pk("web") == keys.forecast_pk("web") == "TARGET#web"
    assert keys.forecast_pk(make_target()) == "TARGET#web"
    sk = keys.new_decision_sk(NOW)
    assert sk.startswith("DECISION#01795781100.000#") and len(sk) == len("DECISION#") + 15 + 9
    assert keys.decisions_since(None) == "DECISION#" < keys.decisions_since(NOW) <= sk
    assert sk < keys.DECISIONS_END
    assert keys.new_rejected_sk(NOW).startswith("01795781100.000#")
    assert keys.event_sk("web", "sale") == "web#sale"


def _record(message: str, **kw: object) -> DecisionRecord:
    return DecisionRecord(Source.WORKER, Action.NONE, False, Reason.STABILISING, message, **kw)  # type: ignore[arg-type]


def test_decision_log_newest_first_with_ttl(aws: Aws) -> None:
    store = aws.rt.store
    for i in range(3):
        store.record_decision("web", NOW + i, _record(f"r{i}", before=4, after=4))
    rows = store.decisions("web")
    assert [r.message for r in rows] == ["r2", "r1", "r0"]
    assert rows[0].at == NOW + 2 and rows[0].target_id == "web" and rows[0].after == 4
    newest = store._table.query(
        KeyConditionExpression=Key("pk").eq(keys.target_pk("web"))
        & Key("sk").begins_with(keys.DECISION_PREFIX),
        ScanIndexForward=False,
    )["Items"]
    raw = newest[0]
    assert raw["expires_at"] == int(NOW + 2 + 30 * 86400)
    assert [r.message for r in store.decisions("web", since=NOW + 1)] == ["r2", "r1"]
    # the count sees the decisions only: not the target's state or forecast items
    store.put_forecast("web", StoredForecast("reactive-only", NOW, "only 3 h", None))
    assert store.decision_count("web") == 3 and store.decision_count("api") == 0


def test_a_decision_record_reads_back_as_written(aws: Aws) -> None:
    """Every field and both kinds of inputs survive the store; unset fields are not stored."""
    tick = _record(
        "plan 8",
        before=4,
        after=8,
        desired=8,
        ready=4,
        detail="",
        inputs=TickInputs(plan=8, level=1.25, events=["sale"]),
    )
    alarm = DecisionRecord(
        Source.ALARM,
        Action.SCALE_OUT,
        True,
        Reason.REACTIVE_FLOOR,
        "floor 6",
        kind="ecs",
        before=4,
        after=6,
        alarm_threshold=600.0,
        reconciled=True,
        inputs=AlarmInputs(alarm="a", alarm_state="ALARM", observed_load=520.0, floor=6),
    )
    aws.rt.store.record_decision("web", NOW, tick)
    aws.rt.store.record_decision("web", NOW + 1, alarm)
    back_alarm, back_tick = aws.rt.store.decisions("web")
    assert back_tick == replace(tick, target_id="web", at=NOW)
    assert back_alarm == replace(alarm, target_id="web", at=NOW + 1)
    assert "alarm_threshold" not in record_to_dict(tick) and "reconciled" not in record_to_dict(
        tick
    )


def test_a_record_from_an_older_version_still_reads() -> None:
    old = {
        "source": "worker",
        "action": "none",
        "executed": False,
        "reason": "plan",
        "message": "m",
        "gone_field": 1,
        "inputs": {"plan": 3, "retired": True},
    }
    rec = record_from_dict(old)
    assert rec.tick is not None and rec.tick.plan == 3 and rec.reason == "plan"


def test_forecast_and_rejections(aws: Aws) -> None:
    store = aws.rt.store
    store.put_forecast("web", StoredForecast("reactive-only", NOW, "only 3 h", None))
    got = store.get_forecast("web")
    assert got is not None and got.status == "reactive-only" and got.forecast is None
    store.record_rejected(NOW, "bad", {"x": 1})
    assert store.rejected()[0]["reason"] == "bad"


def test_shared_reads_answer_a_batch_from_two_batch_gets(aws: Aws) -> None:
    store = aws.rt.store
    web, api = make_target(), make_target(id="api", resource={"cluster": "prod", "service": "api"})
    for t in (web, api):
        store.put_target(t, NOW)
    store.put_forecast("web", StoredForecast("reactive-only", NOW, "old", None))
    store._table.put_item(Item={"pk": TARGETS_PK, "sk": "broken", "definition": "{not json"})
    calls: list[str] = []
    store._table.meta.client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name)
    )
    with store.shared_reads(["web", "api", "web", "gone", "broken"]):
        assert calls == ["BatchGetItem", "BatchGetItem"]  # definitions, then forecasts
        assert store.get_target("web") == web and store.get_target("gone") is None
        fc = store.get_forecast("web")
        assert fc is not None and fc.reason == "old"
        assert store.get_forecast("api") is None
        # a refit inside the batch is what the targets planned after it see
        store.put_forecast("web", StoredForecast("reactive-only", NOW + 60, "new", None))
        fc = store.get_forecast("web")
        assert fc is not None and fc.reason == "new"
        assert calls == ["BatchGetItem", "BatchGetItem", "PutItem"]
    # outside the block every read goes to the table again
    store.get_target("web")
    assert calls[-1] == "GetItem"
