"""The ElastiCache shard adapter against moto (with the cluster-mode resharding extension).

Each test names the rule it pins; the groups are made through boto3 and the metrics written
with PutMetricData, one datapoint per node, so every answer comes through botocore.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from scaleahead.aws.cloudwatch import MetricRef, MetricsAdapter
from scaleahead.aws.elasticache import ElastiCacheAdapter
from scaleahead.domain.cache_nodes import GIB, NODE_MEMORY_BYTES, node_memory_bytes
from scaleahead.domain.cache_shards import (
    SINGLE_SHARD,
    Shard,
    memory_floor,
    removal_order,
    scale_in_floor,
    slot_count,
)
from scaleahead.domain.target import ElastiCacheTarget, parse_target
from scaleahead.service.ports import CapacityReading, NotDrivable, NotFound
from scaleahead_testkit import moto_elasticache
from tests.conftest import NOW, Aws, make_target, target_dict

RG = "cache"


class Spy:
    """The elasticache client, recording each shard change the adapter sends."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.reshards: list[dict[str, Any]] = []

    def modify_replication_group_shard_configuration(self, **kwargs: Any) -> Any:
        self.reshards.append(kwargs)
        return self._client.modify_replication_group_shard_configuration(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def spy(ec: Any) -> Spy:
    return Spy(ec)


@pytest.fixture
def adapter(aws: Aws, spy: Spy) -> ElastiCacheAdapter:
    return ElastiCacheAdapter(spy, MetricsAdapter(aws.cloudwatch))


def cache_target(**over: Any) -> ElastiCacheTarget:
    t = parse_target(
        target_dict(
            id="cache",
            kind="elasticache",
            resource={"replication_group": RG},
            min_capacity=1,
            max_capacity=20,
            **over,
        )
    )
    assert isinstance(t, ElastiCacheTarget)
    return t


def create(
    ec: Any, shards: int = 3, node_type: str = "cache.r7g.large", **kwargs: Any
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "ReplicationGroupId": RG,
        "ReplicationGroupDescription": "test",
        "Engine": "valkey",
        "CacheNodeType": node_type,
        "ClusterMode": "enabled",
        "NumNodeGroups": shards,
        "ReplicasPerNodeGroup": 1,
        # as a user hands it over (`targets apply` refuses an untagged group)
        "Tags": [{"Key": "scaleahead:managed", "Value": "true"}],
        **kwargs,
    }
    return dict(ec.create_replication_group(**params)["ReplicationGroup"])


def describe(ec: Any) -> dict[str, Any]:
    return dict(ec.describe_replication_groups(ReplicationGroupId=RG)["ReplicationGroups"][0])


def shard_ids(ec: Any) -> list[str]:
    return [ng["NodeGroupId"] for ng in describe(ec)["NodeGroups"]]


def put(
    aws: Aws,
    metric: str,
    per_shard: dict[str, float],
    age: float = 120.0,
) -> None:
    """One datapoint per shard primary (member -001, node 0001), ``age`` seconds ago."""
    aws.cloudwatch.put_metric_data(
        Namespace="AWS/ElastiCache",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [
                    {"Name": "CacheClusterId", "Value": f"{RG}-{shard}-001"},
                    {"Name": "CacheNodeId", "Value": "0001"},
                ],
                "Timestamp": datetime.fromtimestamp(NOW - age, UTC),
                "Value": value,
            }
            for shard, value in per_shard.items()
        ],
    )


def put_usage(aws: Aws, gib: dict[str, float], cpu: dict[str, float]) -> None:
    put(aws, "BytesUsedForCache", {s: v * GIB for s, v in gib.items()})
    put(aws, "EngineCPUUtilization", cpu)


LOW_CPU = {"0001": 20.0, "0002": 25.0, "0003": 30.0}


# -- reading and resharding --------------------------------------------------------------------


def test_read_counts_shards(aws: Aws, ec: Any, adapter: ElastiCacheAdapter) -> None:
    create(ec)
    put_usage(aws, {"0001": 1, "0002": 1, "0003": 1}, LOW_CPU)
    r = adapter.read(cache_target())
    assert (r.desired, r.ready, r.busy) == (3, 3, None)
    adapter.validate(cache_target())  # a cluster-mode Valkey group is accepted


