"""A load metric in another region (CloudFront publishes only in us-east-1): the functions read
it there, the managed alarm lives where the metric lives when that is the functions' region,
and otherwise the apply says why there is none and the target reacts at its tick."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from scaleahead.aws.cloudwatch import MetricsAdapter
from scaleahead.domain.alarm import alarm_unavailable
from scaleahead.domain.target import TargetError, parse_target
from scaleahead.service.worker import process_target
from scaleahead_tools.cli import targets as tg
from tests.conftest import NOW, Aws, target_dict
from tests.records import decision

DISTRIBUTION: list[Any] = [
    {"Name": "DistributionId", "Value": "E2EXAMPLE"},
    {"Name": "Region", "Value": "Global"},
]


def cdn_metric(region: str | None = "us-east-1") -> dict[str, Any]:
    lm: dict[str, Any] = {
        "period_seconds": 60,
        "queries": [
            {
                "Id": "requests",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/CloudFront",
                        "MetricName": "Requests",
                        "Dimensions": DISTRIBUTION,
                    },
                    "Stat": "Sum",
                },
            }
        ],
    }
    if region is not None:
        lm["region"] = region
    return lm


def put_cdn(points: list[tuple[float, float]], region: str = "us-east-1") -> None:
    cw = boto3.client("cloudwatch", region_name=region)
    cw.put_metric_data(
        Namespace="AWS/CloudFront",
        MetricData=[
            {
                "MetricName": "Requests",
                "Dimensions": DISTRIBUTION,
                "Timestamp": datetime.fromtimestamp(t, UTC),
                "Value": v,
            }
            for t, v in points
        ],
    )


def test_the_region_is_validated() -> None:
    t = parse_target(target_dict(load_metric=cdn_metric()))
    assert t.load_metric.region == "us-east-1"
    assert parse_target(target_dict()).load_metric.region is None
    for bad in ("US-EAST-1", "useast1", "us-east-1 ", "mars-north-1a"):
        with pytest.raises(TargetError, match=r"load_metric\.region"):
            parse_target(target_dict(load_metric=cdn_metric(bad)))


def test_alarm_unavailable_pure() -> None:
    assert alarm_unavailable(None, "eu-west-1") is None
    assert alarm_unavailable("eu-west-1", "eu-west-1") is None
    why = alarm_unavailable("us-east-1", "eu-west-1")
    assert why is not None and "us-east-1" in why and "eu-west-1" in why and "tick" in why


@pytest.fixture
def abroad(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """The functions in eu-west-1 (the load and the service there too), CloudFront's metrics in
    us-east-1 as AWS publishes them."""
    home = boto3.client("cloudwatch", region_name="eu-west-1")
    aws.rt.metrics.inner._cw = home  # type: ignore[attr-defined]
    return aws


def test_the_worker_reads_the_load_where_the_metric_lives(abroad: Aws) -> None:
    put_cdn([(NOW - 60 * i, 750.0) for i in range(1, 20)])  # us-east-1 only
    t = parse_target(target_dict(load_metric=cdn_metric()))
    abroad.apply(t)
    rec = decision(process_target(abroad.rt, "web", NOW))
    assert rec.executed is True and rec.after == 8, rec  # 750 / 100


def test_no_alarm_abroad_and_the_apply_says_why(abroad: Aws) -> None:
    put_cdn([(NOW - 60 * i, 300.0) for i in range(1, 5)])
    t = parse_target(target_dict(load_metric=cdn_metric()))
    done = tg.apply(abroad.rt, (t,), tg.diff(abroad.rt, (t,), prune=False), abroad.clock.t)
    assert done == [
        "added web; no high-load alarm: " + str(alarm_unavailable("us-east-1", "eu-west-1"))
    ]
    for region in ("us-east-1", "eu-west-1"):
        alarms = boto3.client("cloudwatch", region_name=region).describe_alarms()
        assert alarms["MetricAlarms"] == [], region
    # the worker plans and acts without moving an alarm, tick after tick
    for k in range(3):
        decision(process_target(abroad.rt, "web", NOW + 60 * k))
    assert (
        boto3.client("cloudwatch", region_name="us-east-1").describe_alarms()["MetricAlarms"] == []
    )


def test_at_home_the_alarm_lives_with_the_metric(aws: Aws) -> None:
    # the functions in us-east-1, as the aws fixture is: the CloudFront alarm can be managed
    put_cdn([(NOW - 60 * i, 300.0) for i in range(1, 5)])
    t = parse_target(target_dict(load_metric=cdn_metric()))
    done = tg.apply(aws.rt, (t,), tg.diff(aws.rt, (t,), prune=False), aws.clock.t)
    assert done[0].startswith("added web; alarm scaleahead-web-high-load at load >")
    [alarm] = aws.cloudwatch.describe_alarms()["MetricAlarms"]
    assert alarm["Metrics"][0]["MetricStat"]["Metric"]["Namespace"] == "AWS/CloudFront"


def test_read_ahead_groups_by_region(aws: Aws) -> None:
    put_cdn([(NOW - 60 * i, 10.0) for i in range(1, 4)], region="us-west-2")
    aws.put_load([(NOW - 60 * i, 20.0) for i in range(1, 4)])
    calls: list[str] = []
    metrics = MetricsAdapter(aws.cloudwatch)
    for cw in (aws.cloudwatch, metrics._cw_for("us-west-2")):
        cw.meta.events.register(
            "before-call.cloudwatch.GetMetricData",
            lambda model, **_: calls.append(model.service_model.endpoint_prefix),
        )
    here = parse_target(target_dict())
    there = parse_target(target_dict(id="cdn", load_metric=cdn_metric("us-west-2")))
    with metrics.shared_reads():
        metrics.read_ahead([(here, NOW - 600), (there, NOW - 600)], NOW)
        assert [v for _, v in metrics.load_series(there, NOW - 600, NOW)] == [10.0] * 3
        assert [v for _, v in metrics.load_series(here, NOW - 600, NOW)] == [20.0] * 3
    assert len(calls) == 2  # one call per region, none per target afterwards


def test_a_cloudfront_driver_plans_the_tiers_behind_it(abroad: Aws, mc: Any) -> None:
    from scaleahead.domain.target import parse_targets
    from tests.test_memcached_adapter import create

    create(mc, 2)
    put_cdn([(NOW - 60 * i, 600.0) for i in range(1, 20)])
    web = target_dict(id="web")
    cache = target_dict(
        id="sessions", kind="memcached", resource={"cache_cluster": "sessions"}, min_capacity=1
    )
    for d in (web, cache):
        del d["load_metric"]
        d["driver"] = "cdn"
    targets = parse_targets(
        {"drivers": {"cdn": {"load_metric": cdn_metric()}}, "targets": [web, cache]}
    )
    assert {t.load_metric.region for t in targets} == {"us-east-1"}
    assert {t.forecast_key for t in targets} == {"DRIVER#cdn"}
    for t in targets:
        abroad.apply(t)
    recs = [decision(process_target(abroad.rt, t.id, NOW)) for t in targets]
    assert [(r.executed, r.after) for r in recs] == [(True, 6), (True, 6)], recs
