"""The Memcached node adapter against moto (with the ModifyCacheCluster extension).

Each test names the rule it pins; the clusters are made through boto3 and the guards' metrics
written with PutMetricData, one datapoint per node, so every answer comes through botocore.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from scaleahead.aws.cloudwatch import MetricsAdapter
from scaleahead.aws.memcached import MemcachedAdapter, resource_arn
from scaleahead.domain.memcached_nodes import (
    MAX_CACHE_MEMORY_MB,
    MB,
    SINGLE_NODE,
    Node,
    item_memory_bytes,
    removal_order,
    scale_in_floor,
)
from scaleahead.domain.target import MemcachedTarget, TargetError, parse_target
from scaleahead.service.ports import CapacityReading, NotDrivable, NotFound
from scaleahead_testkit import moto_memcached
from tests.conftest import NOW, Aws, make_target, target_dict

CC = "sessions"
GB = 1_000_000_000


class Spy:
    """The elasticache client, recording each node change the adapter sends."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.changes: list[dict[str, Any]] = []

    def modify_cache_cluster(self, **kwargs: Any) -> Any:
        self.changes.append(kwargs)
        return self._client.modify_cache_cluster(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def spy(mc: Any) -> Spy:
    return Spy(mc)


@pytest.fixture
def adapter(aws: Aws, spy: Spy) -> MemcachedAdapter:
    return MemcachedAdapter(spy, MetricsAdapter(aws.cloudwatch))


def mc_target(**over: Any) -> MemcachedTarget:
    base: dict[str, Any] = {"min_capacity": 1, "max_capacity": 20}
    t = parse_target(
        target_dict(
            id="sessions", kind="memcached", resource={"cache_cluster": CC}, **(base | over)
        )
    )
    assert isinstance(t, MemcachedTarget)
    return t


def create(mc: Any, nodes: int = 3, node_type: str = "cache.r7g.large", **kw: Any) -> None:
    mc.create_cache_cluster(
        CacheClusterId=CC,
        Engine="memcached",
        CacheNodeType=node_type,
        NumCacheNodes=nodes,
        Tags=[{"Key": "scaleahead:managed", "Value": "true"}],
        **kw,
    )


def describe(mc: Any) -> dict[str, Any]:
    out = mc.describe_cache_clusters(CacheClusterId=CC, ShowCacheNodeInfo=True)
    return dict(out["CacheClusters"][0])


def node_ids(mc: Any) -> list[str]:
    return [n["CacheNodeId"] for n in describe(mc)["CacheNodes"]]


def put(aws: Aws, metric: str, per_node: dict[str, float], age: float = 120.0) -> None:
    aws.cloudwatch.put_metric_data(
        Namespace="AWS/ElastiCache",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [
                    {"Name": "CacheClusterId", "Value": CC},
                    {"Name": "CacheNodeId", "Value": node},
                ],
                "Timestamp": datetime.fromtimestamp(NOW - age, UTC),
                "Value": value,
            }
            for node, value in per_node.items()
        ],
    )


def put_usage(
    aws: Aws, gb: dict[str, float], evictions: dict[str, float] | None = None, at: float = NOW
) -> None:
    """Items (GB) and evictions per node, two minutes before ``at``."""
    age = NOW - at + 120.0
    put(aws, "BytesUsedForCacheItems", {n: v * GB for n, v in gb.items()}, age)
    put(aws, "Evictions", evictions if evictions is not None else dict.fromkeys(gb, 0.0), age)


# -- reading and resizing ----------------------------------------------------------------------


def test_read_counts_nodes_and_validates(aws: Aws, mc: Any, adapter: MemcachedAdapter) -> None:
    create(mc)
    put_usage(aws, {"0001": 1, "0002": 1, "0003": 1})
    r = adapter.read(mc_target())
    assert (r.desired, r.ready, r.busy) == (3, 3, None)
    adapter.validate(mc_target())
    assert resource_arn(mc_target()).endswith(f":cluster:{CC}")


def test_scale_out_asks_the_count_at_once_and_is_busy_until_done(
    aws: Aws, mc: Any, spy: Spy, adapter: MemcachedAdapter
) -> None:
    create(mc, 2)
    t = mc_target()
    act = adapter.set_capacity(t, 5, adapter.read(t))
    assert act.applied and act.desired == 5
    assert spy.changes == [{"CacheClusterId": CC, "NumCacheNodes": 5, "ApplyImmediately": True}]
    r = adapter.read(t)
    # AWS keeps NumCacheNodes at 2 until done; the reading says what is asked and what serves.
    assert r.busy is not None and "nodes 2 -> 5" in r.busy
    assert (r.desired, r.ready, r.scale_in_floor) == (5, 2, 5)
    # No second call while the change is in flight, whatever the reading says.
    for reading in (r, CapacityReading(2, 2)):
        again = adapter.set_capacity(t, 7, reading)
        assert not again.applied and "modifying" in again.detail
    assert len(spy.changes) == 1
    moto_memcached.complete_pending_changes()
    assert node_ids(mc) == ["0001", "0002", "0003", "0004", "0005"]
    r = adapter.read(t, scale_in=False)
    assert (r.desired, r.ready, r.busy) == (5, 5, None)


