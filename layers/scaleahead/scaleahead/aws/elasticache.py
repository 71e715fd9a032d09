"""ElastiCache (Valkey / Redis OSS, cluster mode enabled): capacity is the number of shards.

Shards are added and removed online with ``ModifyReplicationGroupShardConfiguration``. A
reshard migrates slots for minutes to hours, so this adapter is more careful than the ECS one:

* it only drives cluster-mode-enabled Valkey / Redis OSS replication groups: a cluster-mode
  disabled group has one shard by definition and Memcached has no shards, so a target naming
  either is a configuration error (``NotDrivable``), not something to retry;
* one change at a time: while the group is not ``available`` the reading is ``busy`` (the
  control plane records "busy, will retry") and ``set_capacity`` never calls the API;
* a scale-out adds at most ``max_shards_per_action`` shards, and ``Actuation.desired`` says
  what was really asked so the next tick continues from there;
* a scale-in removes the shards that hold the fewest slots (least data to move), newest first
  on ties, and never goes below ``CapacityReading.scale_in_floor``: the shards the data needs
  at ``max_memory_fill``, AWS's online scale-in rule (free memory on the shards kept >= 1.5 x
  the memory used on the shards removed), and no scale-in at all while the engine CPU is above
  ``max_cpu_for_scale_in`` (resharding is CPU-heavy) or when a metric or the node type's
  memory is unknown (refusing is safe; guessing could evict data).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from scaleahead import clock
from scaleahead.domain.cache_nodes import GIB, node_memory_bytes
from scaleahead.domain.target import ElastiCacheTarget, Target
from scaleahead.service.ports import Actuation, CapacityReading, NotDrivable, NotFound

NAMESPACE = "AWS/ElastiCache"
MEMORY_METRIC = "BytesUsedForCache"
CPU_METRIC = "EngineCPUUtilization"
# How far back "recent" reaches: the peak of the last half hour, so a scale-in is not decided
# on a lull of a few minutes.
WINDOW_SECONDS = 1800
PERIOD_SECONDS = 300
# AWS: "ensure that free memory available on the shards to be retained is at least 1.5 times
# the memory used on the shards you plan to remove" (ElastiCache best practices, "Online
# cluster resizing").
SCALE_IN_FREE_MEMORY_RATIO = 1.5
_ENGINES = frozenset({"redis", "valkey"})
_MAX_QUERIES = 500  # GetMetricData's limit of MetricDataQueries per call


def _target(target: Target) -> ElastiCacheTarget:
    if not isinstance(target, ElastiCacheTarget):
        raise TypeError(f"the ElastiCache adapter cannot drive a {target.kind} target")
    return target


def slot_count(slots: str | None) -> int:
    """Number of hash slots in a ``NodeGroup.Slots`` string such as ``"0-5461"`` or
    ``"0-99,200-299,7"``; 0 when absent."""
    total = 0
    for part in (slots or "").split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        total += int(hi or lo) - int(lo) + 1
    return total


def removal_order(node_groups: Sequence[dict[str, Any]]) -> list[str]:
    """Node group ids in the order they are removed on scale-in: fewest slots first (least
    data to migrate), then the newest (highest id), so long-lived shards stay put."""
    ranked = sorted(
        node_groups,
        key=lambda ng: (slot_count(ng.get("Slots")), -int(ng["NodeGroupId"])),
    )
    return [ng["NodeGroupId"] for ng in ranked]


def _gib(n: float) -> str:
    return f"{n / GIB:.2f} GiB"


def memory_floor(
    used: dict[str, float], order: Sequence[str], node_memory: int, max_fill: float
) -> tuple[int, str]:
    """Lowest shard count the data allows, with the numbers behind it.

    ``used`` is the recent peak of bytes used per shard, ``order`` the shards in removal order.
    A count ``k`` qualifies when the data fits ``k`` shards filled to ``max_fill`` and, for an
    online scale-in to ``k`` (removing the first ``len(order) - k`` of ``order``), the free
    memory on the shards kept is at least 1.5 x the memory used on the shards removed. Both
    tests get easier as ``k`` grows, so the first qualifying ``k`` is the floor; when none
    below the present count qualifies the floor is the present count (no scale-in).
    """
    current = len(order)
    total = sum(used[s] for s in order)
    usable = node_memory * max_fill
    needed = max(1, math.ceil(total / usable))
    head = (
        f"memory: {_gib(total)} used; {_gib(usable)} usable per shard "
        f"({_gib(node_memory)} node x {max_fill:g} max fill) -> {needed} shard(s) needed"
    )
    if needed >= current:
        return current, f"{head}, {current} present: no scale-in"
    last = ""
    for k in range(needed, current):
        removed, kept = order[: current - k], order[current - k :]
        free = sum(node_memory - used[s] for s in kept)
        moved = sum(used[s] for s in removed)
        rule = (
            f"scale-in to {k} (removing {','.join(removed)}) keeps {_gib(free)} free "
            f"{'>=' if free >= SCALE_IN_FREE_MEMORY_RATIO * moved else '<'} "
            f"{SCALE_IN_FREE_MEMORY_RATIO:g} x {_gib(moved)} moved"
        )
        if free >= SCALE_IN_FREE_MEMORY_RATIO * moved:
            return k, f"{head}; {rule} -> floor {k}"
        last = rule
    return current, f"{head}; {last} (online scale-in rule) -> floor {current}"


@dataclass(frozen=True)
class _Shard:
    id: str
    members: tuple[tuple[str, str], ...]  # (CacheClusterId, CacheNodeId) of the nodes watched


def _shards(group: dict[str, Any]) -> list[_Shard]:
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
            _Shard(
                ng["NodeGroupId"],
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


class ElastiCacheAdapter:
    """Reads and sets the shard count of a cluster-mode-enabled replication group."""

    def __init__(
        self,
        elasticache: Any,
        cloudwatch: Any,
        *,
        window_seconds: int = WINDOW_SECONDS,
        now: Callable[[], float] | None = None,
    ) -> None:
        self._ec = elasticache
        self._cw = cloudwatch
        self._window = window_seconds
        self._now = now or clock.now

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
                    "groups can be scaled by shards"
                )

    def validate(self, target: Target) -> None:
        """Raise ``NotDrivable`` (or ``NotFound``) unless the target can be driven."""
        self._describe(_target(target))

    # -- reading -----------------------------------------------------------------------------

    def read(self, target: Target, *, scale_in: bool = True) -> CapacityReading:
        t = _target(target)
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
        current = len(shards)
        if current <= 1:
            return current, "a single shard: nothing to remove"
        minutes = self._window // 60
        floors: list[int] = []
        reasons: list[str] = []
        peaks = self._recent_peaks(shards)

        cpu = {s.id: peaks.get((CPU_METRIC, s.id)) for s in shards}
        no_cpu = sorted(s for s, v in cpu.items() if v is None)
        if no_cpu:
            floors.append(current)
            reasons.append(
                f"no CPU data ({CPU_METRIC}) for shard(s) {','.join(no_cpu)} in the last "
                f"{minutes} min: no scale-in"
            )
        else:
            peak = max(v for v in cpu.values() if v is not None)
            if peak > t.max_cpu_for_scale_in:
                floors.append(current)
                reasons.append(
                    f"CPU {peak:.1f}% above max_cpu_for_scale_in {t.max_cpu_for_scale_in:g}% "
                    "(resharding needs CPU): no scale-in"
                )
            else:
                reasons.append(f"CPU peak {peak:.1f}% <= {t.max_cpu_for_scale_in:g}%")

        node_type = str(group.get("CacheNodeType"))
        node_memory = node_memory_bytes(node_type)
        used = {s.id: peaks.get((MEMORY_METRIC, s.id)) for s in shards}
        no_mem = sorted(s for s, v in used.items() if v is None)
        if node_memory is None:
            floors.append(current)
            reasons.append(
                f"unknown node type {node_type}: memory per shard not known, no scale-in"
            )
        elif no_mem:
            floors.append(current)
            reasons.append(
                f"no memory data ({MEMORY_METRIC}) for shard(s) {','.join(no_mem)} in the "
                f"last {minutes} min: no scale-in"
            )
        else:
            known = {s: v for s, v in used.items() if v is not None}
            floor, why = memory_floor(
                known, removal_order(group["NodeGroups"]), node_memory, t.max_memory_fill
            )
            floors.append(floor)
            reasons.append(why)
        return max(floors), "; ".join(reasons)

    def _recent_peaks(self, shards: Iterable[_Shard]) -> dict[tuple[str, str], float]:
        """(metric, shard id) -> the highest ``Maximum`` over the window across the shard's
        watched nodes; absent when no node of the shard reported."""
        queries: list[dict[str, Any]] = []
        owner: dict[str, tuple[str, str]] = {}
        for metric in (MEMORY_METRIC, CPU_METRIC):
            for shard in shards:
                for cluster_id, node_id in shard.members:
                    qid = f"q{len(queries)}"
                    owner[qid] = (metric, shard.id)
                    queries.append(
                        {
                            "Id": qid,
                            "MetricStat": {
                                "Metric": {
                                    "Namespace": NAMESPACE,
                                    "MetricName": metric,
                                    "Dimensions": [
                                        {"Name": "CacheClusterId", "Value": cluster_id},
                                        {"Name": "CacheNodeId", "Value": node_id},
                                    ],
                                },
                                "Period": PERIOD_SECONDS,
                                "Stat": "Maximum",
                            },
                            "ReturnData": True,
                        }
                    )
        end = self._now()
        peaks: dict[tuple[str, str], float] = {}
        for i in range(0, len(queries), _MAX_QUERIES):
            kwargs: dict[str, Any] = {
                "MetricDataQueries": queries[i : i + _MAX_QUERIES],
                "StartTime": datetime.fromtimestamp(end - self._window, UTC),
                "EndTime": datetime.fromtimestamp(end, UTC),
            }
            while True:
                page = self._cw.get_metric_data(**kwargs)
                for result in page.get("MetricDataResults", []):
                    key = owner.get(result.get("Id", ""))
                    values = [v for v in result.get("Values", []) if math.isfinite(v)]
                    if key is None or not values:
                        continue
                    peaks[key] = max(peaks.get(key, -math.inf), *values)
                token = page.get("NextToken")
                if not token:
                    break
                kwargs["NextToken"] = token
        return peaks

    # -- acting ------------------------------------------------------------------------------

    def set_capacity(self, target: Target, desired: int, reading: CapacityReading) -> Actuation:
        t = _target(target)
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
            removed = removal_order(node_groups)[: current - asked]
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