def test_scale_out_is_limited_per_action(
    aws: Aws, ec: Any, spy: Spy, adapter: ElastiCacheAdapter
) -> None:
    create(ec)
    t = cache_target(max_shards_per_action=2)
    act = adapter.set_capacity(t, 7, adapter.read(t))
    assert act.applied and act.desired == 5
    assert spy.reshards == [
        {"ReplicationGroupId": RG, "NodeGroupCount": 5, "ApplyImmediately": True}
    ]
    assert "at most 2 shards" in act.detail
    moto_elasticache.complete_pending_changes()
    assert shard_ids(ec) == ["0001", "0002", "0003", "0004", "0005"]


def test_busy_while_modifying_then_available(
    aws: Aws, ec: Any, spy: Spy, adapter: ElastiCacheAdapter
) -> None:
    create(ec)
    t = cache_target()
    assert adapter.set_capacity(t, 4, adapter.read(t)).applied
    r = adapter.read(t)
    assert r.busy is not None and r.busy.startswith("modifying (resharding")
    assert r.desired == 3 and r.scale_in_floor == 3
    # A second change is never sent while one is in flight (AWS would answer
    # InvalidReplicationGroupState), even with a reading that does not say busy.
    for reading in (r, CapacityReading(3, 3)):
        again = adapter.set_capacity(t, 5, reading)
        assert not again.applied and again.desired == 3 and "modifying" in again.detail
    assert [c["NodeGroupCount"] for c in spy.reshards] == [4]
    moto_elasticache.complete_pending_changes()
    put_usage(aws, {"0001": 1, "0002": 1, "0003": 1, "0004": 1}, {**LOW_CPU, "0004": 10.0})
    r = adapter.read(t)
    assert r.busy is None and r.desired == r.ready == 4


def test_no_call_when_already_there(aws: Aws, ec: Any, adapter: ElastiCacheAdapter) -> None:
    create(ec)
    t = cache_target()
    act = adapter.set_capacity(t, 3, CapacityReading(3, 3))
    assert not act.applied and describe(ec)["Status"] == "available"


def test_scale_in_removes_fewest_slots_first(
    aws: Aws, ec: Any, spy: Spy, adapter: ElastiCacheAdapter
) -> None:
    # 0001 holds the fewest slots; removing the newest (0003) would move 9384 slots, not 1000.
    create(
        ec,
        NodeGroupConfiguration=[
            {"NodeGroupId": "0001", "Slots": "0-999", "ReplicaCount": 1},
            {"NodeGroupId": "0002", "Slots": "1000-6999", "ReplicaCount": 1},
            {"NodeGroupId": "0003", "Slots": "7000-16383", "ReplicaCount": 1},
        ],
    )
    put_usage(aws, {"0001": 0.2, "0002": 1, "0003": 1.5}, LOW_CPU)
    t = cache_target()
    r = adapter.read(t)
    assert r.scale_in_floor == 1
    act = adapter.set_capacity(t, 2, r)
    assert act.applied and act.desired == 2 and "removing node groups 0001" in act.detail
    assert spy.reshards[-1]["NodeGroupsToRemove"] == ["0001"]
    moto_elasticache.complete_pending_changes()
    assert shard_ids(ec) == ["0002", "0003"]


def test_scale_in_ties_remove_the_newest(aws: Aws, ec: Any, adapter: ElastiCacheAdapter) -> None:
    # Even spread: 0001 has 5462 slots, 0002 and 0003 5461 each; the tie goes to the newest.
    create(ec)
    put_usage(aws, {"0001": 1, "0002": 1, "0003": 1}, LOW_CPU)
    t = cache_target()
    act = adapter.set_capacity(t, 2, adapter.read(t))
    assert act.applied and "removing node groups 0003" in act.detail
    moto_elasticache.complete_pending_changes()
    assert shard_ids(ec) == ["0001", "0002"]


def test_set_capacity_never_goes_below_the_floor(
    aws: Aws, ec: Any, adapter: ElastiCacheAdapter
) -> None:
    create(ec)
    t = cache_target()
    act = adapter.set_capacity(t, 1, CapacityReading(3, 3, scale_in_floor=2))
    assert act.applied and act.desired == 2
    moto_elasticache.complete_pending_changes()
    assert shard_ids(ec) == ["0001", "0002"]


# -- the memory guard --------------------------------------------------------------------------