def test_no_call_when_already_there(aws: Aws, mc: Any, spy: Spy, adapter: MemcachedAdapter) -> None:
    create(mc)
    act = adapter.set_capacity(mc_target(), 3, CapacityReading(3, 3))
    assert not act.applied and spy.changes == []


def test_scale_in_removes_one_node_the_newest(
    aws: Aws, mc: Any, spy: Spy, adapter: MemcachedAdapter
) -> None:
    create(mc, 2)
    t = mc_target()
    adapter.set_capacity(t, 4, adapter.read(t))
    moto_memcached.complete_pending_changes()  # 0003 and 0004 are the newest
    put_usage(aws, {"0001": 1, "0002": 1, "0003": 0.5, "0004": 0.2})
    r = adapter.read(t)
    assert r.scale_in_floor == 1  # the data would fit one node...
    act = adapter.set_capacity(t, 1, r)
    # ...but one node goes per action: one rehash of a quarter of the keys, not three.
    assert act.applied and act.desired == 3
    assert spy.changes[-1] == {
        "CacheClusterId": CC,
        "NumCacheNodes": 3,
        "ApplyImmediately": True,
        "CacheNodeIdsToRemove": ["0004"],
    }
    assert "decision 1; 1 node removed per action" in act.detail
    moto_memcached.complete_pending_changes()
    assert node_ids(mc) == ["0001", "0002", "0003"]


def test_set_capacity_never_goes_below_the_floor(
    aws: Aws, mc: Any, spy: Spy, adapter: MemcachedAdapter
) -> None:
    create(mc)
    act = adapter.set_capacity(
        mc_target(), 2, CapacityReading(3, 3, scale_in_floor=3, scale_in_floor_reason="memory")
    )
    assert not act.applied and "scale-in floor: memory" in act.detail and spy.changes == []


# -- the guards ----------------------------------------------------------------------------------


def test_memory_guard_keeps_the_nodes_the_data_needs(
    aws: Aws, mc: Any, adapter: MemcachedAdapter
) -> None:
    create(mc)  # r7g.large: (13387 - 100) MB = 13.29 GB of items a node
    put_usage(aws, {"0001": 9, "0002": 9, "0003": 9})
    # 27 GB at 0.75 fill: 9.97 GB a node -> 3 needed: no scale-in.
    r = adapter.read(mc_target())
    assert r.scale_in_floor == 3 and "3 node(s) needed, no scale-in" in r.scale_in_floor_reason
    # At 0.95: 12.62 GB a node -> 3 still (27 / 12.62 = 2.1).
    assert adapter.read(mc_target(max_memory_fill=0.95)).scale_in_floor == 3
    put_usage(aws, {"0001": 5, "0002": 5, "0003": 5}, evictions={"0001": 0, "0002": 0, "0003": 0})
    # The guard reads the window's peak: the 9 GB datapoints still count.
    assert adapter.read(mc_target()).scale_in_floor == 3


def test_evictions_refuse_scale_in(aws: Aws, mc: Any, adapter: MemcachedAdapter) -> None:
    create(mc)
    put_usage(aws, {"0001": 1, "0002": 1, "0003": 1}, evictions={"0001": 0, "0002": 3, "0003": 0})
    r = adapter.read(mc_target())
    assert r.scale_in_floor == 3
    assert "at most 3 a minute on a node > max_evictions_per_minute 0" in r.scale_in_floor_reason
    assert adapter.read(mc_target(max_evictions_per_minute=5)).scale_in_floor == 1


@pytest.mark.parametrize(
    ("missing", "said"),
    [("BytesUsedForCacheItems", "no memory data"), ("Evictions", "no eviction data")],
)
def test_a_node_without_data_refuses_scale_in(
    aws: Aws, mc: Any, adapter: MemcachedAdapter, missing: str, said: str
) -> None:
    create(mc)
    for metric, value in (("BytesUsedForCacheItems", GB), ("Evictions", 0.0)):
        silent = ("0003",) if metric == missing else ()
        put(aws, metric, {n: value for n in ("0001", "0002", "0003") if n not in silent})
    r = adapter.read(mc_target())
    assert r.scale_in_floor == 3
    assert f"{said} ({missing}) for node(s) 0003" in (r.scale_in_floor_reason or "")


