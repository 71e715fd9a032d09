"""Every AWS call the functions make, failed at botocore's HTTP layer (tests/faults.py).

For each call of an alarm invocation and of a work item (in the order a clean run makes them;
``test_the_lists_are_every_call_a_clean_run_makes`` keeps the lists honest):

- **absorbed**: throttling, a 503 or a timeout on two attempts; botocore's retries absorb it
  and the outcome is the clean run's;
- **exhausted**: the same fault on every attempt from that call on; the invocation fails the
  way Lambda or SQS retries (the alarm handler raises, the work item is reported failed), or,
  for the alarm move and the batch's read-ahead, carries on (``TOLERATED``); no
  change is ever left unrecorded (a decision record or an intent on record), and the retry,
  with AWS back, completes it;
- **lost reply**: a write reaches AWS and its reply is lost, so botocore sends it again.

Whatever the fault: capacity ends where the clean run puts it, exactly one executed decision
is on record, no intent is left pending and the lease is free.
"""

from __future__ import annotations

from typing import Any

import pytest

from scaleahead.domain.record import DecisionRecord
from scaleahead_testkit.lambda_context import LocalContext
from tests.conftest import NOW, Aws, make_target
from tests.events_kit import alarm_event, work, work_batch
from tests.faults import KINDS, Faults
from tests.test_handlers import resolve_handler

TICK = int(NOW // 60 * 60)
T0 = NOW - 110

Call = tuple[str, str]
ALARM_CALLS: list[Call] = [
    ("dynamodb", "GetItem"),  # the target's definition
    ("dynamodb", "UpdateItem"),  # the lease
    ("ecs", "DescribeServices"),
    ("dynamodb", "Query"),  # the pauses
    ("dynamodb", "PutItem"),  # the intent
    ("ecs", "UpdateService"),
    ("cloudwatch", "PutMetricAlarm"),
    ("dynamodb", "PutItem"),  # the decision record
    ("dynamodb", "PutItem"),  # the commit
]
WORKER_CALLS: list[Call] = [
    ("dynamodb", "BatchGetItem"),  # the batch's definitions
    ("dynamodb", "BatchGetItem"),  # their forecasts
    ("dynamodb", "Query"),  # planned events
    ("cloudwatch", "GetMetricData"),  # the load
    ("dynamodb", "PutItem"),  # the forecast (reactive-only: 20 minutes of history)
    ("dynamodb", "UpdateItem"),  # the lease
    ("dynamodb", "Query"),  # the pauses
    ("ecs", "DescribeServices"),
    ("dynamodb", "PutItem"),  # the intent
    ("ecs", "UpdateService"),
    ("cloudwatch", "PutMetricAlarm"),
    ("dynamodb", "PutItem"),  # the decision record
    ("dynamodb", "PutItem"),  # the commit
]
WRITES = {"PutItem", "UpdateItem", "UpdateService", "PutMetricAlarm"}
# Calls whose failure the invocation survives: the alarm move (logged; the next decision moves
# it) and the batch's read-ahead (each target then reads its own items).
TOLERATED = {("cloudwatch", "PutMetricAlarm"), ("dynamodb", "BatchGetItem")}
# Where each path leaves capacity (4 tasks; the alarm's 520 over 400: 6; the worker's load of
# 750 at 100 per task: 8).
GOAL = {"alarm": 6, "worker": 8}


def _points(calls: list[Call]) -> list[tuple[int, Call, int]]:
    """(index, call, n-th call of that operation) for each call."""
    seen: dict[Call, int] = {}
    out = []
    for i, call in enumerate(calls):
        seen[call] = seen.get(call, 0) + 1
        out.append((i, call, seen[call]))
    return out


def _cases() -> list[Any]:
    cases = []
    for path, calls in (("alarm", ALARM_CALLS), ("worker", WORKER_CALLS)):
        for i, call, nth in _points(calls):
            name = f"{path}-{i}-{call[0]}.{call[1]}"
            # each kind on every call across the two modes, rotating
            absorbed, exhausted = KINDS[i % 3], KINDS[(i + 1) % 3]
            cases.append(pytest.param(path, call, nth, absorbed, 2, id=f"{name}-{absorbed}-x2"))
            cases.append(pytest.param(path, call, nth, exhausted, 0, id=f"{name}-{exhausted}-all"))
            if call[1] in WRITES:
                cases.append(pytest.param(path, call, nth, "lost_reply", 1, id=f"{name}-lost"))
    return cases


@pytest.fixture
def web(aws: Aws) -> Aws:
    aws.apply(make_target())
    aws.put_load([(NOW - 60 * i, 750.0) for i in range(1, 20)])
    return aws


def _deliver(path: str) -> tuple[bool, Any]:
    """One delivery through the real handler: (failed the Lambda way, the answer)."""
    if path == "alarm":
        try:
            out = resolve_handler("AlarmFunction")(
                alarm_event("eventbridge", at=T0), LocalContext()
            )
        except Exception as err:  # Lambda retries an asynchronous invocation that raised
            return True, err
        return False, out
    out = resolve_handler("WorkerFunction")(work_batch(work("web", TICK)), LocalContext())
    return bool(out["batchItemFailures"]), out


def _executed(aws: Aws) -> list[DecisionRecord]:
    return [d for d in aws.rt.store.decisions("web") if d.executed]


@pytest.mark.parametrize(("path", "call", "nth", "kind", "times"), _cases())
def test_a_fault_on_any_call_never_acts_twice_nor_unrecorded(
    web: Aws, faults: Faults, path: str, call: Call, nth: int, kind: str, times: int
) -> None:
    faults.add(*call, kind, nth=nth, times=times)
    failed, answer = _deliver(path)
    changed = web.desired() != 4
    if changed:  # on record: the decision, or the intent the retry will complete
        assert _executed(web) or web.rt.store.get_state("web").pending is not None
    if times == 0 and call not in TOLERATED:
        assert failed, answer  # retried by Lambda (alarm) or by SQS (work item)
    else:
        assert not failed, answer
    faults.clear()
    if failed:
        again, answer = _deliver(path)  # the retry, AWS back to normal
        assert not again, answer
    assert web.desired() == GOAL[path]
    assert len(_executed(web)) == 1
    # a lost reply of UpdateService is sent twice (it sets the same count: no second change)
    lost_update = kind == "lost_reply" and call == ("ecs", "UpdateService")
    assert faults.count("ecs", "UpdateService") == 1 + lost_update
    assert web.rt.store.get_state("web").pending is None
    web.rt.store.acquire_lease("web", "someone-else", web.clock.t)  # free


@pytest.mark.parametrize("path", ["alarm", "worker"])
def test_the_lists_are_every_call_a_clean_run_makes(web: Aws, faults: Faults, path: str) -> None:
    assert not _deliver(path)[0]
    assert faults.calls == (ALARM_CALLS if path == "alarm" else WORKER_CALLS)
    assert web.desired() == GOAL[path]
