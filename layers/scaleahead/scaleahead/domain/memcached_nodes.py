"""The node rules of an ElastiCache for Memcached cluster, as pure maths over what was read.

Memcached shards nothing itself: clients hash each key to one node. Removing a node loses the
keys it held (clients rehash about 1/N of the keyspace, which then misses until the database
refills it), and an added node starts empty and warms as the cache refills. So capacity comes
in fast and leaves carefully:

* a scale-in removes the newest node first (``removal_order``): the oldest nodes hold the
  longest-lived, best-warmed keys; and one node per action (the kind's
  ``max_units_removed_per_change``: one rehash of 1/N of the keys at a time), which the adapter
  applies;
* it never goes below ``scale_in_floor``: the fewest nodes that, filled to ``max_memory_fill``
  of their item memory, hold the data cached now (the peak of ``BytesUsedForCacheItems`` over
  the window, summed over the nodes); and none at all when a node evicted more than
  ``max_evictions_per_minute`` items in a minute of the window (an evicting cache is already
  short of memory; a node fewer would evict more). A missing metric, or a node type whose
  memory is not in the table, means no scale-in: refusing is safe, guessing loses keys.

Item memory: the ``max_cache_memory`` of the node type ("Memcached node-type specific
parameters", ElastiCache user guide, "Engine specific parameters":
https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/ParameterGroups.Engine.html), in
megabytes, less ``memcached_connections_overhead`` (default 100 MB): "the memory made available
for storing items is the total available memory on that node (``max_cache_memory``) minus the
memory used for connections and other overhead". AWS does not say whether its megabytes are
10^6 or 2^20 bytes; the smaller reading (10^6) is taken, which errs towards keeping a node. A
parameter group that raises the overhead lowers the item memory further: ``max_memory_fill``
(default 0.75) leaves room for it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MB = 1_000_000
GB = 1_000_000_000
CONNECTIONS_OVERHEAD_MB = 100

# The node metrics the guards read (namespace AWS/ElastiCache, dimensions CacheClusterId and
# CacheNodeId), each as its highest one-minute Maximum over the window.
MEMORY_METRIC = "BytesUsedForCacheItems"
EVICTIONS_METRIC = "Evictions"
SINGLE_NODE = "a single node: nothing to remove"

# Node type -> max_cache_memory in MB, the current generations. cache.c7gn.12xlarge is left out
# on purpose: the table gives it 325400, more than the 16xlarge's 108347 (the r-family's value,
# by the look of it), and a wrong figure would remove nodes the data needs.
MAX_CACHE_MEMORY_MB: dict[str, int] = {
    "cache.t3.micro": 512,
    "cache.t3.small": 1402,
    "cache.t3.medium": 3364,
    "cache.t4g.micro": 512,
    "cache.t4g.small": 1402,
    "cache.t4g.medium": 3164,
    "cache.m5.large": 6537,
    "cache.m5.xlarge": 13248,
    "cache.m5.2xlarge": 26671,
    "cache.m5.4xlarge": 53516,
    "cache.m5.12xlarge": 160900,
    "cache.m5.24xlarge": 321865,
    "cache.m6g.large": 6537,
    "cache.m6g.xlarge": 13248,
    "cache.m6g.2xlarge": 26671,
    "cache.m6g.4xlarge": 53516,
    "cache.m6g.8xlarge": 107000,
    "cache.m6g.12xlarge": 160900,
    "cache.m6g.16xlarge": 214577,
    "cache.m7g.large": 6537,
    "cache.m7g.xlarge": 13248,
    "cache.m7g.2xlarge": 26671,
    "cache.m7g.4xlarge": 53516,
    "cache.m7g.8xlarge": 107000,
    "cache.m7g.12xlarge": 160900,
    "cache.m7g.16xlarge": 214577,
    "cache.r5.large": 13387,
    "cache.r5.xlarge": 26953,
    "cache.r5.2xlarge": 54084,
    "cache.r5.4xlarge": 108347,
    "cache.r5.12xlarge": 325400,
    "cache.r5.24xlarge": 650869,
    "cache.r6g.large": 13387,
    "cache.r6g.xlarge": 26953,
    "cache.r6g.2xlarge": 54084,
    "cache.r6g.4xlarge": 108347,
    "cache.r6g.8xlarge": 214577,
    "cache.r6g.12xlarge": 325400,
    "cache.r6g.16xlarge": 429154,
    "cache.r7g.large": 13387,
    "cache.r7g.xlarge": 26953,
    "cache.r7g.2xlarge": 54084,
    "cache.r7g.4xlarge": 108347,
    "cache.r7g.8xlarge": 214577,
    "cache.r7g.12xlarge": 325400,
    "cache.r7g.16xlarge": 429154,
    "cache.c7gn.large": 3164,
    "cache.c7gn.xlarge": 6537,
    "cache.c7gn.2xlarge": 13248,
    "cache.c7gn.4xlarge": 26671,
    "cache.c7gn.8xlarge": 53516,
    "cache.c7gn.16xlarge": 108347,
}


def item_memory_bytes(node_type: str) -> int | None:
    """Memory one node of ``node_type`` has for items, in bytes; None when the type is unknown."""
    mb = MAX_CACHE_MEMORY_MB.get(node_type)
    return None if mb is None else (mb - CONNECTIONS_OVERHEAD_MB) * MB


@dataclass(frozen=True)
class Node:
    """One cache node: its id ("0001"), when it was created (epoch seconds; None while it is
    still being created) and its ``CacheNodeStatus``."""

    id: str
    created: float | None = None
    status: str = "available"


def removal_order(nodes: Sequence[Node]) -> list[str]:
    """Node ids in the order a scale-in removes them: the newest first (latest created, then the
    highest id), so the longest-warmed nodes stay."""
    ranked = sorted(nodes, key=lambda n: (n.created or 0.0, n.id), reverse=True)
    return [n.id for n in ranked]


def _gb(n: float) -> str:
    return f"{n / GB:.2f} GB"


def _reported(
    peaks: Mapping[tuple[str, str], float], metric: str, ids: Sequence[str]
) -> tuple[list[float], list[str]]:
    """The nodes' values of ``metric``, and the ids of the nodes that did not report it."""
    missing = [i for i in ids if (metric, i) not in peaks]
    return [peaks[(metric, i)] for i in ids if (metric, i) in peaks], missing


