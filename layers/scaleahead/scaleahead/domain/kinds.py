"""Every kind of target scaleahead drives, described once: what one unit of its capacity is
called, its defaults, its bounds, how the backtest simulates it and which adapter drives it.

Before this registry each of those lived where it was used (the defaults in the target model,
the unit words in the CLI and the demo, the bounds and rules in the backtest, the adapters in
the wiring), and a new kind had to be found in all of them. Now a kind lives in three places:

1. its target model in ``domain/target.py`` (``EcsTarget``, ``AuroraTarget``...: the resource it
   names and the settings of its own), added to the ``Target`` union;
2. its ``KindSpec`` here, in ``KINDS``, with its value in ``Kind``;
3. its adapter in ``aws/``: a module with a ``KindAdapter[<its target model>]``
   (``aws/kind_adapter.py``) and a ``make_adapter(metrics)`` factory, the module
   ``KindSpec.adapter_module`` names. The IAM grants of its calls go into ``template.yaml``
   (tests/test_template.py reads the calls from the adapter's source and checks them).

Everything else reads the registry: the target models' defaults and bounds, the wiring
(``handlers/wiring.py`` builds one adapter per spec), the CLI's and the demo's unit words, the
backtest's bounds and rules. tests/test_kinds.py checks that every ``Kind`` has a spec, a target
model and an adapter that resolves. Adding EC2 Auto Scaling groups, say, is ``Kind.EC2 = "ec2"``,
an ``Ec2Target`` in ``domain/target.py``, ``KINDS[Kind.EC2] = KindSpec(...)`` (instance /
instances, its warm-up...) and ``aws/ec2.py``.

Pure, as the whole domain: the adapter is named here, not imported (it needs boto3).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    ECS = "ecs"
    AURORA = "aurora"
    ELASTICACHE = "elasticache"


@dataclass(frozen=True)
class Simulation:
    """How the backtest's resource of one kind behaves (``scaleahead_tools.backtest``)."""

    # Lowest and highest capacity a simulated policy may ask for: a kind's own limit where it
    # has a small one, else a bound only so that a runaway policy cannot allocate for ever.
    bounds: tuple[int, int]
    # The resource takes one change at a time, whichever policy asks (a replication group being
    # resharded accepts no second change).
    serial: bool
    # scaleahead's own adapter waits for its change to finish before the next (one change at a
    # time, even where the resource would take more).
    serial_for_scaleahead: bool


@dataclass(frozen=True)
class KindSpec:
    """One kind of target: everything about it that is not in its target model or adapter."""

    kind: Kind
    name: str  # how the product is called in messages
    unit: str  # one unit of capacity
    units: str  # several
    # How long new capacity takes to serve load when nothing has been measured yet.
    warmup_seconds: int
    # How long the plan must stay lower before capacity is removed, by default.
    stabilisation_seconds: int
    # Lowest min_capacity a target may declare, and the most capacity the resource can have.
    min_capacity: int
    max_capacity: int
    # Most units scaleahead's adapter adds in one change, by default (None: any number);
    # a target of the kind may configure its own where its model has the setting.
    max_units_per_change: int | None
    # The fields of the target's ``resource``: what names the resource.
    resource_fields: tuple[str, ...]
    simulation: Simulation
    # The module (``scaleahead.aws.<module>``) whose ``make_adapter(metrics)`` builds the
    # kind's capacity adapter.
    adapter_module: str


# Warm-ups: a task pulls its image and passes health checks in minutes; a reader or a shard
# takes far longer. Stabilisation is longer for the data tier: when one driver's load falls, the
# tasks shrink first and the shards last, and the capacity slowest to bring back is the last to
# go.
KINDS: dict[Kind, KindSpec] = {
    Kind.ECS: KindSpec(
        kind=Kind.ECS,
        name="ECS",
        unit="task",
        units="tasks",
        warmup_seconds=300,
        stabilisation_seconds=900,
        min_capacity=0,
        # ECS "Tasks per service": the maximum desired count of one service, 5,000 (Amazon ECS
        # service quotas, "Tasks per service ... (the desired count) ... 5,000", ECS Developer
        # Guide). A larger max_capacity could never be reached, only asked for.
        max_capacity=5000,
        max_units_per_change=None,
        resource_fields=("cluster", "service"),
        simulation=Simulation(bounds=(0, 1000), serial=False, serial_for_scaleahead=False),
        adapter_module="scaleahead.aws.ecs",
    ),
    Kind.AURORA: KindSpec(
        kind=Kind.AURORA,
        name="Aurora",
        unit="reader",
        units="readers",
        warmup_seconds=900,
        stabilisation_seconds=1800,
        min_capacity=0,
        # Aurora allows at most 15 Aurora Replicas (readers) per DB cluster.
        max_capacity=15,
        max_units_per_change=None,
        resource_fields=("cluster",),
        # scaleahead's adapter adds readers one change at a time.
        simulation=Simulation(bounds=(0, 15), serial=False, serial_for_scaleahead=True),
        adapter_module="scaleahead.aws.aurora",
    ),
    Kind.ELASTICACHE: KindSpec(
        kind=Kind.ELASTICACHE,
        name="ElastiCache",
        unit="shard",
        units="shards",
        warmup_seconds=1800,
        stabilisation_seconds=3600,
        # A cluster-mode group has at least one shard. Cluster mode enabled: up to 500 shards
        # per cluster (Valkey 7.2+ / Redis OSS 5.0.6+; the default node quota of 90 can be
        # raised to 500; AWS::ElastiCache::ReplicationGroup docs).
        min_capacity=1,
        max_capacity=500,
        # ElastiCacheTarget.max_shards_per_action's default.
        max_units_per_change=2,
        resource_fields=("replication_group",),
        # ElastiCache accepts one resharding at a time, whoever asks.
        simulation=Simulation(bounds=(1, 500), serial=True, serial_for_scaleahead=True),
        adapter_module="scaleahead.aws.elasticache",
    ),
}
