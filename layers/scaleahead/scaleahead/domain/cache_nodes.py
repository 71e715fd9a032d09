"""Memory of each ElastiCache node type, for the memory guard on shard scale-in.

The guard must know how much data one shard can hold before it lets the autoscaler remove
shards: CloudWatch reports what is used (``BytesUsedForCache``) but not what the node has.
ElastiCache has no API answering "memory of node type X", so the figures are a table here.

Source: the ``maxmemory`` column of "Valkey node-type specific parameters" (the Redis OSS table
gives the same figures) in the ElastiCache user guide, "Engine specific parameters"
(https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/ParameterGroups.Engine.html):
"the maximum number of bytes available for data storage on the node", which cannot be
modified. ``BytesUsedForCache`` is measured against the same limit. The table keeps the current
generations (T3/T4g, M5-M8g, R5-R8g, C7gn); the ``reserved-memory-percent`` a parameter group
sets aside is what ``max_memory_fill`` (default 0.75) leaves room for.

A type missing from the table is not guessed: ``node_memory_bytes`` answers ``None`` and the
adapter refuses scale-in, because a wrong guess removes shards the data still needs. Data
tiering types (r6gd) are left out on purpose: their capacity includes SSD, so RAM alone would
misstate it.
"""

from __future__ import annotations

GIB = 1024**3

# Node type -> maxmemory in bytes.
NODE_MEMORY_BYTES: dict[str, int] = {
    "cache.t3.micro": 536_870_912,
    "cache.t3.small": 1_471_026_299,
    "cache.t3.medium": 3_317_862_236,
    "cache.t4g.micro": 536_870_912,
    "cache.t4g.small": 1_471_026_299,
    "cache.t4g.medium": 3_317_862_236,
    "cache.m5.large": 6_854_542_746,
    "cache.m5.xlarge": 13_891_921_715,
    "cache.m5.2xlarge": 27_966_669_210,
    "cache.m5.4xlarge": 56_116_178_125,
    "cache.m5.12xlarge": 168_715_971_994,
    "cache.m5.24xlarge": 337_500_562_842,
    "cache.m6g.large": 6_854_542_746,
    "cache.m6g.xlarge": 13_891_921_715,
    "cache.m6g.2xlarge": 27_966_669_210,
    "cache.m6g.4xlarge": 56_116_178_125,
    "cache.m6g.8xlarge": 111_325_552_312,
    "cache.m6g.12xlarge": 168_715_971_994,
    "cache.m6g.16xlarge": 225_000_375_228,
    "cache.m7g.large": 6_854_542_746,
    "cache.m7g.xlarge": 13_891_921_715,
    "cache.m7g.2xlarge": 27_966_669_210,
    "cache.m7g.4xlarge": 56_116_178_125,
    "cache.m7g.8xlarge": 111_325_552_312,
    "cache.m7g.12xlarge": 168_715_971_994,
    "cache.m7g.16xlarge": 225_000_375_228,
    "cache.m8g.large": 7_294_178_820,
    "cache.m8g.xlarge": 15_222_495_510,
    "cache.m8g.2xlarge": 31_866_224_640,
    "cache.m8g.4xlarge": 65_856_864_256,
    "cache.m8g.8xlarge": 133_838_143_488,
    "cache.m8g.12xlarge": 201_819_422_720,
    "cache.m8g.16xlarge": 269_800_701_952,
    "cache.r5.large": 14_037_181_030,
    "cache.r5.xlarge": 28_261_849_702,
    "cache.r5.2xlarge": 56_711_183_565,
    "cache.r5.4xlarge": 113_609_865_216,
    "cache.r5.12xlarge": 341_206_346_547,
    "cache.r5.24xlarge": 682_485_973_811,
    "cache.r6g.large": 14_037_181_030,
    "cache.r6g.xlarge": 28_261_849_702,
    "cache.r6g.2xlarge": 56_711_183_565,
    "cache.r6g.4xlarge": 113_609_865_216,
    "cache.r6g.8xlarge": 225_000_375_228,
    "cache.r6g.12xlarge": 341_206_346_547,
    "cache.r6g.16xlarge": 450_000_750_456,
    "cache.r7g.large": 14_037_181_030,
    "cache.r7g.xlarge": 28_261_849_702,
    "cache.r7g.2xlarge": 56_711_183_565,
    "cache.r7g.4xlarge": 113_609_865_216,
    "cache.r7g.8xlarge": 225_000_375_228,
    "cache.r7g.12xlarge": 341_206_346_547,
    "cache.r7g.16xlarge": 450_000_750_456,
    "cache.r8g.large": 15_222_495_510,
    "cache.r8g.xlarge": 31_866_224_640,
    "cache.r8g.2xlarge": 65_856_864_256,
    "cache.r8g.4xlarge": 133_838_143_488,
    "cache.r8g.8xlarge": 269_800_701_952,
    "cache.r8g.12xlarge": 405_763_260_416,
    "cache.r8g.16xlarge": 541_725_818_880,
    "cache.c7gn.large": 3_317_862_236,
    "cache.c7gn.xlarge": 6_854_542_746,
    "cache.c7gn.2xlarge": 13_891_921_715,
    "cache.c7gn.4xlarge": 27_966_669_210,
    "cache.c7gn.8xlarge": 56_116_178_125,
    "cache.c7gn.12xlarge": 84_357_985_997,
    "cache.c7gn.16xlarge": 113_609_865_216,
}


def node_memory_bytes(node_type: str) -> int | None:
    """Memory of one node of ``node_type`` in bytes, or ``None`` when the type is unknown."""
    return NODE_MEMORY_BYTES.get(node_type)
