"""The DynamoDB store on moto, with tables created from template.yaml."""

from __future__ import annotations

import pytest

from scaleahead.domain.reactive import FloorState
from scaleahead.store import LEASE_SECONDS, LeaseHeld, StoredForecast
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


def test_decision_log_newest_first_with_ttl(aws: Aws) -> None:
    store = aws.rt.store
    for i in range(3):
        store.record_decision("web", NOW + i, {"reason": f"r{i}", "value": 1.5})
    rows = store.decisions("web")
    assert [r["reason"] for r in rows] == ["r2", "r1", "r0"]
    assert rows[0]["value"] == 1.5
    assert rows[0]["expires_at"] == int(NOW + 2 + 30 * 86400)
    assert [r["reason"] for r in store.decisions("web", since=NOW + 1)] == ["r2", "r1"]
    # the count sees the decisions only: not the target's state or forecast items
    store.put_forecast("web", StoredForecast("reactive-only", NOW, "only 3 h", None))
    assert store.decision_count("web") == 3 and store.decision_count("api") == 0


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
    store._table.put_item(Item={"pk": "TARGET", "sk": "broken", "definition": "{not json"})
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
