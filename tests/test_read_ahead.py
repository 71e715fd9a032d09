"""A worker batch reads its targets' recent load in as few GetMetricData calls as the API
allows (one per load period), each target's points exactly what its own read gives; metric math,
windows not read ahead and a failed read-ahead all fall back to the target's own read."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from scaleahead.aws import clients
from scaleahead.aws.cloudwatch import MetricsAdapter
from scaleahead.domain.target import Target
from scaleahead.handlers import common
from scaleahead.service.tick import run_tick
from scaleahead_testkit.calls import counting
from scaleahead_testkit.functions import sqs_event
from scaleahead_testkit.lambda_context import LocalContext
from scaleahead_testkit.local_aws import put_series
from tests.conftest import NOW, Aws, make_target
from tests.faults import Faults
from tests.test_handlers import resolve_handler
from tests.test_rest_service import flat

END = NOW - NOW % 60


def _stat(metric: str, period: int = 60) -> dict[str, Any]:
    return {
        "period_seconds": period,
        "queries": [
            {
                "Id": "load",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "Test",
                        "MetricName": metric,
                        "Dimensions": [{"Name": "Service", "Value": "x"}],
                    },
                    "Stat": "Sum",
                },
            }
        ],
    }


def _math(metric: str) -> dict[str, Any]:
    load = _stat(metric)
    load["queries"][0] = {**load["queries"][0], "Id": "m1", "ReturnData": False}
    load["queries"].append({"Id": "load", "Expression": "m1 * 2", "ReturnData": True})
    return load


@pytest.fixture
def targets(aws: Aws) -> list[Target]:
    """Four targets on four metrics: three plain (two one-minute, one five-minute), one math."""
    out: list[Target] = [
        make_target(id="a", resource={"cluster": "prod", "service": "a"}, load_metric=_stat("A")),
        make_target(id="b", resource={"cluster": "prod", "service": "b"}, load_metric=_stat("B")),
        make_target(
            id="c", resource={"cluster": "prod", "service": "c"}, load_metric=_stat("C", period=300)
        ),
        make_target(id="d", resource={"cluster": "prod", "service": "d"}, load_metric=_math("D")),
    ]
    for i, name in enumerate("ABCD"):
        points = [(END - 60 * k, 100.0 * (i + 1) + k) for k in range(12, 0, -1)]
        put_series(aws.cloudwatch, "Test", name, [{"Name": "Service", "Value": "x"}], points)
    return out


def test_one_call_per_period_and_each_target_gets_its_own_points(
    aws: Aws, targets: list[Target]
) -> None:
    start = END - 600
    alone = {t.id: MetricsAdapter(aws.cloudwatch).load_series(t, start, END) for t in targets}
    assert all(alone[t] for t in "abc")  # (moto answers this metric math with no points)
    with counting() as seen:
        adapter = MetricsAdapter(boto3.client("cloudwatch"))  # counted: made inside
        with adapter.shared_reads():
            adapter.read_ahead([(t, start) for t in targets], END)
            assert seen.calls["cloudwatch.GetMetricData"] == 2  # the 60 s and 300 s groups
            together = {t.id: adapter.load_series(t, start, END) for t in targets}
    assert together == alone
    assert seen.calls["cloudwatch.GetMetricData"] == 3  # d, with metric math, read on its own


def test_outside_shared_reads_nothing_is_read_ahead(aws: Aws, targets: list[Target]) -> None:
    with counting() as seen:
        MetricsAdapter(boto3.client("cloudwatch")).read_ahead(
            [(t, END - 600) for t in targets], END
        )
    assert seen.calls["cloudwatch.GetMetricData"] == 0


def _batch(aws: Aws, targets: list[Target]) -> dict[str, Any]:
    for t in targets:
        aws.add_service(t.id, 4)
        aws.rt.store.put_target(t, NOW)
    run_tick(aws.rt, NOW)
    msgs = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(msgs) == len(targets)
    return sqs_event(msgs, aws.queue_url, NOW)


def test_a_worker_batch_reads_its_plain_loads_in_one_call(aws: Aws, targets: list[Target]) -> None:
    plain = [t for t in targets if t.id in ("a", "b")]
    event = _batch(aws, plain)
    for t in plain:  # fitted a minute ago: no refit due, each reads its recent load only
        aws.rt.store.put_forecast(t, flat(150.0, NOW))
    with counting() as seen:
        common.reset()  # the runtime's clients made again, inside: counted
        out = resolve_handler("WorkerFunction")(event, LocalContext())
    assert out == {"batchItemFailures": []}
    assert seen.calls["cloudwatch.GetMetricData"] == 1  # both recent loads, one call


def test_a_failed_read_ahead_leaves_each_target_its_own_read(
    aws: Aws, targets: list[Target], faults: Faults, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = MetricsAdapter(clients.client("cloudwatch"))  # the product's, faults installed
    start = END - 600
    alone = {t.id: adapter.load_series(t, start, END) for t in targets[:2]}
    faults.add("cloudwatch", "GetMetricData", "denied", times=1)  # the read-ahead's call
    with adapter.shared_reads():
        adapter.read_ahead([(t, start) for t in targets[:2]], END)
        assert "reading the batch's load ahead failed" in caplog.text
        assert {t.id: adapter.load_series(t, start, END) for t in targets[:2]} == alone
