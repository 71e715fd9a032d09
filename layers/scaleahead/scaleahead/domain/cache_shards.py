"""The shard rules of a cluster-mode ElastiCache group, as pure maths over what was read.

Which shards a scale-in removes, and how far the data lets the count fall, decide whether data
is evicted: they are planning rules, so they live beside the others (``cache_nodes`` holds each
node type's memory) and are tested without moto. The adapter (``aws.elasticache``) reads the
group and the metrics and applies these; it keeps only the AWS calls.

* A scale-in removes the shards that hold the fewest slots (least data to move), newest first
  on ties (``removal_order``).
* It never goes below ``scale_in_floor``: the shards the data needs at ``max_memory_fill``,
  AWS's online scale-in rule (free memory on the shards kept >= 1.5 x the memory used on the
  shards removed), and no scale-in at all while the engine CPU is above ``max_cpu_for_scale_in``
  (resharding is CPU-heavy) or when a metric or the node type's memory is unknown (refusing is
  safe; guessing could evict data).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scaleahead.domain.cache_nodes import GIB, node_memory_bytes

# The node metrics the guards read (namespace AWS/ElastiCache), each as its recent Maximum.
MEMORY_METRIC = "BytesUsedForCache"
CPU_METRIC = "EngineCPUUtilization"
# AWS: "ensure that free memory available on the shards to be retained is at least 1.5 times
# the memory used on the shards you plan to remove" (ElastiCache best practices, "Online
# cluster resizing").
SCALE_IN_FREE_MEMORY_RATIO = 1.5
SINGLE_SHARD = "a single shard: nothing to remove"


@dataclass(frozen=True)
class Shard:
    """One node group: its id, its hash slots and the nodes whose metrics stand for it."""

    id: str
    slots: str | None = None  # ``NodeGroup.Slots``, such as "0-5461"
    # (CacheClusterId, CacheNodeId) of the nodes watched, for the guards' metrics
    members: tuple[tuple[str, str], ...] = ()


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


def removal_order(shards: Sequence[Shard]) -> list[str]:
    """Shard ids in the order they are removed on scale-in: fewest slots first (least data to
    migrate), then the newest (highest id), so long-lived shards stay put."""
    ranked = sorted(shards, key=lambda s: (slot_count(s.slots), -int(s.id)))
    return [s.id for s in ranked]


def _gib(n: float) -> str:
    return f"{n / GIB:.2f} GiB"


def memory_floor(
    used: Mapping[str, float], order: Sequence[str], node_memory: int, max_fill: float
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


def scale_in_floor(
    shards: Sequence[Shard],
    peaks: Mapping[tuple[str, str], float],
    node_type: str,
    *,
    max_memory_fill: float,
    max_cpu: float,
    window_minutes: int,
) -> tuple[int, str]:
    """Lowest shard count a scale-in may reach, and why: the highest floor of the CPU guard and
    the memory guard. ``peaks`` maps (metric, shard id) to the shard's highest ``Maximum`` over
    the last ``window_minutes``, absent when no node of the shard reported."""
    current = len(shards)
    if current <= 1:
        return current, SINGLE_SHARD
    floors: list[int] = []
    reasons: list[str] = []

    cpu = {s.id: peaks.get((CPU_METRIC, s.id)) for s in shards}
    no_cpu = sorted(s for s, v in cpu.items() if v is None)
    if no_cpu:
        floors.append(current)
        reasons.append(
            f"no CPU data ({CPU_METRIC}) for shard(s) {','.join(no_cpu)} in the last "
            f"{window_minutes} min: no scale-in"
        )
    else:
        peak = max(v for v in cpu.values() if v is not None)
        if peak > max_cpu:
            floors.append(current)
            reasons.append(
                f"CPU {peak:.1f}% above max_cpu_for_scale_in {max_cpu:g}% "
                "(resharding needs CPU): no scale-in"
            )
        else:
            reasons.append(f"CPU peak {peak:.1f}% <= {max_cpu:g}%")

    node_memory = node_memory_bytes(node_type)
    used = {s.id: peaks.get((MEMORY_METRIC, s.id)) for s in shards}
    no_mem = sorted(s for s, v in used.items() if v is None)
    if node_memory is None:
        floors.append(current)
        reasons.append(f"unknown node type {node_type}: memory per shard not known, no scale-in")
    elif no_mem:
        floors.append(current)
        reasons.append(
            f"no memory data ({MEMORY_METRIC}) for shard(s) {','.join(no_mem)} in the "
            f"last {window_minutes} min: no scale-in"
        )
    else:
        known = {s: v for s, v in used.items() if v is not None}
        floor, why = memory_floor(known, removal_order(shards), node_memory, max_memory_fill)
        floors.append(floor)
        reasons.append(why)
    return max(floors), "; ".join(reasons)
