"""ElastiCache (Valkey / Redis OSS, cluster mode enabled): capacity is the number of shards.

Shards are added and removed online with ``ModifyReplicationGroupShardConfiguration``. A
reshard migrates slots for minutes to hours, so this adapter is more careful than the ECS one:

* it only drives cluster-mode-enabled Valkey / Redis OSS replication groups: a cluster-mode
  disabled group has one shard by definition and Memcached has no shards (kind ``memcached``
  scales its nodes), so a target naming either is a configuration error (``NotDrivable``), not
  something to retry;
* one change at a time: while the group is not ``available`` the reading is ``busy`` (the
  control plane records "busy, will retry") and ``set_capacity`` never calls the API;
* a scale-out adds at most ``max_shards_per_action`` shards, and ``Actuation.desired`` says
  what was really asked so the next tick continues from there;
* a scale-in removes the shards that hold the fewest slots (least data to move), newest first
  on ties, and never goes below ``CapacityReading.scale_in_floor``: the shards the data needs
  and the CPU allow. Those rules are pure maths in ``domain.cache_shards``; this module reads
  the group, and the nodes' recent memory and CPU through the CloudWatch adapter
  (``MetricsAdapter.maxima``), and makes the calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from scaleahead import clock
from scaleahead.aws import clients
from scaleahead.aws.cloudwatch import MetricRef, MetricsAdapter
from scaleahead.aws.kind_adapter import KindAdapter
from scaleahead.domain.cache_shards import (
    CPU_METRIC,
    MEMORY_METRIC,
    SINGLE_SHARD,
    Shard,
    removal_order,
    scale_in_floor,
)
from scaleahead.domain.kinds import Kind
from scaleahead.service.ports import Actuation, CapacityReading, NotDrivable, NotFound

if TYPE_CHECKING:
    from scaleahead.domain.target import ElastiCacheTarget, Target

NAMESPACE = "AWS/ElastiCache"
# How far back "recent" reaches: the peak of the last half hour, so a scale-in is not decided
# on a lull of a few minutes.
WINDOW_SECONDS = 1800
PERIOD_SECONDS = 300
_ENGINES = frozenset({"redis", "valkey"})


def _shards(group: dict[str, Any]) -> list[Shard]:
    """Each shard with the nodes whose metrics stand for it.

    The primaries, when DescribeReplicationGroups names them (``CurrentRole``). For
    cluster-mode-enabled groups AWS does not report roles, so every member is watched and the
    shard takes the maximum: a replica holds the primary's data, so memory is the same within
    replication overhead, and the maximum never understates CPU; both err towards no scale-in.
    """
    out = []
    for ng in group.get("NodeGroups", []):
        members = ng.get("NodeGroupMembers", [])
        primaries = [m for m in members if m.get("CurrentRole") == "primary"]
        chosen = primaries or members
        out.append(
            Shard(
                ng["NodeGroupId"],
                ng.get("Slots"),
                tuple((m["CacheClusterId"], m.get("CacheNodeId", "0001")) for m in chosen),
            )
        )
    return out


def _check_group(group: dict[str, Any]) -> None:
    """Refuse what this adapter cannot reshard, naming the problem."""
    rg_id = group.get("ReplicationGroupId", "?")
    engine = str(group.get("Engine") or "redis").lower()
    if engine not in _ENGINES:
        raise NotDrivable(
            f"resource.replication_group: {rg_id} runs engine {engine}; only Valkey or "
            "Redis OSS (cluster mode enabled) replication groups can be scaled by shards"
        )
    mode = group.get("ClusterMode")
    if group.get("ClusterEnabled") is not True or mode not in (None, "enabled"):
        raise NotDrivable(
            f"resource.replication_group: {rg_id} is not cluster mode enabled (ClusterEnabled="
            f"{group.get('ClusterEnabled')}, ClusterMode={mode}); a cluster-mode-disabled group "
            "has a single shard, so it cannot be scaled by shards"
        )


def _busy(group: dict[str, Any]) -> str:
    status = str(group.get("Status"))
    pending = group.get("PendingModifiedValues") or {}
    migration = (pending.get("Resharding") or {}).get("SlotMigration")
    if migration is not None:
        pct = migration.get("ProgressPercentage")
        done = f", {pct:.0f}% of slots migrated" if isinstance(pct, int | float) else ""
        return f"{status} (resharding{done})"
    return f"{status} (a change is in flight)"


class ElastiCacheAdapter(KindAdapter["ElastiCacheTarget"]):
    """Reads and sets the shard count of a cluster-mode-enabled replication group.

    ``metrics`` reads the nodes' memory and CPU for the scale-in guards; ``now`` is the clock
    their window ends at (the functions' clock, which a simulation may set).
    """

    def __init__(
        self,
        elasticache: Any,
        metrics: MetricsAdapter,
        *,
        window_seconds: int = WINDOW_SECONDS,
        now: Callable[[], float] = clock.now,
    ) -> None:
        super().__init__(Kind.ELASTICACHE)
        self._ec = elasticache
        self._metrics = metrics
        self._window = window_seconds
        self._now = now

    # -- the group ---------------------------------------------------------------------------

    def _describe(self, target: ElastiCacheTarget) -> dict[str, Any]:
        rg_id = target.resource.replication_group
        try:
            out = self._ec.describe_replication_groups(ReplicationGroupId=rg_id)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ReplicationGroupNotFoundFault":
                raise
            self._refuse_memcached(rg_id)
            raise NotFound(f"ElastiCache replication group {rg_id}: not found") from None
        groups = out.get("ReplicationGroups", [])
        if not groups:
            raise NotFound(f"ElastiCache replication group {rg_id}: not found")
        group: dict[str, Any] = groups[0]
        _check_group(group)
        return group

    def _refuse_memcached(self, name: str) -> None:
        """A Memcached cluster is not a replication group; say so rather than "not found"."""
        try:
            out = self._ec.describe_cache_clusters(CacheClusterId=name)
        except ClientError:
            return  # not a cache cluster either (or not visible): plain "not found"
        for cc in out.get("CacheClusters", []):
            if str(cc.get("Engine", "")).lower() == "memcached":
                raise NotDrivable(
                    f"resource.replication_group: {name} is a Memcached cluster (engine "
                    "memcached); only Valkey or Redis OSS (cluster mode enabled) replication "
                    "groups can be scaled by shards: declare it as kind memcached "
                    "(resource.cache_cluster), scaled by nodes"
                )

    def validate(self, target: Target) -> None:
        """Raise ``NotDrivable`` (or ``NotFound``) unless the target can be driven."""
        self._describe(self.narrow(target))

    # -- reading -----------------------------------------------------------------------------

    def _read(self, t: ElastiCacheTarget, *, scale_in: bool) -> CapacityReading:
        group = self._describe(t)
        node_groups = group.get("NodeGroups", [])
        count = len(node_groups)
        ready = sum(1 for ng in node_groups if ng.get("Status", "available") == "available")
        if group.get("Status") != "available":
            busy = _busy(group)
            return CapacityReading(
                desired=count,
                ready=ready,
                busy=busy,
                scale_in_floor=count,
                scale_in_floor_reason=f"no scale-in while {busy}",
            )
        if not scale_in:
            # The alarm path only adds shards: no metric reads on its latency-critical way,
            # and a floor that forbids any scale-in should the reading be misused.
            return CapacityReading(
                desired=count,
                ready=ready,
                scale_in_floor=count,
                scale_in_floor_reason="scale-in guards not evaluated",
            )
        floor, reason = self._scale_in_floor(t, group)
        return CapacityReading(
            desired=count, ready=ready, scale_in_floor=floor, scale_in_floor_reason=reason
        )

    def _scale_in_floor(self, t: ElastiCacheTarget, group: dict[str, Any]) -> tuple[int, str]:
        shards = _shards(group)
        if len(shards) <= 1:
            return len(shards), SINGLE_SHARD  # nothing to remove: no metric read
        return scale_in_floor(
            shards,
            self._recent_peaks(shards),
            str(group.get("CacheNodeType")),
            max_memory_fill=t.max_memory_fill,
            max_cpu=t.max_cpu_for_scale_in,
            window_minutes=self._window // 60,
        )

    def _recent_peaks(self, shards: Sequence[Shard]) -> dict[tuple[str, str], float]:
        """(metric, shard id) -> the highest ``Maximum`` over the window across the shard's
        watched nodes; absent when no node of the shard reported."""
        owners: list[tuple[str, str]] = []
        refs: list[MetricRef] = []
        for metric in (MEMORY_METRIC, CPU_METRIC):
            for shard in shards:
                for cluster_id, node_id in shard.members:
                    owners.append((metric, shard.id))
                    dims = (("CacheClusterId", cluster_id), ("CacheNodeId", node_id))
                    refs.append(MetricRef(NAMESPACE, metric, dims))
        end = self._now()
        maxima = self._metrics.maxima(
            refs, period=PERIOD_SECONDS, start=end - self._window, end=end
        )
        peaks: dict[tuple[str, str], float] = {}
        for key, value in zip(owners, maxima, strict=True):
            if value is not None:
                peaks[key] = max(peaks[key], value) if key in peaks else value
        return peaks

    # -- acting ------------------------------------------------------------------------------

    def _set(self, t: ElastiCacheTarget, desired: int, reading: CapacityReading) -> Actuation:
        rg_id = t.resource.replication_group
        # Describe again: the reading may be a tick old, and a second change must never start
        # while one is in flight.
        group = self._describe(t)
        node_groups: list[dict[str, Any]] = group.get("NodeGroups", [])
        current = len(node_groups)
        if group.get("Status") != "available":
            return Actuation(False, current, f"not changed: {_busy(group)}")
        asked = desired
        if desired > current:
            asked = min(desired, current + t.max_shards_per_action)
        elif desired < current and reading.scale_in_floor is not None:
            asked = max(desired, reading.scale_in_floor)
        if asked == current:
            why = "" if asked == desired else f" (scale-in floor: {reading.scale_in_floor_reason})"
            return Actuation(False, current, f"shard count already {current}{why}")
        params: dict[str, Any] = {
            "ReplicationGroupId": rg_id,
            "NodeGroupCount": asked,
            "ApplyImmediately": True,
        }
        removed: list[str] = []
        if asked < current:
            shards = [Shard(ng["NodeGroupId"], ng.get("Slots")) for ng in node_groups]
            removed = removal_order(shards)[: current - asked]
            params["NodeGroupsToRemove"] = removed
        # InvalidReplicationGroupState is not caught here: the group was described available
        # just above, so it is most likely this very call, retried by botocore after its first
        # attempt went through. The caller reads the group again before calling it failed.
        self._ec.modify_replication_group_shard_configuration(**params)
        detail = f"ModifyReplicationGroupShardConfiguration NodeGroupCount {current} -> {asked}"
        if removed:
            detail += f", removing node groups {','.join(removed)}"
        if asked != desired:
            detail += f" (decision {desired}; "
            detail += (
                f"at most {t.max_shards_per_action} shards added per action)"
                if desired > current
                else f"scale-in floor {reading.scale_in_floor})"
            )
        return Actuation(True, asked, detail)


def resource_arn(target: Target) -> str:
    """The replication group's ARN, for the CLI's tagging (the operator's credentials)."""
    rg_id = cast("ElastiCacheTarget", target).resource.replication_group
    out = clients.client("elasticache").describe_replication_groups(ReplicationGroupId=rg_id)
    return str(out["ReplicationGroups"][0]["ARN"])


def make_adapter(metrics: MetricsAdapter) -> ElastiCacheAdapter:
    """The kind's factory (``KindSpec.adapter_module``): the scale-in guards read node memory
    and CPU through the one CloudWatch adapter."""
    return ElastiCacheAdapter(clients.client("elasticache"), metrics)
