"""Drivers: one load definition and one forecast plan several targets, each with its own unit
and warm-up; the target with the longest warm-up starts first on the way up."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scaleahead.aws.errors import MappedMetrics
from scaleahead.domain.target import Target, TargetError, parse_targets
from scaleahead.service.worker import process_target
from tests.conftest import NOW, Aws, target_dict
from tests.records import decision, tick_inputs
from tests.test_worker import STEP, history


def driver_file(*targets: dict[str, Any]) -> dict[str, Any]:
    lm = {**target_dict()["load_metric"], "period_seconds": STEP}
    return {
        "drivers": {"front-door": {"load_metric": lm, "forecast": {"quantile": 0.9}}},
        "targets": list(targets),
    }


def shared(**over: Any) -> dict[str, Any]:
    t = target_dict(**over)
    del t["load_metric"]
    if "scale_in_stabilisation_seconds" not in over:
        del t["scale_in_stabilisation_seconds"]  # the kind's default
    return {**t, "driver": "front-door"}


def test_three_kinds_share_one_driver() -> None:
    tasks = shared(id="tasks")
    readers = shared(id="readers", kind="aurora", resource={"cluster": "db"}, max_capacity=15)
    shards = shared(id="shards", kind="elasticache", resource={"replication_group": "rg"})
    got = parse_targets(driver_file(tasks, readers, shards))
    assert {t.forecast_key for t in got} == {"DRIVER#front-door"}
    assert len({t.load_metric for t in got}) == 1
    assert [t.effective_warmup_seconds for t in got] == [300, 900, 1800]
    # on the way down the front tier goes first: its stabilisation window is the shortest
    assert [t.effective_stabilisation_seconds for t in got] == [900, 1800, 3600]


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ({"driver": "nope"}, "targets.0.driver: no driver 'nope'"),
        ({"load_metric": target_dict()["load_metric"]}, "takes its load_metric"),
    ],
)
def test_driver_mistakes_are_named(target: dict[str, Any], needle: str) -> None:
    with pytest.raises(TargetError, match=needle):
        parse_targets(driver_file({**shared(), **target}))


def slow_and_fast(aws: Aws) -> tuple[Target, ...]:
    """Three days of history and two ECS targets on one driver: warm-ups of 15 and 1 min."""
    history(aws, 3)
    aws.add_service("api", 4)
    targets = parse_targets(
        driver_file(
            shared(id="slow", warmup_seconds=900),
            shared(id="fast", warmup_seconds=60, resource={"cluster": "prod", "service": "api"}),
        )
    )
    for t in targets:
        aws.apply(t)
    return targets


def test_one_forecast_plans_both_and_the_slow_tier_starts_first(aws: Aws) -> None:
    slow, fast = slow_and_fast(aws)
    calls: list[float] = []
    real = aws.rt.metrics.load_series

    def counting(target: Any, start: float, end: float) -> Any:
        calls.append(end - start)
        return real(target, start, end)

    aws.rt.metrics.load_series = counting  # type: ignore[method-assign]
    a = decision(process_target(aws.rt, "slow", NOW))
    b = decision(process_target(aws.rt, "fast", NOW))
    # one 14-day read and one fit for the driver; the second target reads only recent data
    assert [c > 86400 for c in calls] == [True, False]
    assert aws.rt.store.get_forecast(slow) == aws.rt.store.get_forecast(fast)
    # the daily peak starts in 10 minutes: inside the slow tier's warm-up, not the fast one's
    assert a.executed is True and aws.desired("web") >= 10, a
    assert aws.desired("api") < 10, b


def test_one_worker_batch_reads_a_drivers_load_once(aws: Aws) -> None:
    from scaleahead.handlers.worker import handler
    from scaleahead_testkit.lambda_context import LocalContext

    slow_and_fast(aws)
    reads: list[dict[str, Any]] = []
    aws.cloudwatch.meta.events.register(
        "before-call.cloudwatch.GetMetricData", lambda params, **_: reads.append(params)
    )
    # count the adapter's calls on this client
    metrics = aws.rt.metrics
    assert isinstance(metrics, MappedMetrics)
    metrics.inner._cw = aws.cloudwatch
    event = {
        "Records": [
            {
                "messageId": f"m-{tid}",
                "receiptHandle": "r",
                "body": json.dumps({"target_id": tid, "tick": int(NOW)}),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for tid in ("slow", "fast")
        ]
    }
    assert handler(event, LocalContext()) == {"batchItemFailures": []}
    # the first target's 14-day read (for the refit) also answers the second's recent read
    assert len(reads) == 1
    for tid in ("slow", "fast"):
        [d] = aws.rt.store.decisions(tid)
        assert d.executed is True and "forecast q0.9" in d.message, d
        assert tick_inputs(d).observed_load is not None, d  # the recent load was there too
    # outside a batch, each read goes to CloudWatch
    process_target(aws.rt, "fast", NOW + 60)
    assert len(reads) == 2