def test_memory_floor_follows_max_fill(aws: Aws, ec: Any, adapter: ElastiCacheAdapter) -> None:
    create(ec)
    put_usage(aws, {"0001": 2, "0002": 2, "0003": 2}, LOW_CPU)
    # 6 GiB used; 13.07 GiB x 0.4 = 5.23 GiB per shard -> 2 shards; the 1.5x rule alone would
    # allow 1 (11.07 GiB free >= 1.5 x 4 GiB).
    r = adapter.read(cache_target(max_memory_fill=0.4))
    assert r.scale_in_floor == 2
    assert "2 shard(s) needed" in r.scale_in_floor_reason
    # At the default 0.75 fill (9.80 GiB per shard) one shard suffices.
    assert adapter.read(cache_target()).scale_in_floor == 1


def test_memory_floor_applies_the_online_scale_in_rule(
    aws: Aws, ec: Any, adapter: ElastiCacheAdapter
) -> None:
    create(ec)
    put_usage(aws, {"0001": 3.5, "0002": 3.5, "0003": 3.5}, LOW_CPU)
    # 10.5 GiB fits one shard at 0.95 fill (12.42 GiB), but going to 1 keeps 9.57 GiB free,
    # less than 1.5 x 7 GiB moved; going to 2 keeps 19.14 GiB free >= 1.5 x 3.5 GiB.
    r = adapter.read(cache_target(max_memory_fill=0.95))
    assert r.scale_in_floor == 2
    assert "1 shard(s) needed" in r.scale_in_floor_reason
    assert "removing 0003" in r.scale_in_floor_reason and "-> floor 2" in r.scale_in_floor_reason


def test_memory_floor_is_current_when_the_rule_cannot_be_met(
    aws: Aws, ec: Any, adapter: ElastiCacheAdapter
) -> None:
    create(ec)
    put_usage(aws, {"0001": 8, "0002": 8, "0003": 8}, LOW_CPU)
    # 24 GiB needs 2 shards at 0.95 fill, but 2 x 5.07 GiB free < 1.5 x 8 GiB moved.
    r = adapter.read(cache_target(max_memory_fill=0.95))
    assert r.scale_in_floor == 3
    assert "online scale-in rule" in r.scale_in_floor_reason


def test_memory_floor_pure() -> None:
    mem = 10 * GIB
    used = {"a": 1.0 * GIB, "b": 1.0 * GIB, "c": 6.0 * GIB}
    # 8 GiB fits one shard at 0.9 fill (9 GiB). Removal order c, b, a: going to 1 keeps 9 GiB
    # free < 1.5 x 7 GiB moved; going to 2 keeps 18 GiB free >= 1.5 x 6 GiB -> floor 2.
    floor, why = memory_floor(used, ["c", "b", "a"], mem, 0.9)
    assert floor == 2 and "floor 2" in why
    # Order a, b, c: going to 1 keeps 4 GiB free >= 1.5 x 2 GiB moved -> floor 1.
    assert memory_floor(used, ["a", "b", "c"], mem, 0.9)[0] == 1


# -- the other guards --------------------------------------------------------------------------


def test_cpu_guard_refuses_scale_in(aws: Aws, ec: Any, adapter: ElastiCacheAdapter) -> None:
    create(ec)
    put_usage(aws, {"0001": 1, "0002": 1, "0003": 1}, {"0001": 20.0, "0002": 91.0, "0003": 30})
    r = adapter.read(cache_target(max_cpu_for_scale_in=80))
    assert r.scale_in_floor == 3 and "CPU 91.0% above" in r.scale_in_floor_reason
    assert adapter.read(cache_target(max_cpu_for_scale_in=95)).scale_in_floor == 1


def test_missing_memory_data_refuses_scale_in(
    aws: Aws, ec: Any, adapter: ElastiCacheAdapter
) -> None:
    create(ec)
    put(aws, "EngineCPUUtilization", LOW_CPU)
    put(aws, "BytesUsedForCache", {"0001": GIB, "0002": GIB})  # none for 0003
    put(aws, "BytesUsedForCache", {"0003": GIB}, age=3 * 3600)  # too old to count
    r = adapter.read(cache_target())
    assert r.scale_in_floor == 3 and "no memory data" in r.scale_in_floor_reason
    assert "0003" in r.scale_in_floor_reason


def test_missing_cpu_data_refuses_scale_in(aws: Aws, ec: Any, adapter: ElastiCacheAdapter) -> None:
    create(ec)
    put(aws, "BytesUsedForCache", {"0001": GIB, "0002": GIB, "0003": GIB})
    r = adapter.read(cache_target())
    assert r.scale_in_floor == 3 and "no CPU data" in r.scale_in_floor_reason


