"""ElastiCache for Memcached: capacity is the cluster's number of cache nodes.

Nodes are added and removed with ``ModifyCacheCluster`` (``NumCacheNodes``, ``ApplyImmediately``;
a scale-in names the nodes it removes, ``CacheNodeIdsToRemove``). The count asked is absolute, so
a call botocore retries after its first attempt went through asks the same thing again.

* Only Memcached cache clusters: a Valkey / Redis OSS cache cluster has one node by definition
  and a replication group is scaled by shards (kind ``elasticache``), so a target naming either
  is a configuration error (``NotDrivable``), said at apply, not retried.
* One change at a time: while the cluster is not ``available`` or a node change is pending, the
  reading is ``busy`` and ``set_capacity`` never calls the API (a second call would override
  the pending one, as AWS documents).
* A scale-in removes one node per action, the newest first, and only as far as
  ``CapacityReading.scale_in_floor`` allows: the item memory and the evictions of the nodes,
  read through the CloudWatch adapter (``MetricsAdapter.maxima``). The rules are pure maths in
  ``domain.memcached_nodes``; this module reads the cluster and the metrics and makes the call.
* At most the service's nodes per cluster (``KINDS[Kind.MEMCACHED].max_capacity``), which the
  target's own bounds already keep; a quota refused by AWS is a refusal, said as AWS says it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from scaleahead import clock
from scaleahead.aws import clients
from scaleahead.aws.cloudwatch import MetricRef, MetricsAdapter
from scaleahead.aws.kind_adapter import KindAdapter
from scaleahead.domain.kinds import KINDS, Kind
from scaleahead.domain.memcached_nodes import (
    EVICTIONS_METRIC,
    MEMORY_METRIC,
    SINGLE_NODE,
    Node,
    removal_order,
    scale_in_floor,
)
from scaleahead.service.ports import Actuation, CapacityReading, NotDrivable, NotFound

if TYPE_CHECKING:
    from scaleahead.domain.target import MemcachedTarget, Target

NAMESPACE = "AWS/ElastiCache"
# The guards read the last half hour, so a scale-in is not decided on a lull of a few minutes.
WINDOW_SECONDS = 1800
PERIOD_SECONDS = 300
_PER_CHANGE = KINDS[Kind.MEMCACHED].max_units_removed_per_change or 1


def _nodes(cluster: dict[str, Any]) -> list[Node]:
    out = []
    for n in cluster.get("CacheNodes", []):
        created = n.get("CacheNodeCreateTime")
        out.append(
            Node(
                str(n["CacheNodeId"]),
                created.timestamp() if isinstance(created, datetime) else None,
                str(n.get("CacheNodeStatus", "available")),
            )
        )
    return out


def _pending(cluster: dict[str, Any]) -> str | None:
    """The node change in flight, as text; None when none is."""
    pending = cluster.get("PendingModifiedValues") or {}
    count = pending.get("NumCacheNodes")
    if count is None:
        return None
    removing = pending.get("CacheNodeIdsToRemove") or []
    text = f"nodes {cluster.get('NumCacheNodes')} -> {count}"
    return f"{text}, removing {','.join(removing)}" if removing else text


def _busy(cluster: dict[str, Any]) -> str | None:
    """Why the cluster takes no change now; None when it does."""
    status = str(cluster.get("CacheClusterStatus"))
    pending = _pending(cluster)
    if status == "available" and pending is None:
        return None
    return f"{status} ({pending})" if pending else f"{status} (a change is in flight)"


class MemcachedAdapter(KindAdapter["MemcachedTarget"]):
    """Reads and sets the node count of a Memcached cache cluster.

    ``metrics`` reads the nodes' item memory and evictions for the scale-in guards; ``now`` is
    the clock their window ends at (the functions' clock, which a simulation may set).
    """

    def __init__(
        self,
        elasticache: Any,
        metrics: MetricsAdapter,
        *,
        window_seconds: int = WINDOW_SECONDS,
        now: Callable[[], float] = clock.now,
    ) -> None:
        super().__init__(Kind.MEMCACHED)
        self._ec = elasticache
        self._metrics = metrics
        self._window = window_seconds
        self._now = now

    # -- the cluster -------------------------------------------------------------------------

    def _describe(self, t: MemcachedTarget) -> dict[str, Any]:
        cc_id = t.resource.cache_cluster
        try:
            out = self._ec.describe_cache_clusters(CacheClusterId=cc_id, ShowCacheNodeInfo=True)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "CacheClusterNotFound":
                raise
            raise NotFound(f"ElastiCache cache cluster {cc_id}: not found") from None
        clusters = out.get("CacheClusters", [])
        if not clusters:
            raise NotFound(f"ElastiCache cache cluster {cc_id}: not found")
        cluster: dict[str, Any] = clusters[0]
        engine = str(cluster.get("Engine", "")).lower()
        if engine != "memcached":
            group = cluster.get("ReplicationGroupId")
            where = f" (a member of replication group {group})" if group else ""
            raise NotDrivable(
                f"resource.cache_cluster: {cc_id} runs engine {engine}{where}; only Memcached "
                "clusters can be scaled by nodes (a Valkey or Redis OSS cluster-mode group is "
                "kind elasticache, scaled by shards)"
            )
        return cluster

    def validate(self, target: Target) -> None:
        """Raise ``NotDrivable`` (or ``NotFound``) unless the target can be driven."""
        self._describe(self.narrow(target))

    # -- reading -----------------------------------------------------------------------------

    def _read(self, t: MemcachedTarget, *, scale_in: bool) -> CapacityReading:
        cluster = self._describe(t)
        nodes = _nodes(cluster)
        count = int(cluster.get("NumCacheNodes", len(nodes)))
        ready = sum(1 for n in nodes if n.status == "available")
        busy = _busy(cluster)
        if busy is not None:
            # AWS keeps NumCacheNodes at the present count until a change completes; what is
            # asked shows in PendingModifiedValues, which the next tick continues from.
            pending = (cluster.get("PendingModifiedValues") or {}).get("NumCacheNodes")
            asked = int(pending) if pending is not None else count
            return CapacityReading(
                desired=asked,
                # nodes being removed stay listed available until the change completes
                ready=min(ready, asked),
                busy=busy,
                scale_in_floor=asked,
                scale_in_floor_reason=f"no scale-in while {busy}",
            )
        if not scale_in:
            return CapacityReading(
                desired=count,
                ready=ready,
                scale_in_floor=count,
                scale_in_floor_reason="scale-in guards not evaluated",
            )
        floor, reason = self._scale_in_floor(t, cluster, nodes)
        return CapacityReading(
            desired=count, ready=ready, scale_in_floor=floor, scale_in_floor_reason=reason
        )

    def _scale_in_floor(
        self, t: MemcachedTarget, cluster: dict[str, Any], nodes: Sequence[Node]
    ) -> tuple[int, str]:
        if len(nodes) <= 1:
            return len(nodes), SINGLE_NODE  # nothing to remove: no metric read
        return scale_in_floor(
            nodes,
            self._recent_peaks(t.resource.cache_cluster, nodes),
            str(cluster.get("CacheNodeType")),
            max_memory_fill=t.max_memory_fill,
            max_evictions_per_minute=t.max_evictions_per_minute,
            window_minutes=self._window // 60,
        )

    def _recent_peaks(self, cluster_id: str, nodes: Sequence[Node]) -> dict[tuple[str, str], float]:
        """(metric, node id) -> the node's highest one-minute value over the window; absent
        when the node did not report. One GetMetricData for 2 x nodes metrics."""
        keys = [(m, n.id) for m in (MEMORY_METRIC, EVICTIONS_METRIC) for n in nodes]
        refs = [
            MetricRef(NAMESPACE, m, (("CacheClusterId", cluster_id), ("CacheNodeId", node)))
            for m, node in keys
        ]
        end = self._now()
        maxima = self._metrics.maxima(
            refs, period=PERIOD_SECONDS, start=end - self._window, end=end
        )
        return {k: v for k, v in zip(keys, maxima, strict=True) if v is not None}

    # -- acting ------------------------------------------------------------------------------

    def _set(self, t: MemcachedTarget, desired: int, reading: CapacityReading) -> Actuation:
        cc_id = t.resource.cache_cluster
        # Described again: the reading may be a tick old, and a second call would override a
        # change in flight.
        cluster = self._describe(t)
        nodes = _nodes(cluster)
        current = int(cluster.get("NumCacheNodes", len(nodes)))
        busy = _busy(cluster)
        if busy is not None:
            return Actuation(False, current, f"not changed: {busy}")
        asked = desired
        if desired < current:
            floor = reading.scale_in_floor if reading.scale_in_floor is not None else current
            asked = max(desired, floor, current - _PER_CHANGE)
        if asked == current:
            why = "" if asked == desired else f" (scale-in floor: {reading.scale_in_floor_reason})"
            return Actuation(False, current, f"node count already {current}{why}")
        params: dict[str, Any] = {
            "CacheClusterId": cc_id,
            "NumCacheNodes": asked,
            "ApplyImmediately": True,
        }
        removed: list[str] = []
        if asked < current:
            removed = removal_order(nodes)[: current - asked]
            params["CacheNodeIdsToRemove"] = removed
        self._ec.modify_cache_cluster(**params)
        detail = f"ModifyCacheCluster NumCacheNodes {current} -> {asked}"
        if removed:
            detail += f", removing node {','.join(removed)} (newest first)"
        if asked != desired:
            detail += f" (decision {desired}; {_PER_CHANGE} node removed per action)"
        return Actuation(True, asked, detail)


def resource_arn(target: Target) -> str:
    """The cache cluster's ARN, for the CLI's tagging (the operator's credentials)."""
    cc_id = cast("MemcachedTarget", target).resource.cache_cluster
    out = clients.client("elasticache").describe_cache_clusters(CacheClusterId=cc_id)
    return str(out["CacheClusters"][0]["ARN"])


def make_adapter(metrics: MetricsAdapter) -> MemcachedAdapter:
    """The kind's factory (``KindSpec.adapter_module``): the scale-in guards read node memory
    and evictions through the one CloudWatch adapter."""
    return MemcachedAdapter(clients.client("elasticache"), metrics)
