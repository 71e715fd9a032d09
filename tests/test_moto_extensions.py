"""The moto extensions answer as moto (and AWS) would, only faster, and page like AWS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from scaleahead import clock
from scaleahead.aws import cloudwatch as cw_adapter
from scaleahead.domain.decision import Action, Reason
from scaleahead.domain.record import DecisionRecord, Source
from scaleahead_testkit import moto_extensions
from scaleahead_testkit.local_aws import local_env, put_series
from tests.conftest import DIMENSIONS, METRIC, NAMESPACE, Aws, make_target

# Two days before the wall clock: CloudWatch's StartTime rounding depends on the data's age.
T0 = int(time.time()) - 2 * 86400 - int(time.time()) % 3600


@pytest.fixture
def cw() -> Iterator[Any]:
    moto_extensions.uninstall()
    with local_env(), mock_aws():
        client = boto3.client("cloudwatch")
        points = [(T0 + 60 * i, float((i * 37) % 11)) for i in range(180)]
        put_series(client, NAMESPACE, METRIC, DIMENSIONS, points)
        put_series(
            client,
            NAMESPACE,
            METRIC,
            [{"Name": "LoadBalancer", "Value": "other"}],
            [(T0 + 60 * i, 1000.0) for i in range(180)],
        )
        yield client
    moto_extensions.uninstall()


def _query(client: Any, stat: str, period: int, end_offset: int, start_offset: int = 120) -> Any:
    return client.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": METRIC,
                        "Dimensions": DIMENSIONS,
                    },
                    "Period": period,
                    "Stat": stat,
                },
            }
        ],
        StartTime=datetime.fromtimestamp(T0 + start_offset, UTC),
        EndTime=datetime.fromtimestamp(T0 + end_offset, UTC),
        ScanBy="TimestampAscending",
    )["MetricDataResults"][0]


@pytest.mark.parametrize("stat", ["Sum", "Average", "Maximum", "Minimum", "SampleCount"])
@pytest.mark.parametrize("period", [60, 300])
def test_same_values_as_moto(cw: Any, stat: str, period: int) -> None:
    plain = _query(cw, stat, period, 3600)
    moto_extensions.install()
    fast = _query(cw, stat, period, 3600)
    # moto also returns the period that starts at EndTime, which AWS does not
    n = len(fast["Values"])
    assert n > 5
    assert fast["Values"] == plain["Values"][:n]
    assert fast["Timestamps"] == plain["Timestamps"][:n]
    assert len(plain["Values"]) - n in (0, 1)


def test_nothing_from_after_end_time(cw: Any) -> None:
    moto_extensions.install()
    res = _query(cw, "Sum", 60, 1800)
    assert max(res["Timestamps"]).timestamp() < T0 + 1800


def test_adapter_follows_next_token(cw: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    moto_extensions.install()
    monkeypatch.setattr(cw_adapter, "MAX_DATAPOINTS", 50)
    seen: list[dict[str, Any]] = []
    real = cw.get_metric_data

    def spy(**kw: Any) -> Any:
        out = real(**kw)
        seen.append(out)
        return out

    monkeypatch.setattr(cw, "get_metric_data", spy)
    points = cw_adapter.MetricsAdapter(cw).load_series(make_target(), T0, T0 + 3 * 3600)
    assert len(points) == 180
    assert [p[0] for p in points] == sorted(p[0] for p in points)
    assert len(seen) == 4 and "NextToken" not in seen[-1]


def test_dynamodb_query_reads_only_the_partition_with_same_results(aws: Aws) -> None:
    store = aws.rt.store
    for i in range(30):
        for tid in ("web", "api"):
            record = DecisionRecord(Source.WORKER, Action.NONE, False, Reason.PLAN, f"{tid}{i}")
            store.record_decision(tid, 1000.0 + i, record)
    fast = store.decisions("web", limit=100)
    moto_extensions.uninstall()
    try:
        plain = store.decisions("web", limit=100)
        paged = store.decisions("web", limit=7)
    finally:
        moto_extensions.install()
    assert fast == plain and len(fast) == 30
    assert store.decisions("web", limit=7) == paged


def test_metric_identity_start_rounding_and_validation(cw: Any) -> None:
    moto_extensions.install()
    no_dims = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {"Namespace": NAMESPACE, "MetricName": METRIC},
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=datetime.fromtimestamp(T0, UTC),
        EndTime=datetime.fromtimestamp(T0 + 3600, UTC),
    )["MetricDataResults"][0]
    assert no_dims["Values"] == []  # a metric is its namespace, name and all its dimensions
    # a StartTime in the middle of a minute is rounded down to the minute, as CloudWatch does
    res = _query(cw, "Sum", 60, 600, start_offset=120)
    mid = _query(cw, "Sum", 60, 600, start_offset=150)
    assert mid["Timestamps"] == res["Timestamps"]
    with pytest.raises(ClientError, match="MetricStat is required"):
        cw.get_metric_data(
            MetricDataQueries=[{"Id": "q", "Label": "nothing"}],
            StartTime=datetime.fromtimestamp(T0, UTC),
            EndTime=datetime.fromtimestamp(T0 + 600, UTC),
        )


def test_start_rounding_goes_by_the_worlds_clock(cw: Any) -> None:
    """Data 20 days old by the world's clock (a test's or the demo's) has its StartTime rounded
    to five minutes, whatever the wall clock says: reads do not depend on the day tests run."""
    moto_extensions.install()
    assert _query(cw, "Sum", 60, 900, start_offset=130)["Timestamps"][0].timestamp() == T0 + 120
    clock.set_clock(lambda: T0 + 20 * 86400)
    try:
        aged = _query(cw, "Sum", 60, 900, start_offset=130)
    finally:
        clock.set_clock(None)
    assert aged["Timestamps"][0].timestamp() == T0  # 00:02:10 rounded down to 00:00


def test_the_adapter_reads_five_minute_data_on_the_clock_grid(cw: Any) -> None:
    """CloudWatch's periods start at StartTime: read from 00:04 unaligned, a five-minute period
    would be stamped 00:04 and hold 00:04-00:09. The adapter starts at the boundary and keeps
    what is stamped from the start asked for, so every value keeps its own timestamp; and it
    leaves out the period still open at the end, whose Sum reads low."""
    moto_extensions.install()
    target = make_target(
        load_metric={**make_target().load_metric.model_dump(), "period_seconds": 300}
    )
    points = cw_adapter.MetricsAdapter(cw).load_series(target, T0 + 240, T0 + 3600)
    assert [t for t, _ in points] == [T0 + 300 * k for k in range(1, 12)]
    put = {float(T0 + 60 * i): float((i * 37) % 11) for i in range(180)}
    assert [v for _, v in points] == [sum(put[t + 60 * j] for j in range(5)) for t, _ in points]
    # Two minutes into the next period: its Sum holds two minutes of five, so it is left out.
    raw = _query(cw, "Sum", 300, 3720, start_offset=3600)
    assert raw["Timestamps"][0].timestamp() == T0 + 3600
    assert raw["Values"][0] == put[T0 + 3600] + put[T0 + 3660]
    later = cw_adapter.MetricsAdapter(cw).load_series(target, T0 + 240, T0 + 3720)
    assert later == points