def test_unknown_node_type_refuses_scale_in(aws: Aws, ec: Any, adapter: ElastiCacheAdapter) -> None:
    assert node_memory_bytes("cache.r6gd.xlarge") is None
    create(ec, node_type="cache.r6gd.xlarge")
    put_usage(aws, {"0001": 0.1, "0002": 0.1, "0003": 0.1}, LOW_CPU)
    r = adapter.read(cache_target())
    assert r.scale_in_floor == 3
    assert "unknown node type cache.r6gd.xlarge" in r.scale_in_floor_reason


# -- what is refused ---------------------------------------------------------------------------


def test_cluster_mode_disabled_group_is_rejected(
    aws: Aws, ec: Any, adapter: ElastiCacheAdapter
) -> None:
    ec.create_replication_group(
        ReplicationGroupId=RG,
        ReplicationGroupDescription="single shard",
        Engine="redis",
        CacheNodeType="cache.r7g.large",
        NumCacheClusters=2,
    )
    t = cache_target()
    with pytest.raises(NotDrivable, match="not cluster mode enabled"):
        adapter.validate(t)
    with pytest.raises(NotDrivable, match="not cluster mode enabled"):
        adapter.read(t)
    with pytest.raises(NotDrivable, match="not cluster mode enabled"):
        adapter.set_capacity(t, 2, CapacityReading(1, 1))


def test_memcached_is_rejected(aws: Aws, ec: Any, adapter: ElastiCacheAdapter) -> None:
    ec.create_cache_cluster(
        CacheClusterId=RG, Engine="memcached", CacheNodeType="cache.t4g.micro", NumCacheNodes=2
    )
    with pytest.raises(NotDrivable, match="memcached"):
        adapter.read(cache_target())


def test_missing_group_is_not_found(aws: Aws, ec: Any, adapter: ElastiCacheAdapter) -> None:
    with pytest.raises(NotFound, match=RG):
        adapter.read(cache_target())
    with pytest.raises(NotFound):
        adapter.validate(cache_target())


def test_other_kinds_are_refused(aws: Aws, ec: Any, adapter: ElastiCacheAdapter) -> None:
    with pytest.raises(NotDrivable, match="ElastiCache adapter cannot drive a ecs target"):
        adapter.read(make_target())
    with pytest.raises(NotDrivable, match="ecs"):
        adapter.set_capacity(make_target(), 2, CapacityReading(1, 1))


# -- small pure parts --------------------------------------------------------------------------


def test_slot_count() -> None:
    assert slot_count("0-5461") == 5462
    assert slot_count("0-99,200-299,7") == 201
    assert slot_count(None) == 0


def test_removal_order_pure() -> None:
    shards = [Shard("0001", "0-999"), Shard("0002", "1000-6999"), Shard("0003", "7000-7999")]
    # fewest slots first; 0001 and 0003 tie at 1000 slots, and the newer (0003) goes first
    assert removal_order(shards) == ["0003", "0001", "0002"]


def _floor(peaks: dict[tuple[str, str], float], node_type: str = "cache.r7g.large") -> Any:
    shards = [Shard(f"000{i}") for i in (1, 2, 3)]
    return scale_in_floor(
        shards, peaks, node_type, max_memory_fill=0.75, max_cpu=80.0, window_minutes=30
    )


def test_scale_in_floor_pure() -> None:
    mem = {("BytesUsedForCache", f"000{i}"): 1.0 * GIB for i in (1, 2, 3)}
    cpu = {("EngineCPUUtilization", f"000{i}"): 10.0 * i for i in (1, 2, 3)}
    floor, why = _floor({**mem, **cpu})
    assert floor == 1 and why.startswith("CPU peak 30.0% <= 80%; memory: 3.00 GiB used")
    # each guard refuses on its own, and the highest floor wins
    hot = {**cpu, ("EngineCPUUtilization", "0002"): 91.0}
    assert _floor({**mem, **hot})[0] == 3
    floor, why = _floor({**mem, **cpu}, node_type="cache.r6gd.xlarge")
    assert floor == 3 and "unknown node type cache.r6gd.xlarge" in why
    floor, why = _floor(cpu)
    assert floor == 3 and "no memory data (BytesUsedForCache) for shard(s) 0001,0002,0003" in why
    assert "last 30 min" in why
    floor, why = _floor(mem)
    assert floor == 3 and why.startswith("no CPU data (EngineCPUUtilization)")
    one = scale_in_floor(
        [Shard("0001")], {}, "cache.r7g.large", max_memory_fill=0.75, max_cpu=80, window_minutes=30
    )
    assert one == (1, SINGLE_SHARD)


