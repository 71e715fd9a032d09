"""Memory of each ElastiCache node type, for the memory guard on shard scale-in.

The guard must know how much data one shard can hold before it lets the autoscaler remove
shards: CloudWatch reports what is used (``BytesUsedForCache``) but not what the node has.
ElastiCache has no API answering "memory of node type X" (``maxmemory`` sits in the
node-type-specific defaults of the parameter groups), so the figures are a table here.

Source: the "Memory (GiB)" column of the On-Demand Nodes table of the Amazon ElastiCache
pricing page, https://aws.amazon.com/elasticache/pricing/ (the same figures as the
node-type-specific ``maxmemory`` defaults, in GiB). The node type list itself follows the
"Supported node types" page of the ElastiCache user guide
(https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheNodes.SupportedTypes.html).

A type missing from the table is not guessed: ``node_memory_bytes`` answers ``None`` and the
adapter refuses scale-in, because a wrong guess removes shards the data still needs. Data
tiering types (r6gd) are left out on purpose: their capacity includes SSD, so RAM alone would
misstate it.
"""

from __future__ import annotations

GIB = 1024**3

# Node type -> memory in GiB. Current generation Graviton types, micro to 2xlarge.
NODE_MEMORY_GIB: dict[str, float] = {
    # Burstable (T4g)
    "cache.t4g.micro": 0.5,
    "cache.t4g.small": 1.37,
    "cache.t4g.medium": 3.09,
    # General purpose (M6g, M7g)
    "cache.m6g.large": 6.38,
    "cache.m6g.xlarge": 12.93,
    "cache.m6g.2xlarge": 26.04,
    "cache.m7g.large": 6.38,
    "cache.m7g.xlarge": 12.93,
    "cache.m7g.2xlarge": 26.04,
    # Memory optimised (R6g, R7g)
    "cache.r6g.large": 13.07,
    "cache.r6g.xlarge": 26.32,
    "cache.r6g.2xlarge": 52.82,
    "cache.r7g.large": 13.07,
    "cache.r7g.xlarge": 26.32,
    "cache.r7g.2xlarge": 52.82,
}


def node_memory_bytes(node_type: str) -> int | None:
    """Memory of one node of ``node_type`` in bytes, or ``None`` when the type is unknown."""
    gib = NODE_MEMORY_GIB.get(node_type)
    return None if gib is None else int(gib * GIB)
