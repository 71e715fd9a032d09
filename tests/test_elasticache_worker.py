"""An ElastiCache target through the worker: the same planner and decision log as ECS, with
the shard adapter's own rules (step limit, busy while resharding) on top."""

from __future__ import annotations

from typing import Any

from scaleahead.aws.elasticache import ElastiCacheAdapter
from scaleahead.aws.errors import MappedAdapter, MappedMetrics
from scaleahead.domain.target import Kind
from scaleahead.service.worker import process_target
from scaleahead_testkit import moto_elasticache
from tests.conftest import NOW, Aws
from tests.records import decision
from tests.test_elasticache_adapter import LOW_CPU, cache_target, create, describe, put_usage


def test_shards_scale_out_in_steps_and_wait_for_the_reshard(aws: Aws, ec: Any) -> None:
    create(ec, shards=3)
    put_usage(aws, {"0001": 2.0, "0002": 2.0, "0003": 2.0}, LOW_CPU)
    aws.put_load([(NOW - 60 * i, 750.0) for i in range(1, 20)])
    aws.apply(cache_target(max_shards_per_action=2))
    rec = decision(process_target(aws.rt, "cache", NOW))
    # the plan wants 8 shards (750 / 100), one action may add at most two
    assert rec.executed is True and rec.after == 5, rec
    assert describe(ec)["Status"] == "modifying"
    rec = decision(process_target(aws.rt, "cache", NOW + 60))
    assert rec.reason == "busy" and "will retry" in rec.message
    moto_elasticache.complete_pending_changes()
    rec = decision(process_target(aws.rt, "cache", NOW + 120))
    assert rec.executed is True and rec.before == 5 and rec.after == 7, rec


def test_scale_in_guards_are_read_only_when_a_scale_in_is_on_the_table(aws: Aws, ec: Any) -> None:
    create(ec, shards=3)
    # 30 GiB of data: at 75 % of a 13.07 GiB node it needs 4 shards, so no scale-in from 3
    put_usage(aws, {"0001": 10.0, "0002": 10.0, "0003": 10.0}, LOW_CPU)
    guard_reads: list[Any] = []

    def spy(params: dict[str, Any], **_: Any) -> None:
        namespaces = {q["MetricStat"]["Metric"]["Namespace"] for q in params["MetricDataQueries"]}
        if "AWS/ElastiCache" in namespaces:
            guard_reads.append(params)

    # the shard adapter reads its guards through the runtime's one CloudWatch adapter
    adapter = aws.rt.adapters[Kind.ELASTICACHE]
    assert isinstance(adapter, MappedAdapter) and isinstance(adapter.inner, ElastiCacheAdapter)
    assert isinstance(aws.rt.metrics, MappedMetrics)
    assert adapter.inner._metrics is aws.rt.metrics.inner
    adapter.inner._metrics._cw.meta.events.register(
        "provide-client-params.cloudwatch.GetMetricData", spy
    )
    aws.put_load([(NOW - 60 * i, 280.0) for i in range(1, 20)])
    aws.apply(cache_target(scale_in_stabilisation_seconds=120))
    rec = decision(process_target(aws.rt, "cache", NOW))
    assert rec.reason == "at_desired" and guard_reads == [], rec  # 3 shards for 280

    aws.put_load([(NOW + 60 * i, 150.0) for i in range(0, 8)])  # 2 shards would do
    rec = decision(process_target(aws.rt, "cache", NOW + 60))
    assert rec.reason == "stabilising" and guard_reads == [], rec
    last = decision([process_target(aws.rt, "cache", NOW + 60 * k) for k in range(2, 6)][-1])
    assert last.reason == "guarded" and "4 shard(s) needed" in last.message, last
    assert guard_reads and describe(ec)["Status"] == "available"  # read, and nothing removed