def test_the_guards_read_through_the_metrics_adapter_on_the_given_clock(
    aws: Aws, ec: Any, spy: Spy
) -> None:
    create(ec)
    put_usage(aws, {"0001": 1, "0002": 1, "0003": 1}, LOW_CPU)
    calls: list[dict[str, Any]] = []
    aws.cloudwatch.meta.events.register(
        "provide-client-params.cloudwatch.GetMetricData", lambda params, **_: calls.append(params)
    )
    metrics = MetricsAdapter(aws.cloudwatch)
    assert ElastiCacheAdapter(spy, metrics).read(cache_target()).scale_in_floor == 1
    # one call for the 12 nodes' memory and CPU (3 shards x 2 members x 2 metrics), on the
    # window that ends at the functions' clock
    [params] = calls
    assert len(params["MetricDataQueries"]) == 12
    assert params["EndTime"].timestamp() == NOW
    assert params["EndTime"].timestamp() - params["StartTime"].timestamp() == 1800
    # the adapter's own clock: three hours on, the datapoints are out of the window
    later = ElastiCacheAdapter(spy, metrics, now=lambda: NOW + 3 * 3600).read(cache_target())
    assert later.scale_in_floor == 3 and "no CPU data" in later.scale_in_floor_reason
    assert calls[-1]["EndTime"].timestamp() == NOW + 3 * 3600


def test_maxima_reads_500_metrics_per_call() -> None:
    class Pages:
        def __init__(self) -> None:
            self.calls: list[dict[str, Any]] = []

        def get_paginator(self, op: str) -> Any:
            assert op == "get_metric_data"
            return self

        def paginate(self, **kw: Any) -> list[dict[str, Any]]:
            self.calls.append(kw)
            ids = [q["Id"] for q in kw["MetricDataQueries"]]
            # two pages, the second repeating a metric with a higher value and a NaN
            return [
                {"MetricDataResults": [{"Id": i, "Values": [1.0]} for i in ids]},
                {"MetricDataResults": [{"Id": ids[0], "Values": [5.0, float("nan")]}]},
            ]

    cw = Pages()
    refs = [MetricRef("AWS/ElastiCache", "CPU", (("Node", str(i)),)) for i in range(501)]
    out = MetricsAdapter(cw).maxima(refs, period=300, start=0.0, end=1800.0)  # type: ignore[arg-type]
    assert [len(c["MetricDataQueries"]) for c in cw.calls] == [500, 1]
    assert cw.calls[1]["MetricDataQueries"][0]["Id"] == "q500"
    assert out[0] == 5.0 and out[1] == 1.0 and out[500] == 5.0 and len(out) == 501
    assert cw.calls[0]["MetricDataQueries"][0]["MetricStat"] == {
        "Metric": {
            "Namespace": "AWS/ElastiCache",
            "MetricName": "CPU",
            "Dimensions": [{"Name": "Node", "Value": "0"}],
        },
        "Period": 300,
        "Stat": "Maximum",
    }


def test_node_table_covers_current_generations() -> None:
    for family in ("m6g", "m7g", "m8g", "r6g", "r7g", "r8g"):
        for size in ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"):
            assert f"cache.{family}.{size}" in NODE_MEMORY_BYTES
    for size in ("micro", "small", "medium"):
        assert f"cache.t4g.{size}" in NODE_MEMORY_BYTES
    # maxmemory of an r7g.large in the user guide: 14037181030 bytes (13.07 GiB)
    assert node_memory_bytes("cache.r7g.large") == 14_037_181_030
    assert f"{14_037_181_030 / GIB:.2f}" == "13.07"
    assert node_memory_bytes("cache.r6gd.xlarge") is None  # data tiering: RAM is not capacity


def test_the_alarm_path_reads_no_metrics(
    aws: Aws, ec: Any, adapter: ElastiCacheAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    create(ec)
    put_usage(aws, {"0001": 1.0, "0002": 1.0, "0003": 1.0}, LOW_CPU)

    def no_metrics(**kw: Any) -> Any:
        raise AssertionError("GetMetricData on the scale-out-only path")

    monkeypatch.setattr(aws.cloudwatch, "get_metric_data", no_metrics)
    r = adapter.read(cache_target(), scale_in=False)
    # capacity read, and a floor that forbids any scale-in with this reading
    assert (r.desired, r.scale_in_floor) == (3, 3)
    assert "not evaluated" in r.scale_in_floor_reason
