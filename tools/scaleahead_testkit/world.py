"""The demo's world: what AWS does by itself between the control plane's calls.

moto answers API calls but nothing in it moves with time, so a capacity change asked for is
either there at once or never. Here each tier gets its real warm-up on the simulated clock:
ECS tasks asked for serve one warm-up later; an Aurora reader stays ``creating`` for its
warm-up and then turns ``available``; a reshard stays ``modifying`` for its warm-up and then
completes. The world reads and changes moto's backend objects directly: it *is* the world, not
a client of it, so it costs no API call and cannot be mistaken for product code. It also
publishes what AWS publishes for ElastiCache nodes (``BytesUsedForCache`` and
``EngineCPUUtilization``), which the shard adapter's scale-in guards read back through
GetMetricData.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from scaleahead_testkit.warmup import Fleet, Rules

ACCOUNT = "123456789012"
NAMESPACE = "AWS/ElastiCache"
REGION = "us-east-1"


def publish(
    namespace: str,
    name: str,
    dimensions: list[dict[str, str]],
    points: Iterable[tuple[float, float]],
) -> None:
    """Datapoints as an AWS service publishes its own metrics (the load balancer's request
    count, ElastiCache's memory and CPU): straight into CloudWatch's store, as no
    ``PutMetricData`` of the product's would. Reads still go through GetMetricData."""
    from moto.cloudwatch.models import MetricDatum, cloudwatch_backends

    data = cloudwatch_backends[ACCOUNT][REGION].metric_data
    for t, v in points:
        # Naive UTC, as moto's own PutMetricData stores a Timestamp.
        stamp = datetime.fromtimestamp(t, UTC).replace(tzinfo=None)
        data.append(MetricDatum(namespace, name, v, dimensions, stamp))


class ServiceModel:
    """Tasks asked for become ready one warm-up later; tasks removed go at once, what is still
    warming up first: the backtest's law (``warmup.Fleet``) with a step of one second."""

    def __init__(self, warmup: int, ready: int) -> None:
        # Asked at second t, a unit serves from t + 1 + lag: from t + warmup.
        self.fleet = Fleet(ready, warmup_steps=max(warmup, 1) - 1, rules=Rules())

    def step(self, now: float, desired: int) -> int:
        """Ask for ``desired`` at ``now``; the tasks ready then."""
        t = math.floor(now)
        self.fleet.set(t, desired)
        return self.fleet.running(t)


class EcsWorld:
    """One ECS service: its desired count from moto, its ready tasks from ``ServiceModel``."""

    def __init__(self, cluster: str, service: str, warmup: int, ready: int) -> None:
        self.key = f"{cluster}:{service}"
        self.model = ServiceModel(warmup, ready)

    def desired(self) -> int:
        from moto.ecs.models import ecs_backends

        return int(ecs_backends[ACCOUNT][REGION].services[self.key].desired_count)

    def step(self, now: float) -> tuple[int, int]:
        """(desired, ready) at ``now``; moto's runningCount follows ``ready``, so the functions
        read tasks still starting as not running (and time their warm-up by it)."""
        from moto.ecs.models import ecs_backends

        desired = self.desired()
        ready = self.model.step(now, desired)
        svc = ecs_backends[ACCOUNT][REGION].services[self.key]
        svc.running_count = ready
        svc.pending_count = max(desired - ready, 0)
        return desired, ready


class AuroraWorld:
    """The readers of one DB cluster: ``creating`` for ``warmup`` seconds, then ``available``."""

    def __init__(self, cluster: str, warmup: int) -> None:
        self.cluster = cluster
        self.warmup = warmup
        self.seen: dict[str, float] = {}

    def _readers(self) -> list[Any]:
        from moto.rds.models import rds_backends

        dbs = rds_backends[ACCOUNT][REGION].databases.values()
        return [
            db
            for db in dbs
            if getattr(db, "db_cluster_identifier", None) == self.cluster
            and not getattr(db, "is_cluster_writer", False)
        ]

    def step(self, now: float) -> tuple[int, int]:
        """Finish the creations whose warm-up has passed; (readers asked for, readers ready)."""
        readers = self._readers()
        for db in readers:
            if db.status == "creating":
                since = self.seen.setdefault(db.db_instance_identifier, now)
                if now - since >= self.warmup:
                    db.status = "available"
        live = {db.db_instance_identifier for db in readers}
        self.seen = {k: v for k, v in self.seen.items() if k in live}
        ready = sum(1 for db in readers if db.status == "available")
        return len(readers), ready


class ElastiCacheWorld:
    """One cluster-mode replication group: a reshard completes ``warmup`` seconds after it
    starts; each node reports memory and engine CPU as ElastiCache does."""

    def __init__(
        self, group: str, warmup: int, per_unit: float, dataset_bytes: float, base_cpu: float = 8.0
    ) -> None:
        self.group = group
        self.warmup = warmup
        self.per_unit = per_unit
        self.dataset_bytes = dataset_bytes
        self.base_cpu = base_cpu
        self.started: float | None = None
        self.target_count: int | None = None

    def _group(self) -> Any:
        from moto.elasticache.models import elasticache_backends

        return elasticache_backends[ACCOUNT][REGION].replication_groups[self.group]

    def step(self, now: float) -> tuple[int, int]:
        """Complete a reshard whose time has come; (shards asked for, shards serving)."""
        from scaleahead_testkit import moto_elasticache

        rg = self._group()
        if rg.status == "modifying":
            if self.started is None:
                self.started = now
                self.target_count = moto_elasticache.pending_shard_count(
                    self.group, ACCOUNT, REGION
                )
            if now - self.started >= self.warmup:
                moto_elasticache.complete_pending_changes(ACCOUNT, REGION, self.group)
                self.started = None
                self.target_count = None
        serving = len(rg.node_groups)
        return (self.target_count or serving), serving

    def publish(self, now: float, load: float) -> None:
        """One datapoint per node for memory and engine CPU, for the minute just ended."""
        rg = self._group()
        shards = max(len(rg.node_groups), 1)
        cpu = min(100.0, self.base_cpu + 60.0 * load / (shards * self.per_unit))
        used = self.dataset_bytes / shards
        for ng in rg.node_groups:
            for member in ng["node_group_members"]:
                dims = [
                    {"Name": "CacheClusterId", "Value": member["cache_cluster_id"]},
                    {"Name": "CacheNodeId", "Value": member.get("cache_node_id", "0001")},
                ]
                publish(NAMESPACE, "BytesUsedForCache", dims, [(now - 60, used)])
                publish(NAMESPACE, "EngineCPUUtilization", dims, [(now - 60, cpu)])
