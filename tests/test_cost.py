"""The cost model: calls counted through botocore's hooks, EMF metrics counted from the log,
the arithmetic of a month, and one short metered replay of the real handlers."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scaleahead.aws import clients
from scaleahead_testkit.calls import counting
from scaleahead_tools.cost import model, prices
from scaleahead_tools.cost.meter import FunctionUse, emf_metrics
from scaleahead_tools.cost.model import Profile


def test_counting_sees_every_client_made_inside_and_the_metrics_asked_for() -> None:
    with mock_aws(), counting() as seen:
        clients.client("sqs").list_queues()
        cw: Any = boto3.client("cloudwatch", region_name="us-east-1")
        stat: dict[str, Any] = {
            "Metric": {"Namespace": "N", "MetricName": "M"},
            "Period": 60,
            "Stat": "Sum",
        }
        cw.get_metric_data(
            MetricDataQueries=[
                {"Id": "a", "MetricStat": stat},
                {"Id": "b", "MetricStat": stat, "ReturnData": False},
            ],
            StartTime=0,
            EndTime=60,
        )
        table = boto3.client("dynamodb", region_name="us-east-1")
        table.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        table.put_item(TableName="t", Item={"pk": {"S": "x"}, "v": {"S": "y" * 3000}})
        table.get_item(TableName="t", Key={"pk": {"S": "x"}})
    assert seen.calls["sqs.ListQueues"] == 1
    assert seen.calls["cloudwatch.GetMetricData"] == 1
    assert seen.metric_queries == 1  # the one that returns data is billed
    assert seen.write_units == 3  # 3 KB written: three units
    assert seen.read_units == 0.5  # under 4 KB, eventually consistent: half a unit
    assert seen.seconds > 0


def test_emf_metrics_are_distinct_name_and_dimension_values() -> None:
    def line(target: str, name: str) -> str:
        return json.dumps(
            {
                "_aws": {
                    "CloudWatchMetrics": [
                        {
                            "Namespace": "S",
                            "Dimensions": [["service", "Target"]],
                            "Metrics": [{"Name": name}],
                        }
                    ]
                },
                "service": "s",
                "Target": target,
                name: 1,
            }
        )

    lines = [line("web", "A"), line("web", "A"), line("db", "A"), line("web", "B"), "plain"]
    assert len(emf_metrics(lines)) == 3


def profile(targets: int, **kw: object) -> Profile:
    use = {
        "tick": FunctionUse(60, 6.0, Counter({"sqs.SendMessageBatch": 60}), 0, 60.0, 0.0),
        "worker": FunctionUse(
            60, 30.0, Counter({"cloudwatch.GetMetricData": 60}), 60, 120.0, 180.0
        ),
    }
    return Profile(
        name="p",
        targets=targets,
        drivers=targets,
        minutes=60,
        use=use,
        log_bytes=60_000,
        target_metrics=2 * targets,
        fleet_metrics=3,
        alarms=targets,
        memory_mb={"tick": 512, "worker": 512},
        traced=frozenset({"tick", "worker"}),
        **kw,  # type: ignore[arg-type]
    )


def test_a_month_is_the_measured_hour_scaled() -> None:
    lines = {x.item: x.monthly for x in model.bill(profile(1))}
    scale = prices.MINUTES_PER_MONTH / 60
    assert lines["CloudWatch GetMetricData"] == pytest.approx(
        60 * scale * prices.GET_METRIC_DATA_PER_METRIC
    )
    # per-target metrics are the target's; the fleet's belong to the stack's fixed costs
    assert lines["Custom metrics"] == pytest.approx(2 * prices.CUSTOM_METRIC_MONTH)
    fixed = {x.item: x.monthly for x in model.fixed(3)}
    assert fixed["Fleet metrics"] == pytest.approx(3 * prices.CUSTOM_METRIC_MONTH)
    assert lines["Alarms"] == pytest.approx(prices.ALARM_MONTH)
    assert lines["X-Ray traces"] == pytest.approx(120 * scale * prices.XRAY_TRACE_RECORDED)
    assert lines["DynamoDB"] == pytest.approx(
        scale * (180 * prices.READ_REQUEST_UNIT + 180 * prices.WRITE_REQUEST_UNIT)
    )


def test_projection_batches_the_worker_and_keeps_the_tick_and_fleet_metrics() -> None:
    big = model.project(profile(1), 1000)
    assert big.use["tick"].invocations == 60  # one per tick, whatever the targets
    assert big.use["worker"].invocations == 60 * 100  # one per batch of ten
    assert big.use["worker"].metric_queries == 60 * 1000
    assert big.use["tick"].calls["sqs.SendMessageBatch"] == 60 * 100
    assert (big.fleet_metrics, big.target_metrics, big.alarms) == (3, 2000, 1000)
    per_target = model.total(model.bill(big)) / 1000
    assert per_target < model.total(model.bill(profile(1)))


def test_a_metered_replay_counts_the_handlers_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    from scaleahead.handlers import common
    from scaleahead_tools.cost.run import measure

    # Powertools' Metrics read their namespace when the handlers' module was first imported,
    # maybe by another test without the Lambda's environment: named as in Lambda
    monkeypatch.setattr(common.metrics.provider, "namespace", "Scaleahead")
    monkeypatch.setattr(common.metrics.provider, "service", "scaleahead")
    common.metrics.clear_metrics()

    p = measure("lone", hours=0.25, tick_minutes=1)
    assert p.targets == 1 and p.minutes == 15
    assert p.use["tick"].invocations == 15
    # a work item per tick the target is not resting (domain.rest), each one load read of
    # one metric: the driver is read once
    evaluated = p.use["worker"].invocations
    assert 0 < evaluated < 15  # a flat morning: some ticks rest
    assert p.use["worker"].calls["cloudwatch.GetMetricData"] == evaluated
    assert p.use["worker"].metric_queries == evaluated
    # the replay's own calls (publishing the load, the world) are not the functions'
    assert "cloudwatch.PutMetricData" not in p.use["worker"].calls
    assert p.log_bytes > 0 and p.use["worker"].billed_seconds > 0
    # the default MetricsLevel (fleet): no metric per target, the dashboard reads the log
    assert p.metrics_level == "default" and p.target_metrics == 0 and p.fleet_metrics > 0
    assert p.traced == frozenset({"alarm"})  # the default Tracing: the alarm path only
    lines = {x.item: x for x in model.bill(p)}
    assert lines["CloudWatch GetMetricData"].monthly == pytest.approx(
        prices.MINUTES_PER_MONTH * prices.GET_METRIC_DATA_PER_METRIC * evaluated / 15
    )
