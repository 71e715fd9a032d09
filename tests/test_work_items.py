"""Work items: each judged on its own, nothing from the future trusted, every action recorded.

Replays what was seen (issue 12) through the real WorkerFunction handler on moto: poison
messages beside good ones, ticks stamped far ahead, a decision log that cannot be written after
acting, and the process dying at each step between the intent and the record.
"""

from __future__ import annotations

from typing import Any

import pytest

from scaleahead.domain.record import DecisionRecord
from scaleahead.handlers import common
from scaleahead.store import LEASE_SECONDS
from scaleahead.store.keys import STATE_SK
from scaleahead_testkit.lambda_context import LocalContext
from tests.conftest import NOW, Aws, make_target
from tests.events_kit import work, work_batch
from tests.faults import Crash, Faults, body_has
from tests.records import tick_inputs
from tests.test_handlers import resolve_handler

TICK = int(NOW // 60 * 60)


@pytest.fixture
def web(aws: Aws) -> Aws:
    """Target web at 4 tasks, with a recent load of 750 (8 tasks at 100 each)."""
    aws.apply(make_target())
    aws.put_load([(NOW - 60 * i, 750.0) for i in range(1, 20)])
    return aws


def worker(event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = resolve_handler("WorkerFunction")(event, LocalContext())
    return out


def executed(aws: Aws) -> list[DecisionRecord]:
    return [d for d in aws.rt.store.decisions("web") if d.executed]


def restart(aws: Aws, faults: Faults) -> None:
    """A new execution environment after the old one died (see test_alarm_episodes)."""
    faults.clear()
    common.reset()
    aws.clock.advance(LEASE_SECONDS + 1)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("[" * 100_000 + "]" * 100_000, "a work item is under"),  # 200 KB of nesting
        (work("w" * 2000, TICK), "a work item is under"),  # over DynamoDB's 1,024-byte key
        (work("w" * 200, TICK), "no valid target id"),
        (work("Web#1", TICK), "no valid target id"),
        ("x" * 300_000, "a work item is under"),
        ('{"target_id": "web", "tick": "1795781100"}', "integer tick"),
        ('{"target_id": "web", "tick": true}', "integer tick"),
        ("[" * 400 + "]" * 400, "must be a JSON object"),
    ],
)
def test_a_poison_item_fails_alone_and_is_recorded(web: Aws, body: str, needle: str) -> None:
    """Seen: a 200 KB nested body (RecursionError) or a 2,000-byte target id broke the batch's
    shared read, and the good item went to the dead-letter queue with it."""
    out = worker(work_batch(body, work("web", TICK)))
    assert out == {"batchItemFailures": []}  # the poison is recorded and dropped, not retried
    assert web.desired() == 8  # the good item beside it was processed
    [row] = web.rt.store.rejected()
    assert needle in row["reason"] and len(row["payload"]) <= 4000


@pytest.mark.parametrize(
    ("tick", "needle"),
    [
        (4070908800, "in the future"),  # 2099
        (10**40, "in the future"),
        (-(10**40), "min old"),
        (10**400, "in the future"),  # past a float: once an OverflowError that failed the batch
        (TICK + 300, "in the future"),
        (TICK - 2 * 3600, "min old"),
    ],
)
def test_ticks_from_the_future_or_too_old_are_refused_and_leave_no_trace(
    web: Aws, tick: int, needle: str
) -> None:
    """Seen: a tick stamped 2099 (or 1e40) set last_tick, after which every genuine tick of the
    target was dropped as a duplicate; 1e40 also broke the Decimal write, after acting."""
    out = worker(work_batch(work("web", tick)))
    assert out == {"batchItemFailures": []}
    assert needle in web.rt.store.rejected()[0]["reason"]
    assert web.desired() == 4 and web.rt.store.get_state("web").last_tick is None
    worker(work_batch(work("web", TICK)))  # the genuine tick is not a "duplicate"
    assert web.desired() == 8


def test_a_future_last_tick_already_stored_is_distrusted(web: Aws) -> None:
    """State written before this release (or by a fault) cannot block genuine ticks for ever."""
    with web.rt.store.lease("web", "old-version", NOW) as lease:
        lease.state.last_tick = 4070908800
        lease.commit(lease.state)
    worker(work_batch(work("web", TICK)))
    assert web.desired() == 8
    [d] = web.rt.store.decisions("web")
    assert "lies in the future" in (tick_inputs(d).distrusted or [""])[0]
    assert web.rt.store.get_state("web").last_tick == TICK


def test_the_decision_log_failing_after_acting_leaves_a_record_all_the_same(
    web: Aws, faults: Faults
) -> None:
    """Seen: when the decision-log write failed after acting, the redelivered item was dropped
    as a duplicate: capacity changed, zero records."""
    # the decision record, not the intent (which names its key, DECISION#..., too)
    faults.add("dynamodb", "PutItem", "5xx", times=0, when=body_has(RECORD))
    out = worker(work_batch(work("web", TICK)))
    assert [f["itemIdentifier"] for f in out["batchItemFailures"]] == ["m0"]  # SQS retries it
    assert web.desired() == 8 and web.rt.store.decisions("web") == []
    faults.clear()
    web.clock.advance(60)
    assert worker(work_batch(work("web", TICK))) == {"batchItemFailures": []}  # redelivered
    [d] = web.rt.store.decisions("web")
    assert d.executed is True and d.reconciled is True and d.after == 8
    assert web.desired() == 8 and faults.count("ecs", "UpdateService") == 1
    assert web.rt.store.get_state("web").pending is None


