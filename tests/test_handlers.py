"""Every function's handler, resolved from template.yaml, with every one of its sample events.

Each event is checked for its result and for its effect on moto: the ALARM event raises the
service's desired count, the OK event starts the floor's expiry, the tick enqueues the target,
the worker batch scales to the observed load, and the malformed item is recorded, not retried.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from scaleahead.domain.target import parse_target
from scaleahead_testkit.lambda_context import LocalContext
from scaleahead_testkit.local_aws import load_template
from tests.conftest import NOW, Aws, make_target, target_dict
from tests.faults import Faults, body_has

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
FUNCTION_OF_PREFIX = {"alarm": "AlarmFunction", "tick": "TickFunction", "worker": "WorkerFunction"}


def resolve_handler(function: str) -> Any:
    """Import the handler exactly as Lambda would: CodeUri + Handler from the template."""
    props = load_template()["Resources"][function]["Properties"]
    module_name, attr = props["Handler"].rsplit(".", 1)
    path = ROOT / props["CodeUri"] / f"{module_name.replace('.', '/')}.py"
    spec = importlib.util.spec_from_file_location(f"lambda_{function}_{module_name}", path)
    assert spec is not None and spec.loader is not None, path
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, attr)


def invoke(function: str, event_file: str) -> Any:
    event = json.loads((EVENTS / event_file).read_text())
    return resolve_handler(function)(event, LocalContext())


def test_every_event_file_belongs_to_a_function() -> None:
    files = sorted(p.name for p in EVENTS.glob("*.json"))
    assert files, "no sample events"
    for f in files:
        assert f.split("-")[0] in FUNCTION_OF_PREFIX, f"{f}: name it after its function"
    template = load_template()["Resources"]
    for fn in FUNCTION_OF_PREFIX.values():
        assert template[fn]["Type"] == "AWS::Serverless::Function"


def alarm_everywhere(target_id: str) -> None:
    """One ALARM state change of ``target_id``'s managed alarm delivered as AWS may deliver it:
    twice by EventBridge (at least once), by SNS and by the Lambda alarm action."""
    handler = resolve_handler("AlarmFunction")
    for name in (
        "alarm-eventbridge-alarm.json",
        "alarm-eventbridge-alarm.json",
        "alarm-sns.json",
        "alarm-lambda-action.json",
    ):
        text = (EVENTS / name).read_text()
        ours = text.replace("scaleahead-web-high-load", f"scaleahead-{target_id}-high-load")
        handler(json.loads(ours), LocalContext())


@pytest.fixture
def web(aws: Aws) -> Aws:
    aws.apply(make_target())
    return aws


@pytest.mark.parametrize(
    "event_file", ["alarm-eventbridge-alarm.json", "alarm-lambda-action.json", "alarm-sns.json"]
)
def test_alarm_to_alarm_scales_out_at_once(web: Aws, event_file: str) -> None:
    assert web.desired() == 4
    out = invoke("AlarmFunction", event_file)
    assert out["status"] == "ok", out
    [res] = out["results"]
    # floor = max(4 + 1, ceil(4 x 520 / 400)) = 6 (400: the threshold of 4 tasks x 100)
    assert res["reason"] == "reactive_floor" and res["executed"] is True
    assert web.desired() == 6
    state = web.rt.store.get_state("web")
    assert state.floor.floor == 6 and state.floor.alarm_state == "ALARM"
    # the alarm now watches the new capacity: 6 tasks x 100
    alarm = web.cloudwatch.describe_alarms(AlarmNames=["scaleahead-web-high-load"])
    assert alarm["MetricAlarms"][0]["Threshold"] == 600.0
    log = web.rt.store.decisions("web")
    assert log[0].source == "alarm" and log[0].after == 6


def test_alarm_ok_starts_the_floor_expiry_without_acting(web: Aws) -> None:
    invoke("AlarmFunction", "alarm-eventbridge-alarm.json")
    web.clock.advance(1000)  # the OK file's change is at 12:20:10; now is 12:21:40
    out = invoke("AlarmFunction", "alarm-eventbridge-ok.json")
    assert out["status"] == "ok" and out["results"][0]["executed"] is False
    assert web.desired() == 6
    state = web.rt.store.get_state("web")
    # the expiry starts when CloudWatch changed the state (the event's time), not on delivery
    assert state.floor.alarm_state == "OK" and state.floor.ok_at == 1795782010.0


def _event(name: str, state: str, at: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    event["detail"]["state"]["value"] = state
    event["detail"]["state"]["timestamp"] = at
    return event


def test_a_late_older_alarm_does_not_undo_a_newer_ok(web: Aws) -> None:
    handler = resolve_handler("AlarmFunction")
    web.clock.advance(1000)
    handler(
        _event("alarm-eventbridge-alarm.json", "ALARM", "2026-11-27T12:03:10.000+0000"),
        LocalContext(),
    )
    handler(
        _event("alarm-eventbridge-ok.json", "OK", "2026-11-27T12:20:10.000+0000"), LocalContext()
    )
    # a retried delivery of an ALARM from before the OK arrives last
    out = handler(
        _event("alarm-eventbridge-alarm.json", "ALARM", "2026-11-27T12:10:00.000+0000"),
        LocalContext(),
    )
    assert out["results"][0]["status"] == "ignored"
    state = web.rt.store.get_state("web")
    assert state.floor.alarm_state == "OK" and web.desired() == 6
    assert "older" in web.rt.store.rejected()[0]["reason"]


def test_insufficient_data_starts_the_floor_expiry_too(web: Aws) -> None:
    handler = resolve_handler("AlarmFunction")
    web.clock.advance(1500)
    handler(
        _event("alarm-eventbridge-alarm.json", "ALARM", "2026-11-27T12:03:10.000+0000"),
        LocalContext(),
    )
    handler(
        _event("alarm-eventbridge-ok.json", "INSUFFICIENT_DATA", "2026-11-27T12:30:00.000+0000"),
        LocalContext(),
    )
    state = web.rt.store.get_state("web")
    assert state.floor.alarm_state == "INSUFFICIENT_DATA"
    assert state.floor.ok_at == 1795782600.0


def test_alarm_for_a_disabled_target_does_nothing(aws: Aws) -> None:
    aws.apply(make_target(enabled=False))
    out = invoke("AlarmFunction", "alarm-eventbridge-alarm.json")
    assert out["results"][0]["status"] == "ignored" and aws.desired() == 4


def test_duplicate_delivery_acts_once(web: Aws) -> None:
    # SQS-like redelivery, and the same state change arriving through all three paths
    invoke("AlarmFunction", "alarm-eventbridge-alarm.json")
    invoke("AlarmFunction", "alarm-eventbridge-alarm.json")
    invoke("AlarmFunction", "alarm-sns.json")
    invoke("AlarmFunction", "alarm-lambda-action.json")
    assert web.desired() == 6
    assert len(web.rt.store.decisions("web")) == 1


def test_alarm_for_unknown_target_is_refused_and_recorded(aws: Aws) -> None:
    out = invoke("AlarmFunction", "alarm-eventbridge-alarm.json")
    assert out["status"] == "ok" and out["results"][0]["status"] == "rejected"
    assert "not defined" in aws.rt.store.rejected()[0]["reason"]
    assert aws.desired() == 4


def test_malformed_alarm_payload_is_refused_and_recorded(aws: Aws) -> None:
    out = resolve_handler("AlarmFunction")({"not": "an alarm"}, LocalContext())
    assert out["status"] == "rejected" and "not an alarm event" in out["reason"]
    assert aws.rt.store.rejected()[0]["reason"].startswith("alarm function:")


def test_tick_enqueues_each_due_target(web: Aws) -> None:
    web.add_service("api", 2)
    web.apply(make_target(id="api", resource={"cluster": "prod", "service": "api"}))
    web.apply(make_target(id="off", enabled=False))
    out = invoke("TickFunction", "tick-schedule.json")
    assert out["status"] == "ok" and sorted(out["enqueued"]) == ["api", "web"]
    assert out["disabled"] == ["off"]
    msgs = web.sqs.receive_message(QueueUrl=web.queue_url, MaxNumberOfMessages=10)["Messages"]
    bodies = sorted(json.loads(m["Body"])["target_id"] for m in msgs)
    assert bodies == ["api", "web"]
    assert all(json.loads(m["Body"])["tick"] == int(NOW) for m in msgs)


def test_tick_refuses_other_events(aws: Aws) -> None:
    out = resolve_handler("TickFunction")({"detail-type": "Nope"}, LocalContext())
    assert out["status"] == "rejected"


def _recent_load(aws: Aws, value: float) -> None:
    aws.put_load([(NOW - 60 * i, value) for i in range(1, 20)])


def test_worker_batch_plans_and_scales(web: Aws) -> None:
    _recent_load(web, 750.0)
    out = invoke("WorkerFunction", "worker-sqs-batch.json")
    assert out == {"batchItemFailures": []}
    # less than 24 h of history: reactive-only, tracking 750 / 100 -> 8 tasks
    assert web.desired() == 8
    [d] = web.rt.store.decisions("web")
    assert d.executed is True and "reactive-only" in d.message
    fc = web.rt.store.get_forecast("web")
    assert fc is not None and fc.status == "reactive-only" and "24 h" in fc.reason


def test_worker_batch_scales_the_data_tiers(aws: Aws, mc: Any, asg: Any) -> None:
    from scaleahead_testkit import moto_memcached
    from scaleahead_tools.demo.sam_local import (
        DATA_TIER_UNIT,
        create_data_tiers,
        data_tier_targets,
    )

    create_data_tiers(mc, boto3.client("ec2"), asg)
    for d in data_tier_targets(target_dict()):
        aws.apply(parse_target(d))
    _recent_load(aws, 4 * DATA_TIER_UNIT)
    out = invoke("WorkerFunction", "worker-sqs-batch-data-tiers.json")
    assert out == {"batchItemFailures": []}
    # reactive-only (no day of history): four units for 6,000 a minute, in one change each
    assert moto_memcached.pending_node_count("page-cache") == 4
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web-hosts"])
    assert group["AutoScalingGroups"][0]["DesiredCapacity"] == 4
    assert [d.after for d in aws.rt.store.decisions("page-cache")] == [4]


def test_worker_drops_malformed_items_and_processes_the_rest(web: Aws) -> None:
    _recent_load(web, 750.0)
    out = invoke("WorkerFunction", "worker-sqs-malformed.json")
    assert out == {"batchItemFailures": []}
    assert web.desired() == 8
    assert "worker: work message is not JSON" in web.rt.store.rejected()[0]["reason"]


def test_worker_records_a_missing_service_without_retrying(web: Aws) -> None:
    _recent_load(web, 750.0)
    web.ecs.delete_service(cluster="prod", service="web", force=True)
    out = invoke("WorkerFunction", "worker-sqs-batch.json")
    assert out == {"batchItemFailures": []}
    [d] = web.rt.store.decisions("web")
    assert d.reason == "failed" and "web" in d.message
    # the lease was released: the next attempt is not blocked
    web.rt.store.acquire_lease("web", "someone-else", NOW)


def batch_with_a_failing_item(aws: Aws, faults: Faults) -> dict[str, Any]:
    """The sample batch plus an item (messageId "bad-one") for a target "lost" whose ECS API
    keeps answering 503 (botocore's retries exhausted): a transient fault, so that item, and
    only that one, must be retried by SQS."""
    aws.add_service("lost-svc", 2)
    aws.apply(make_target(id="lost", resource={"cluster": "prod", "service": "lost-svc"}))
    faults.add("ecs", "DescribeServices", "5xx", times=0, when=body_has("lost-svc"))
    event: dict[str, Any] = json.loads((EVENTS / "worker-sqs-batch.json").read_text())
    bad = json.loads(json.dumps(event["Records"][0]))
    bad["messageId"] = "bad-one"
    bad["body"] = json.dumps({"target_id": "lost", "tick": int(NOW)})
    event["Records"].append(bad)
    return event


def test_worker_failure_is_reported_per_record(web: Aws, faults: Faults) -> None:
    """A failing item fails alone: SQS retries it (then parks it in the DLQ), not the batch."""
    _recent_load(web, 750.0)
    event = batch_with_a_failing_item(web, faults)
    out = resolve_handler("WorkerFunction")(event, LocalContext())
    assert [f["itemIdentifier"] for f in out["batchItemFailures"]] == ["bad-one"]
    assert web.desired() == 8  # the good item was processed
    assert web.desired("lost-svc") == 2
    web.rt.store.acquire_lease("lost", "someone-else", NOW)  # and the lease was released


def test_worker_records_a_deleted_cluster_every_tick_without_retrying(web: Aws) -> None:
    """ECS answers a deleted cluster with ClusterNotFoundException, not a failure entry: it is
    "not found" like a deleted service, recorded, and never retried into the dead letters."""
    _recent_load(web, 750.0)
    web.rt.store.put_target(
        make_target(id="web", resource={"cluster": "gone", "service": "web"}), NOW
    )
    out = invoke("WorkerFunction", "worker-sqs-batch.json")
    assert out == {"batchItemFailures": []}
    [d] = web.rt.store.decisions("web")
    assert d.reason == "failed" and "ClusterNotFoundException" in d.message


def test_a_redelivered_work_item_is_dropped(web: Aws) -> None:
    _recent_load(web, 750.0)
    invoke("WorkerFunction", "worker-sqs-batch.json")
    web.ecs.update_service(cluster="prod", service="web", desiredCount=3)
    out = invoke("WorkerFunction", "worker-sqs-batch.json")  # SQS delivers it again
    assert out == {"batchItemFailures": []}
    assert web.desired() == 3 and len(web.rt.store.decisions("web")) == 1


def test_the_tick_logs_counts_not_every_id(web: Aws) -> None:
    import io

    from scaleahead.handlers import common

    for i in range(30):
        web.apply(make_target(id=f"off{i:02d}", enabled=False))
    handler = common.logger.registered_handler
    buf = io.StringIO()
    saved = handler.setStream(buf)  # type: ignore[attr-defined]
    try:
        invoke("TickFunction", "tick-schedule.json")
    finally:
        handler.setStream(saved)  # type: ignore[attr-defined]
    line = next(json.loads(x) for x in buf.getvalue().splitlines() if '"message":"tick"' in x)
    assert (line["enqueued"], line["disabled"], line["invalid"]) == (1, 30, 0)
    assert len(line["disabled_ids"]) == 20 and "invalid_ids" not in line
