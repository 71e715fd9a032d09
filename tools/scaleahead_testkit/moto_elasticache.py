"""ElastiCache cluster-mode-enabled shards for moto, installed by ``install()``.

The autoscaler changes the number of shards of a Valkey / Redis OSS (cluster mode enabled)
replication group with ``ModifyReplicationGroupShardConfiguration`` and watches the group with
``DescribeReplicationGroups``. moto 5.2.5 does not implement the former and models the shards
loosely; each deviation from plain moto below makes moto answer as AWS does.

1. ``ModifyReplicationGroupShardConfiguration`` (absent from moto). Validated as the API
   reference describes it: ``ApplyImmediately`` must be true (``InvalidParameterValue``); the
   group must exist (``ReplicationGroupNotFoundFault``), be cluster mode enabled
   (``InvalidParameterValue``: the operation exists only for cluster-mode-enabled groups; AWS
   does not document the code, this is the closest documented one) and be ``available``
   (``InvalidReplicationGroupState``); ``NodeGroupCount`` must be 1..500
   (``InvalidParameterValue`` / ``NodeGroupsPerReplicationGroupQuotaExceeded``). On scale in,
   ``NodeGroupsToRemove`` or ``NodeGroupsToRetain`` is required, not both
   (``InvalidParameterCombination``), each id must name an existing shard and the result must
   have exactly ``NodeGroupCount`` shards (``InvalidParameterValue``). Those lists and
   ``ReshardingConfiguration`` are accepted only in the direction AWS documents them for
   (scale in, scale out respectively). A ``NodeGroupCount`` equal to the current count is an
   online *rebalance*, which the API reference lists as a use of this operation, so it is
   accepted (slots here are always evenly spread, so only the status cycles).
   On success the group is ``modifying``, with ``PendingModifiedValues.Resharding.SlotMigration``
   as AWS reports an online reshard, and the response carries the group in that state.
2. Completion is explicit and deterministic, never wall-clock: ``complete_pending_changes()``
   finishes in-flight reshards; or ``set_describes_until_complete(n)`` makes each new change
   finish on its own after it has been answered ``modifying`` by ``n`` DescribeReplicationGroups
   calls (``ProgressPercentage`` counts up meanwhile). Only on completion do the node groups,
   slots and ``MemberClusters`` take their new shape and the status return to ``available``:
   new shards continue the numbering after the highest existing id and have as many nodes as
   the smallest existing shard (user guide, "Online resharding"); the 16384 slots are spread
   over the shards in id order, the first ``16384 % n`` shards taking one slot more, which is
   what AWS gives at creation (3 shards: 0-5461, 5462-10922, 10923-16383).
3. Slots at creation. moto hard-codes 5461-slot ranges, so any count but 3 is wrong (1 shard
   gets 0-5461, 5 shards run to slot 27305). Created cluster-mode groups get the even spread
   of point 2 unless ``NodeGroupConfiguration`` gave the slots.
4. Cluster mode from ``NumNodeGroups``. The API reference says cluster-mode-disabled groups
   have one node group; moto builds a *disabled* group with several slot-less node groups when
   ``NumNodeGroups > 1`` comes without ``ClusterMode``. Here that (or several
   ``NodeGroupConfiguration`` entries) makes the group cluster mode enabled, and an explicit
   ``ClusterMode`` other than ``enabled`` with more than one node group is refused
   (``InvalidParameterCombination``). Groups without it keep moto's shape:
   ``ClusterEnabled`` false and one node group ``0001``, so an adapter can reject them.
5. ``CacheNodeId`` of shard members. moto copies the shard id; in AWS each member cache cluster
   of a cluster-mode group has one node, ``0001``.

Requests still travel through moto's request dispatch (botocore serialises and validates them
and parses the responses from botocore's output shapes via moto's ``ActionResult``).
Not modelled: the Engine version floor (3.2.10) for online resharding, node quotas per customer,
the refusal of other modifications (``ModifyReplicationGroup``, ``DeleteReplicationGroup``)
while a reshard runs, and ``DescribeCacheClusters`` entries for shard members.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult
from moto.elasticache.exceptions import (
    ElastiCacheException,
    InvalidParameterCombinationException,
    InvalidParameterValueException,
    ReplicationGroupNotFound,
)
from moto.elasticache.models import ElastiCacheBackend, elasticache_backends
from moto.elasticache.responses import ElastiCacheResponse

SLOTS = 16384
MAX_NODE_GROUPS = 500
_OP = "modify_replication_group_shard_configuration"
_PENDING = "_scaleahead_reshard"

_original_create: Callable[..., Any] = ElastiCacheBackend.create_replication_group
_original_describe: Callable[..., Any] = ElastiCacheBackend.describe_replication_groups
_INSTALLED = False
_describes_until_complete: int | None = None


class InvalidReplicationGroupState(ElastiCacheException):
    """botocore: InvalidReplicationGroupStateFault, code ``InvalidReplicationGroupState``."""

    code = "InvalidReplicationGroupState"


class NodeGroupsPerReplicationGroupQuotaExceeded(ElastiCacheException):
    """botocore: NodeGroupsPerReplicationGroupQuotaExceededFault."""

    code = "NodeGroupsPerReplicationGroupQuotaExceeded"


def set_describes_until_complete(n: int | None) -> None:
    """Let reshards started from now on complete by themselves after ``n`` describes.

    A change is answered ``modifying`` by ``n`` DescribeReplicationGroups calls that include
    its group; the next one finds it complete (``n=0``: the first describe after the change).
    ``None`` (the default) leaves completion to ``complete_pending_changes()``.
    """
    global _describes_until_complete
    if n is not None and n < 0:
        raise ValueError("n must be >= 0 or None")
    _describes_until_complete = n


def slot_ranges(count: int) -> list[str]:
    """The 16384 slots spread evenly over ``count`` shards, as contiguous ``lo-hi`` ranges."""
    base, extra = divmod(SLOTS, count)
    ranges, lo = [], 0
    for i in range(count):
        hi = lo + base + (1 if i < extra else 0) - 1
        ranges.append(f"{lo}-{hi}")
        lo = hi + 1
    return ranges


def _member(rg_id: str, ng_id: str, n: int, az: str) -> dict[str, Any]:
    return {
        "cache_cluster_id": f"{rg_id}-{ng_id}-{n:0>3}",
        "cache_node_id": "0001",
        "preferred_availability_zone": az,
    }


def _new_node_group(rg_id: str, ng_id: str, nodes: int, azs: list[str]) -> dict[str, Any]:
    members = []
    for n in range(1, nodes + 1):
        default = "us-east-1a" if n == 1 else "us-east-1b"  # moto's own defaults
        members.append(_member(rg_id, ng_id, n, azs[n - 1] if n <= len(azs) else default))
    return {"node_group_id": ng_id, "status": "available", "node_group_members": members}


def _set_shape(rg: Any, node_groups: list[dict[str, Any]]) -> None:
    """Install ``node_groups`` with evenly spread slots, and the matching MemberClusters."""
    for ng, slots in zip(node_groups, slot_ranges(len(node_groups)), strict=True):
        ng["slots"] = slots
    rg.node_groups = node_groups
    rg.member_clusters = [
        m["cache_cluster_id"] for ng in node_groups for m in ng["node_group_members"]
    ]


def _create_replication_group(self: ElastiCacheBackend, **kwargs: Any) -> Any:
    configs = kwargs.get("node_group_configuration") or []
    many = (kwargs.get("num_node_groups") or 1) > 1 or len(configs) > 1
    mode = kwargs.get("cluster_mode")
    if many and mode is None:
        kwargs["cluster_mode"] = "enabled"
    elif many and mode != "enabled":
        raise InvalidParameterCombinationException(
            f"ClusterMode {mode} does not allow more than one node group."
        )
    rg = _original_create(self, **kwargs)
    if rg.cluster_enabled:
        for ng in rg.node_groups:
            for m in ng["node_group_members"]:
                m["cache_node_id"] = "0001"
        if not any(c.get("Slots") for c in configs):
            _set_shape(rg, rg.node_groups)
    setattr(rg, _PENDING, None)
    rg.pending_modified_values = None
    return rg


def _complete(rg: Any) -> None:
    pending = getattr(rg, _PENDING, None)
    if pending is None:
        return
    _set_shape(rg, pending["node_groups"])
    rg.status = "available"
    rg.pending_modified_values = None
    setattr(rg, _PENDING, None)


def _describe_replication_groups(
    self: ElastiCacheBackend, replication_group_id: str | None = None
) -> list[Any]:
    groups: list[Any] = _original_describe(self, replication_group_id=replication_group_id)
    for rg in groups:
        pending = getattr(rg, _PENDING, None)
        if pending is None or pending["remaining"] is None:
            continue
        if pending["remaining"] <= 0:
            _complete(rg)
            continue
        pending["remaining"] -= 1
        total = pending["total"]
        progress = 100.0 * (total - pending["remaining"]) / (total + 1)
        rg.pending_modified_values["resharding"]["slot_migration"]["progress_percentage"] = progress
    return groups


def _modify_shard_configuration(
    self: ElastiCacheBackend,
    replication_group_id: str,
    node_group_count: int,
    apply_immediately: bool,
    resharding_configuration: list[dict[str, Any]] | None = None,
    node_groups_to_remove: list[str] | None = None,
    node_groups_to_retain: list[str] | None = None,
) -> Any:
    if not apply_immediately:
        raise InvalidParameterValueException(
            "At present, the only permitted value for ApplyImmediately is true."
        )
    if replication_group_id not in self.replication_groups:
        raise ReplicationGroupNotFound(replication_group_id)
    rg: Any = self.replication_groups[replication_group_id]
    if not rg.cluster_enabled:
        raise InvalidParameterValueException(
            f"Replication group {replication_group_id} is not cluster mode enabled; "
            "shards can only be configured on Valkey or Redis OSS (cluster mode enabled)."
        )
    if rg.status != "available":
        raise InvalidReplicationGroupState(
            f"Replication group {replication_group_id} must be in available state, "
            f"current state is {rg.status}."
        )
    if node_group_count < 1:
        raise InvalidParameterValueException("NodeGroupCount must be at least 1.")
    if node_group_count > MAX_NODE_GROUPS:
        raise NodeGroupsPerReplicationGroupQuotaExceeded(
            f"NodeGroupCount {node_group_count} exceeds the maximum of {MAX_NODE_GROUPS} "
            "node groups per replication group."
        )
    current: list[dict[str, Any]] = rg.node_groups
    ids = [ng["node_group_id"] for ng in current]
    remove, retain = node_groups_to_remove or [], node_groups_to_retain or []
    if remove and retain:
        raise InvalidParameterCombinationException(
            "Only one of NodeGroupsToRemove and NodeGroupsToRetain may be specified."
        )
    if node_group_count >= len(ids) and (remove or retain):
        raise InvalidParameterCombinationException(
            "NodeGroupsToRemove and NodeGroupsToRetain may only be specified when "
            "NodeGroupCount is less than the current number of node groups."
        )
    if node_group_count <= len(ids) and resharding_configuration:
        raise InvalidParameterCombinationException(
            "ReshardingConfiguration may only be specified when NodeGroupCount is greater "
            "than the current number of node groups."
        )
    for ng_id in [*remove, *retain]:
        if not re.fullmatch(r"\d{1,4}", ng_id) or ng_id not in ids:
            raise InvalidParameterValueException(
                f"Node group {ng_id} does not exist in replication group {replication_group_id}."
            )
    if node_group_count < len(ids):
        if not (remove or retain):
            raise InvalidParameterValueException(
                "Either NodeGroupsToRemove or NodeGroupsToRetain is required when "
                "NodeGroupCount is less than the current number of node groups."
            )
        kept = (
            [i for i in ids if i not in set(remove)]
            if remove
            else [i for i in ids if i in set(retain)]
        )
        if len(kept) != node_group_count:
            raise InvalidParameterValueException(
                f"The node groups to remove or retain leave {len(kept)} node groups, "
                f"but NodeGroupCount is {node_group_count}."
            )
        target = [ng for ng in current if ng["node_group_id"] in kept]
    else:
        target = list(current)
        azs = {
            c.get("NodeGroupId"): c.get("PreferredAvailabilityZones") or []
            for c in resharding_configuration or []
        }
        nodes = min(len(ng["node_group_members"]) for ng in current)
        next_id = max(int(i) for i in ids) + 1
        for n in range(next_id, next_id + node_group_count - len(ids)):
            ng_id = f"{n:0>4}"
            target.append(
                _new_node_group(rg.replication_group_id, ng_id, nodes, azs.get(ng_id, []))
            )
    # Copies, so the group keeps describing its present shape until the change completes.
    new_groups = [{**ng, "node_group_members": list(ng["node_group_members"])} for ng in target]
    remaining = _describes_until_complete
    setattr(
        rg, _PENDING, {"node_groups": new_groups, "remaining": remaining, "total": remaining or 0}
    )
    rg.status = "modifying"
    rg.pending_modified_values = {"resharding": {"slot_migration": {"progress_percentage": 0.0}}}
    return rg


def _modify_shard_configuration_response(self: ElastiCacheResponse) -> ActionResult:
    rg = self.elasticache_backend.modify_replication_group_shard_configuration(  # type: ignore[attr-defined]
        replication_group_id=self._get_param("ReplicationGroupId"),
        node_group_count=self._get_int_param("NodeGroupCount"),
        apply_immediately=self._get_bool_param("ApplyImmediately"),
        resharding_configuration=self._get_param("ReshardingConfiguration"),
        node_groups_to_remove=self._get_param("NodeGroupsToRemove"),
        node_groups_to_retain=self._get_param("NodeGroupsToRetain"),
    )
    return ActionResult({"ReplicationGroup": rg})


def complete_pending_changes(
    account_id: str = "123456789012",
    region: str = "us-east-1",
    replication_group_id: str | None = None,
) -> list[str]:
    """Finish in-flight reshards (all, or one group's); return the ids of the groups finished.

    This stands in for the minutes AWS takes to migrate slots, so tests and the demo decide
    exactly when a change lands.
    """
    backend = elasticache_backends[account_id][region]
    done = []
    for rg_id, rg in backend.replication_groups.items():
        if replication_group_id not in (None, rg_id) or getattr(rg, _PENDING, None) is None:
            continue
        _complete(rg)
        done.append(rg_id)
    return done


def pending_shard_count(
    replication_group_id: str, account_id: str = "123456789012", region: str = "us-east-1"
) -> int | None:
    """The shard count an in-flight reshard of the group will leave, or None when none runs."""
    rg = elasticache_backends[account_id][region].replication_groups[replication_group_id]
    pending = getattr(rg, _PENDING, None)
    return None if pending is None else len(pending["node_groups"])


def install() -> None:
    """Patch moto (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    ElastiCacheBackend.create_replication_group = _create_replication_group  # type: ignore[method-assign,assignment]
    ElastiCacheBackend.describe_replication_groups = _describe_replication_groups  # type: ignore[method-assign]
    setattr(ElastiCacheBackend, _OP, _modify_shard_configuration)
    setattr(ElastiCacheResponse, _OP, _modify_shard_configuration_response)
    _INSTALLED = True


def uninstall() -> None:
    """Restore plain moto (idempotent); the knob of ``set_describes_until_complete`` resets."""
    global _INSTALLED
    ElastiCacheBackend.create_replication_group = _original_create  # type: ignore[method-assign]
    ElastiCacheBackend.describe_replication_groups = _original_describe  # type: ignore[method-assign]
    for cls in (ElastiCacheBackend, ElastiCacheResponse):
        if _OP in vars(cls):
            delattr(cls, _OP)
    set_describes_until_complete(None)
    _INSTALLED = False
