"""One alarm episode acts at most once, however it is delivered, and only if it can be trusted.

Each test replays what was seen in the field (issue 12) through the real AlarmFunction handler
on moto: the same change through three channels stamped apart, retries after a partial
failure, stamps from the future, alarms from other accounts, forged datapoints, poison values.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scaleahead.domain.record import DecisionRecord
from scaleahead.handlers import common
from scaleahead.store import LEASE_SECONDS, LeaseHeld
from scaleahead_testkit.lambda_context import LocalContext
from tests.conftest import NOW, Aws, make_target
from tests.events_kit import CHANNELS, alarm_event
from tests.faults import Crash, Faults
from tests.test_handlers import resolve_handler

T0 = NOW - 110  # the ALARM change: 12:03:10, as in the sample events


@pytest.fixture
def web(aws: Aws) -> Aws:
    aws.apply(make_target(max_capacity=100))
    return aws


def restart(aws: Aws, faults: Faults) -> None:
    """A new execution environment after the old one died: no faults, a fresh runtime (a new
    lease owner), and time enough for the dead one's lease to expire."""
    faults.clear()
    common.reset()
    aws.clock.advance(LEASE_SECONDS + 1)


def alarm(event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = resolve_handler("AlarmFunction")(event, LocalContext())
    return out


def result(out: dict[str, Any]) -> dict[str, Any]:
    assert out["status"] == "ok", out
    [res] = out["results"]
    return res  # type: ignore[no-any-return]


def executed(aws: Aws) -> list[DecisionRecord]:
    return [d for d in aws.rt.store.decisions("web") if d.executed]


def test_one_change_through_three_channels_stamped_apart_acts_once(web: Aws) -> None:
    """Seen: the Lambda action's copy, stamped 0.35 s later, got its own idempotency key and
    raised 4 -> 6 -> 8."""
    assert result(alarm(alarm_event("eventbridge", at=T0)))["executed"] is True
    assert result(alarm(alarm_event("lambda", at=T0 + 0.35)))["status"] == "duplicate"
    assert result(alarm(alarm_event("sns", at=T0 + 0.12)))["status"] == "duplicate"
    assert web.desired() == 6 and len(executed(web)) == 1
    assert sum("a copy of the change" in r["reason"] for r in web.rt.store.rejected()) == 2


@pytest.mark.parametrize("later", [55 * 60, 30])
def test_a_copy_stays_a_copy_however_late_it_comes(web: Aws, later: int) -> None:
    """Seen: after the idempotency record's hour the same event acted again. The episode on
    record has no expiry; past the age bound the copy is refused as too old instead."""
    alarm(alarm_event("eventbridge", at=T0))
    web.clock.advance(later)
    assert result(alarm(alarm_event("eventbridge", at=T0)))["status"] == "duplicate"
    assert web.desired() == 6 and len(executed(web)) == 1


def test_an_alarm_older_than_the_age_bound_is_refused(web: Aws) -> None:
    web.clock.advance(3 * 3600)
    res = result(alarm(alarm_event("eventbridge", at=T0)))
    assert res["status"] == "rejected" and "min old" in res["reason"]
    assert web.desired() == 4 and executed(web) == []


@pytest.mark.parametrize("channel", CHANNELS)
def test_an_alarm_without_a_timestamp_is_refused_with_a_reason(web: Aws, channel: str) -> None:
    """Seen: without a timestamp each delivery was a new change (4 -> 9 -> 11)."""
    for _ in range(2):
        res = result(alarm(alarm_event(channel, at=None)))
        assert res["status"] == "rejected" and "no usable timestamp" in res["reason"]
    assert web.desired() == 4 and executed(web) == []
    assert "no usable timestamp" in web.rt.store.rejected()[0]["reason"]


def test_changes_stamped_in_the_future_are_refused_and_do_not_block_real_ones(web: Aws) -> None:
    """Seen: an ALARM stamped 2099 pinned the floor and the genuine OK was ignored; an OK
    stamped 2099 made every genuine ALARM look older."""
    y2099 = 4070908800.0
    for state in ("ALARM", "OK"):
        res = result(alarm(alarm_event("eventbridge", state, at=y2099)))
        assert res["status"] == "rejected" and "in the future" in res["reason"]
    res = result(alarm(alarm_event("eventbridge", "ALARM", at=NOW + 300)))
    assert res["status"] == "rejected"  # beyond the 2 min skew
    assert web.desired() == 4
    assert result(alarm(alarm_event("eventbridge", "ALARM", at=NOW + 60)))["executed"] is True
    web.clock.advance(600)
    assert result(alarm(alarm_event("sns", "OK", at=NOW + 500)))["status"] == "handled"
    after = web.rt.store.get_state("web")
    assert after.floor.alarm_state == "OK" and after.floor.changed_at == NOW + 500


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    ("account", "region", "needle"),
    [("999999999999", "us-east-1", "account"), ("123456789012", "eu-west-1", "region")],
)
def test_an_alarm_from_another_account_or_region_never_acts(
    web: Aws, channel: str, account: str, region: str, needle: str
) -> None:
    """Seen: an alarm event of another account acted (4 -> 6)."""
    res = result(alarm(alarm_event(channel, at=T0, account=account, region=region)))
    assert res["status"] == "rejected" and f"comes from {needle}" in res["reason"]
    assert web.desired() == 4 and executed(web) == []