def _silent(what: str, metric: str, missing: Sequence[str], window_minutes: int) -> str:
    return (
        f"no {what} data ({metric}) for node(s) {','.join(missing)} in the last "
        f"{window_minutes} min: no scale-in"
    )


def scale_in_floor(
    nodes: Sequence[Node],
    peaks: Mapping[tuple[str, str], float],
    node_type: str,
    *,
    max_memory_fill: float,
    max_evictions_per_minute: float,
    window_minutes: int,
) -> tuple[int, str]:
    """Fewest nodes a scale-in may leave, and why: the present count when a guard forbids any
    scale-in, else the fewest nodes the data fits. ``peaks`` maps (metric, node id) to the
    node's highest one-minute value over the last ``window_minutes``, absent when the node did
    not report."""
    current = len(nodes)
    if current <= 1:
        return current, SINGLE_NODE
    ids = [n.id for n in nodes]
    blocked = False
    floor = current
    reasons: list[str] = []

    memory = item_memory_bytes(node_type)
    used, no_mem = _reported(peaks, MEMORY_METRIC, ids)
    if memory is None:
        blocked = True
        reasons.append(f"unknown node type {node_type}: item memory not known, no scale-in")
    elif no_mem:
        blocked = True
        reasons.append(_silent("memory", MEMORY_METRIC, no_mem, window_minutes))
    else:
        total = sum(used)
        usable = memory * max_memory_fill
        floor = min(current, max(1, math.ceil(total / usable)))
        reasons.append(
            f"memory: {_gb(total)} of items; {_gb(usable)} usable per node ({_gb(memory)} x "
            f"{max_memory_fill:g} max fill) -> {floor} node(s) needed"
            + (", no scale-in" if floor >= current else "")
        )

    evictions, no_ev = _reported(peaks, EVICTIONS_METRIC, ids)
    if no_ev:
        blocked = True
        reasons.append(_silent("eviction", EVICTIONS_METRIC, no_ev, window_minutes))
    else:
        worst = max(evictions)
        calm = worst <= max_evictions_per_minute
        blocked |= not calm
        reasons.append(
            f"evictions: at most {worst:g} a minute on a node"
            + (
                f" <= {max_evictions_per_minute:g}"
                if calm
                else f" > max_evictions_per_minute {max_evictions_per_minute:g} (memory is "
                "already short): no scale-in"
            )
        )
    floor = current if blocked else floor
    return floor, "; ".join(reasons) + ("" if floor >= current else f" -> floor {floor}")