# Which PutItem is which, by its request body: the intent is the state item carrying "pending"
# (the warm-up log's own "pending" is escaped inside a string), the record carries "executed",
# the commit is the state item without an intent.
INTENT = '"pending": {"S"'
RECORD = '"executed"'
COMMIT = "commit"


def _commit(request: Any) -> bool:
    body = bytes(request.body or b"")
    return f'"sk": {{"S": "{STATE_SK}"}}'.encode() in body and INTENT.encode() not in body


# The steps of an action, each with the call where the process dies (before it reaches AWS, or
# after, its reply lost); ``acted`` is whether capacity has changed when it dies.
CRASH_POINTS = [
    ("intent", ("dynamodb", "PutItem", "crash", INTENT), False),
    ("intent-written", ("dynamodb", "PutItem", "crash_after", INTENT), False),
    ("update", ("ecs", "UpdateService", "crash", None), False),
    ("update-made", ("ecs", "UpdateService", "crash_after", None), True),
    ("alarm-move", ("cloudwatch", "PutMetricAlarm", "crash", None), True),
    ("record", ("dynamodb", "PutItem", "crash", RECORD), True),
    ("record-written", ("dynamodb", "PutItem", "crash_after", RECORD), True),
    ("commit", ("dynamodb", "PutItem", "crash", COMMIT), True),
    ("commit-written", ("dynamodb", "PutItem", "crash_after", COMMIT), True),
]


@pytest.mark.parametrize(
    ("point", "acted"), [(c[1], c[2]) for c in CRASH_POINTS], ids=[c[0] for c in CRASH_POINTS]
)
def test_dying_at_any_step_acts_once_and_records_once(
    web: Aws, faults: Faults, point: tuple[str, str, str, str | None], acted: bool
) -> None:
    service, operation, kind, mark = point
    when = _commit if mark == COMMIT else body_has(mark) if mark else None
    faults.add(service, operation, kind, when=when)
    with pytest.raises(Crash):
        worker(work_batch(work("web", TICK)))
    assert web.desired() == (8 if acted else 4)
    restart(web, faults)
    assert worker(work_batch(work("web", TICK))) == {"batchItemFailures": []}  # redelivered
    worker(work_batch(work("web", TICK + 60)))  # and the next tick changes nothing more
    assert web.desired() == 8
    assert len(executed(web)) == 1
    assert faults.count("ecs", "UpdateService") == 1
    state = web.rt.store.get_state("web")
    assert state.pending is None and state.last_action == "scale_out"
    web.rt.store.acquire_lease("web", "someone-else", web.clock.t)  # the lease is free


def test_a_redelivered_item_whose_first_try_did_not_act_plans_again(
    web: Aws, faults: Faults
) -> None:
    """The first try recorded its intent and the tick, then died before UpdateService: the
    redelivery finds the intent not done and plans again rather than drop a "duplicate"."""
    faults.add("ecs", "UpdateService", "crash")
    with pytest.raises(Crash):
        worker(work_batch(work("web", TICK)))
    restart(web, faults)
    worker(work_batch(work("web", TICK)))
    assert web.desired() == 8
    kinds = sorted((d.executed, d.reconciled) for d in web.rt.store.decisions("web"))
    assert kinds == [(False, True), (True, False)]


def test_a_transient_failure_reading_capacity_fails_the_item_for_a_retry(
    web: Aws, faults: Faults
) -> None:
    faults.add("ecs", "DescribeServices", "timeout", times=0)
    out = worker(work_batch(work("web", TICK)))
    assert [f["itemIdentifier"] for f in out["batchItemFailures"]] == ["m0"]
    assert web.rt.store.decisions("web") == [] and web.rt.store.get_state("web").last_tick is None
    faults.clear()
    assert worker(work_batch(work("web", TICK))) == {"batchItemFailures": []}
    assert web.desired() == 8


def test_an_access_denied_update_is_recorded_as_failed_not_retried(
    web: Aws, faults: Faults
) -> None:
    """A permanent refusal (here: the service lost its scaleahead:managed tag) is recorded."""
    faults.add("ecs", "UpdateService", "denied", times=0)
    assert worker(work_batch(work("web", TICK))) == {"batchItemFailures": []}
    [d] = web.rt.store.decisions("web")
    assert d.reason == "failed" and "AccessDenied" in d.message
    assert web.desired() == 4 and web.rt.store.get_state("web").pending is None


def test_an_item_body_that_is_not_text_is_refused(web: Aws) -> None:
    event = work_batch(work("web", TICK))
    event["Records"].insert(0, {**event["Records"][0], "messageId": "odd", "body": None})
    out = worker(event)
    assert out == {"batchItemFailures": []}
    assert "no text body" in web.rt.store.rejected()[0]["reason"]
    assert web.desired() == 8
