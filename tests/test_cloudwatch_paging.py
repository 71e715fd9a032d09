"""The load read asks GetMetricData exactly as before boto3's paginator took over the paging:
one call for one page, NextToken followed when there are more, the datapoints merged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.stub import Stubber

from scaleahead.aws.cloudwatch import MAX_DATAPOINTS, MetricsAdapter
from tests.conftest import make_target

T0 = 1_795_000_000 - 1_795_000_000 % 300


def _request(target: Any, start: float, end: float, token: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "MetricDataQueries": target.load_metric.to_api(),
        "StartTime": datetime.fromtimestamp(start, UTC),
        "EndTime": datetime.fromtimestamp(end, UTC),
        "ScanBy": "TimestampAscending",
        "MaxDatapoints": MAX_DATAPOINTS,
    }
    if token:
        out["NextToken"] = token
    return out


def _page(want: str, points: list[tuple[float, float]], token: str | None = None) -> Any:
    page: dict[str, Any] = {
        "MetricDataResults": [
            {
                "Id": want,
                "Timestamps": [datetime.fromtimestamp(t, UTC) for t, _ in points],
                "Values": [v for _, v in points],
                "StatusCode": "Complete",
            },
            {"Id": "other", "Timestamps": [datetime.fromtimestamp(T0, UTC)], "Values": [9.0]},
        ]
    }
    if token:
        page["NextToken"] = token
    return page


def _client() -> Any:
    return boto3.client(
        "cloudwatch",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_one_page_is_one_call_with_the_same_request() -> None:
    target, cw = make_target(), _client()
    want = target.load_metric.returned_id
    period = target.load_metric.period_seconds
    end = T0 + 10 * period
    with Stubber(cw) as stub:
        stub.add_response(
            "get_metric_data",
            _page(want, [(T0, 1.0), (T0 + period, 2.0)]),
            _request(target, T0, end),
        )
        points = MetricsAdapter(cw).load_series(target, T0, end)
        stub.assert_no_pending_responses()
    assert points == [(T0, 1.0), (T0 + period, 2.0)]


def test_next_token_is_followed_and_the_pages_merged() -> None:
    target, cw = make_target(), _client()
    want = target.load_metric.returned_id
    period = target.load_metric.period_seconds
    end = T0 + 10 * period
    with Stubber(cw) as stub:
        stub.add_response(
            "get_metric_data",
            _page(want, [(T0, 1.0), (T0 + period, float("nan"))], token="more"),
            _request(target, T0, end),
        )
        stub.add_response(
            "get_metric_data",
            _page(want, [(T0 + 2 * period, 3.0)]),
            _request(target, T0, end, token="more"),
        )
        points = MetricsAdapter(cw).load_series(target, T0, end)
        stub.assert_no_pending_responses()
    assert points == [(T0, 1.0), (T0 + 2 * period, 3.0)]