@pytest.mark.parametrize(
    ("observed", "threshold"),
    [(1_000_000.0, 400.0), (1e300, 1e-300), (1e308, 1e-308)],
)
def test_a_forged_or_absurd_datapoint_raises_one_episode_by_the_cap_at_most(
    web: Aws, observed: float, threshold: float
) -> None:
    """Seen: a forged datapoint scaled the target to its maximum; 1e300 over 1e-300 raised
    OverflowError. One episode now raises at most 3x its start (alarm.max_step_ratio)."""
    res = result(alarm(alarm_event("eventbridge", at=T0, observed=observed, threshold=threshold)))
    assert res["executed"] is True and res["after"] == 12
    assert web.desired() == 12


@pytest.mark.parametrize("stored", [None, 400.0])
@pytest.mark.parametrize("claimed", [1.0, 1e6, 1e300])
def test_the_threshold_is_the_one_this_stack_set_not_the_payloads(
    web: Aws, stored: float | None, claimed: float
) -> None:
    """A payload's threshold is not trusted: a low one would inflate the overshoot, a high one
    (seen: 1e300) would make a real alarm look answered. The stack's own is used: the one on
    record, else the one it sets for the capacity there (4 tasks x 100 = 400)."""
    with web.rt.store.lease("web", "test", NOW) as lease:
        lease.state.alarm_threshold = stored
        lease.commit(lease.state)
    res = result(alarm(alarm_event("eventbridge", at=T0, observed=520.0, threshold=claimed)))
    assert res["after"] == 6 and res["inputs"]["alarm_threshold_used"] == 400.0


def test_a_new_episode_after_ok_raises_again_from_its_own_start(web: Aws) -> None:
    alarm(alarm_event("eventbridge", at=T0))
    web.clock.advance(1200)
    alarm(alarm_event("eventbridge", "OK", at=T0 + 600))
    res = result(alarm(alarm_event("eventbridge", at=T0 + 1200, observed=800.0)))
    # the second episode starts from 6, against the threshold set for 6 tasks (600):
    # ceil(6 x 800 / 600) = 8
    assert res["executed"] is True and res["before"] == 6 and res["after"] == 8
    assert web.rt.store.get_state("web").floor.start == 6