def test_data_older_than_the_window_refuses_scale_in(
    aws: Aws, mc: Any, spy: Spy, adapter: MemcachedAdapter
) -> None:
    create(mc)
    put_usage(aws, {"0001": 1, "0002": 1, "0003": 1})
    assert adapter.read(mc_target()).scale_in_floor == 1
    later = MemcachedAdapter(spy, MetricsAdapter(aws.cloudwatch), now=lambda: NOW + 3600)
    r = later.read(mc_target())  # the datapoints are an hour old: outside the half hour
    assert r.scale_in_floor == 3 and "no memory data" in (r.scale_in_floor_reason or "")


def test_unknown_node_type_refuses_scale_in(aws: Aws, mc: Any, adapter: MemcachedAdapter) -> None:
    create(mc, node_type="cache.c7gn.12xlarge")  # left out of the table on purpose
    put_usage(aws, {"0001": 1, "0002": 1, "0003": 1})
    r = adapter.read(mc_target())
    assert r.scale_in_floor == 3 and "unknown node type cache.c7gn.12xlarge" in (
        r.scale_in_floor_reason or ""
    )


def test_the_alarm_path_reads_no_metrics(aws: Aws, mc: Any) -> None:
    class NoMetrics(MetricsAdapter):
        def maxima(self, *a: Any, **k: Any) -> list[float | None]:
            raise AssertionError("the alarm path must not read metrics")

    create(mc)
    r = MemcachedAdapter(mc, NoMetrics(aws.cloudwatch)).read(mc_target(), scale_in=False)
    assert r.desired == 3 and r.scale_in_floor == 3


# -- what is refused ---------------------------------------------------------------------------


def test_a_redis_cluster_is_not_drivable(aws: Aws, mc: Any, adapter: MemcachedAdapter) -> None:
    mc.create_cache_cluster(CacheClusterId=CC, Engine="redis", CacheNodeType="cache.r7g.large")
    with pytest.raises(NotDrivable, match="runs engine redis; only Memcached clusters"):
        adapter.validate(mc_target())


def test_a_missing_cluster_is_not_found(aws: Aws, mc: Any, adapter: MemcachedAdapter) -> None:
    with pytest.raises(NotFound, match=f"cache cluster {CC}: not found"):
        adapter.read(mc_target())


def test_other_kinds_are_refused(aws: Aws, mc: Any, adapter: MemcachedAdapter) -> None:
    with pytest.raises(NotDrivable, match="cannot drive a ecs target"):
        adapter.read(make_target())


def test_the_target_stays_within_the_node_limit() -> None:
    with pytest.raises(TargetError, match="max_capacity"):
        mc_target(max_capacity=41)
    with pytest.raises(TargetError, match="min_capacity"):
        mc_target(min_capacity=0)
    with pytest.raises(TargetError, match="max_memory_fill"):
        mc_target(max_memory_fill=0.99)


# -- the pure rules ----------------------------------------------------------------------------


def test_removal_order_newest_first() -> None:
    nodes = [Node("0001", 100.0), Node("0002", 300.0), Node("0003", 200.0), Node("0004", 300.0)]
    assert removal_order(nodes) == ["0004", "0002", "0003", "0001"]


def test_scale_in_floor_pure() -> None:
    nodes = [Node(f"000{i}") for i in range(1, 5)]
    mem = item_memory_bytes("cache.m7g.large")
    assert mem == (6537 - 100) * MB
    peaks = {("BytesUsedForCacheItems", n.id): 0.3 * mem for n in nodes}
    peaks |= {("Evictions", n.id): 0.0 for n in nodes}
    # 1.2 node-memories of items at 0.75 fill -> 2 nodes
    floor, why = scale_in_floor(
        nodes,
        peaks,
        "cache.m7g.large",
        max_memory_fill=0.75,
        max_evictions_per_minute=0,
        window_minutes=30,
    )
    assert floor == 2 and why.endswith("-> floor 2")
    assert scale_in_floor(
        nodes[:1],
        peaks,
        "cache.m7g.large",
        max_memory_fill=0.75,
        max_evictions_per_minute=0,
        window_minutes=30,
    ) == (1, SINGLE_NODE)


def test_the_node_table_is_monotonic_within_each_family() -> None:
    sizes = ["micro", "small", "medium", "large", "xlarge"]
    sizes += [f"{n}xlarge" for n in (2, 4, 8, 12, 16, 24)]
    families: dict[str, list[tuple[int, int]]] = {}
    for node_type, mb in MAX_CACHE_MEMORY_MB.items():
        _, family, size = node_type.split(".")
        families.setdefault(family, []).append((sizes.index(size), mb))
    for family, rows in families.items():
        ordered = [mb for _, mb in sorted(rows)]
        assert ordered == sorted(ordered), family