@pytest.mark.parametrize(
    "fault",
    [
        ("ecs", "UpdateService", "crash_after"),  # acted, then the process died
        ("dynamodb", "PutItem", "5xx"),  # acted, then the decision record could not be written
        ("cloudwatch", "PutMetricAlarm", "crash"),  # acted, died moving the alarm
    ],
    ids=["died-after-update", "record-write-failed", "died-moving-alarm"],
)
def test_a_retry_after_acting_completes_the_record_and_does_not_act_again(
    web: Aws, faults: Faults, fault: tuple[str, str, str]
) -> None:
    """Seen: a retry after UpdateService succeeded but a write failed went 6 -> 8, and the
    first change had no record at all."""
    service, operation, kind = fault
    # the decision record is the second PutItem (after the intent): fail from there on
    nth = 2 if operation == "PutItem" else 1
    faults.add(service, operation, kind, nth=nth, times=0)
    with pytest.raises((Crash, ClientError)):
        alarm(alarm_event("eventbridge", at=T0))
    assert web.desired() == 6
    restart(web, faults)
    res = result(alarm(alarm_event("eventbridge", at=T0)))  # Lambda's retry
    assert res["status"] == "duplicate"
    assert web.desired() == 6 and faults.count("ecs", "UpdateService") == 1
    [done] = executed(web)
    assert done.reconciled is True and done.after == 6 and done.source == "alarm"
    assert web.rt.store.get_state("web").pending is None


def test_a_retry_after_dying_before_the_update_makes_it_once(web: Aws, faults: Faults) -> None:
    faults.add("ecs", "UpdateService", "crash")
    with pytest.raises(Crash):
        alarm(alarm_event("eventbridge", at=T0))
    restart(web, faults)
    assert web.desired() == 4 and web.rt.store.get_state("web").pending is not None
    res = result(alarm(alarm_event("sns", at=T0)))  # another channel's copy comes first
    assert res["executed"] is True and res["after"] == 6
    assert result(alarm(alarm_event("eventbridge", at=T0)))["status"] == "duplicate"
    assert web.desired() == 6
    outcomes = sorted((d.executed, d.reconciled) for d in web.rt.store.decisions("web"))
    assert outcomes == [(False, True), (True, False)]  # the interrupted try, recorded as not done


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("state", "A" * 500_000),
        ("name", "scaleahead-" + "w" * 500_000 + "-high-load"),
        ("source", "x" * 500_000),
    ],
)
def test_poison_values_are_refused_and_the_record_fits_dynamodb(
    web: Aws, path: str, value: str
) -> None:
    """Seen: a 500 KB state value, source or alarm name made the REJECTED row exceed DynamoDB's
    400 KB item limit, and the handler raised."""
    event = alarm_event("eventbridge", at=T0)
    if path == "state":
        event["detail"]["state"]["value"] = value
    elif path == "name":
        event["detail"]["alarmName"] = value
    else:
        event["source"] = value
    out = alarm(event)
    assert out["status"] == "rejected"
    [row] = web.rt.store.rejected()
    assert len(row["reason"]) <= 1000 and len(row["payload"]) <= 4000
    assert web.desired() == 4


def test_a_deleted_cluster_is_recorded_not_raised(web: Aws) -> None:
    """Seen: ClusterNotFoundException raised into EventDLQ from the alarm path."""
    web.rt.store.put_target(make_target(resource={"cluster": "gone", "service": "web"}), NOW)
    res = result(alarm(alarm_event("eventbridge", at=T0)))
    assert res["status"] == "failed" and "ClusterNotFoundException" in res["reason"]
    web.rt.store.acquire_lease("web", "someone-else", NOW)  # released


def test_a_copy_waiting_on_the_lease_returns_quietly_a_new_change_raises(
    web: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen: concurrent duplicates raised IdempotencyAlreadyInProgressError (Lambda errors,
    retries). A copy of a change the lease holder has applied now answers "duplicate"."""
    monkeypatch.setattr(time, "sleep", lambda s: None)
    alarm(alarm_event("eventbridge", at=T0))
    web.rt.store.acquire_lease("web", "the-worker", NOW)
    assert result(alarm(alarm_event("lambda", at=T0 + 0.3)))["status"] == "duplicate"
    assert web.desired() == 6 and len(executed(web)) == 1


def test_a_new_change_waiting_on_the_lease_raises_for_a_retry(
    web: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "sleep", lambda s: None)
    web.rt.store.acquire_lease("web", "the-worker", NOW)
    with pytest.raises(LeaseHeld):
        alarm(alarm_event("eventbridge", at=T0))
    assert web.desired() == 4
