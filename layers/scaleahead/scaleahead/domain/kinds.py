"""Every kind of target scaleahead drives, described once: what one unit of its capacity is
called, its defaults, its bounds, how the backtest simulates it and which adapter drives it.

Before this registry each of those lived where it was used (the defaults in the target model,
the unit words in the CLI and the demo, the bounds and rules in the backtest, the adapters in
the wiring, the compact record's fields, the resource's label and Application Auto Scaling
dimension in the CLI's take-over), and a new kind had to be found in all of them. Now a kind is:

1. the registry: its ``KindSpec`` here, in ``KINDS``, with its value in ``Kind``; and its target
   model in ``domain/target.py`` (``EcsTarget``, ``AuroraTarget``...: the resource it names and
   the validation of its own settings), added to the ``Target`` union. The spec lists those
   settings (``Setting``), so the alarm path's compact record (``domain.target_record``) reads
   them without the model; tests/test_kinds.py holds the two lists equal;
2. its adapter in ``aws/``: a module with a ``KindAdapter[<its target model>]``
   (``aws/kind_adapter.py``), a ``make_adapter(metrics)`` factory, a ``resource_arn(target)``
   (what the CLI tags) and, if the resource has settings to offer, a
   ``resource_defaults(target)`` (what ``targets apply`` fills in: an Auto Scaling group's
   warm-up), the module ``KindSpec.adapter_module`` names, and its pure rules in ``domain/``
   when it has any (``cache_shards``, ``memcached_nodes``, ``asg_instances``). The IAM grants
   of its calls go into ``template.yaml`` (tests/test_template.py reads the calls from the
   adapter's source, in the spec's ``iam_service``, and checks them);
3. its tests.

Everything else reads the registry: the target models' defaults and bounds, the compact record,
the wiring (``handlers/wiring.py`` builds one adapter per spec), the CLI's and the demo's unit
words and the take-over's label, tags and scalable target, the backtest's bounds and rules.
tests/test_kinds.py checks that every ``Kind`` has a spec, a target model that agrees with it
and an adapter that resolves.

Pure, as the whole domain: the adapter is named here, not imported (it needs boto3).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Kind(StrEnum):
    ECS = "ecs"
    AURORA = "aurora"
    ELASTICACHE = "elasticache"
    MEMCACHED = "memcached"
    ASG = "asg"


@dataclass(frozen=True)
class Setting:
    """One setting of a kind's own targets, beyond what every target has: its name and its JSON
    type, so that the compact record reads and type-checks it without the model."""

    name: str
    type: type[str] | type[int] | type[float] | type[bool]
    optional: bool = False  # may be null
    many: bool = False  # a list of ``type`` (a tuple on the target)


@dataclass(frozen=True)
class AppAutoScaling:
    """Application Auto Scaling's scalable target on the capacity a kind drives, which would
    fight scaleahead over it: what ``targets apply`` looks for and ``--take-over`` suspends."""

    namespace: str
    # ResourceId, formatted with the target's resource fields: "service/{cluster}/{service}"
    resource_id: str
    dimension: str


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
    # Target tracking as Application Auto Scaling runs it for the kind, where the kind documents
    # its own rule (docs/BASELINES.md): scale-in only below this share of the target (None: the
    # general rule), and a scale-out of at least this percent of the current capacity.
    tt_scale_in_ratio: float | None = None
    tt_min_out_percent: int = 0


@dataclass(frozen=True)
class KindSpec:
    """One kind of target: everything about it that is not in its target model or adapter."""

    kind: Kind
    name: str  # how the product is called in messages
    label: str  # what one resource is called in messages: "ECS service prod/web"
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
    # Most units scaleahead's adapter removes in one change (None: any number).
    max_units_removed_per_change: int | None
    # The fields of the target's ``resource``: what names the resource.
    resource_fields: tuple[str, ...]
    # The settings of the kind's own target model (``domain.target``), in its order.
    settings: tuple[Setting, ...]
    # The IAM service prefix of the adapter's calls ("ecs", "rds"...).
    iam_service: str
    # What else scales the same capacity, which ``targets apply`` refuses unless it takes it
    # over (``--take-over``): Application Auto Scaling's scalable target, or for an Auto
    # Scaling group its own policies and scheduled actions ("ec2-auto-scaling").
    own_scaling: Literal["application-autoscaling", "ec2-auto-scaling"]
    # The scalable target Application Auto Scaling would drive the same capacity with; None
    # where it cannot.
    app_autoscaling: AppAutoScaling | None
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
        label="ECS service",
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
        max_units_removed_per_change=None,
        resource_fields=("cluster", "service"),
        settings=(),
        iam_service="ecs",
        own_scaling="application-autoscaling",
        app_autoscaling=AppAutoScaling(
            "ecs", "service/{cluster}/{service}", "ecs:service:DesiredCount"
        ),
        simulation=Simulation(bounds=(0, 1000), serial=False, serial_for_scaleahead=False),
        adapter_module="scaleahead.aws.ecs",
    ),
    Kind.AURORA: KindSpec(
        kind=Kind.AURORA,
        name="Aurora",
        label="Aurora DB cluster",
        unit="reader",
        units="readers",
        warmup_seconds=900,
        stabilisation_seconds=1800,
        min_capacity=0,
        # Aurora allows at most 15 Aurora Replicas (readers) per DB cluster.
        max_capacity=15,
        max_units_per_change=None,
        max_units_removed_per_change=None,
        resource_fields=("cluster",),
        settings=(
            Setting("instance_class", str, optional=True),
            Setting("fallback_instance_classes", str, many=True),
            Setting("keep_one_reader", bool),
        ),
        iam_service="rds",
        own_scaling="application-autoscaling",
        app_autoscaling=AppAutoScaling("rds", "cluster:{cluster}", "rds:cluster:ReadReplicaCount"),
        # scaleahead's adapter adds readers one change at a time.
        simulation=Simulation(bounds=(0, 15), serial=False, serial_for_scaleahead=True),
        adapter_module="scaleahead.aws.aurora",
    ),
    Kind.ELASTICACHE: KindSpec(
        kind=Kind.ELASTICACHE,
        name="ElastiCache",
        label="ElastiCache replication group",
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
        max_units_removed_per_change=None,
        resource_fields=("replication_group",),
        settings=(
            Setting("max_memory_fill", float),
            Setting("max_cpu_for_scale_in", float),
            Setting("max_shards_per_action", int),
        ),
        iam_service="elasticache",
        own_scaling="application-autoscaling",
        app_autoscaling=AppAutoScaling(
            "elasticache",
            "replication-group/{replication_group}",
            "elasticache:replication-group:NodeGroups",
        ),
        # ElastiCache accepts one resharding at a time, whoever asks. Its target tracking
        # documents its own rule for shards: no scale-in unless the metric is below 75 % of the
        # target, and a scale-out by the larger of the variation from the target and 20 % of
        # the current shards.
        simulation=Simulation(
            bounds=(1, 500),
            serial=True,
            serial_for_scaleahead=True,
            tt_scale_in_ratio=0.75,
            tt_min_out_percent=20,
        ),
        adapter_module="scaleahead.aws.elasticache",
    ),
    Kind.MEMCACHED: KindSpec(
        kind=Kind.MEMCACHED,
        name="ElastiCache for Memcached",
        label="ElastiCache Memcached cluster",
        unit="node",
        units="nodes",
        # A new node serves at once but starts empty: it warms as the cache refills.
        warmup_seconds=600,
        # Removing a node loses the keys it held: hold capacity as long as readers.
        stabilisation_seconds=1800,
        min_capacity=1,
        # ModifyCacheCluster's NumCacheNodes: "For clusters running Memcached, this value must
        # be between 1 and 40" (API reference; the user guide's "1 to 60 nodes" needs a raised
        # "Nodes per cluster" quota, which AWS then enforces with NodeQuotaForClusterExceeded).
        max_capacity=40,
        max_units_per_change=None,
        # One rehash of 1/N of the keyspace at a time (domain.memcached_nodes).
        max_units_removed_per_change=1,
        resource_fields=("cache_cluster",),
        settings=(
            Setting("max_memory_fill", float),
            Setting("max_evictions_per_minute", float),
        ),
        iam_service="elasticache",
        own_scaling="application-autoscaling",
        app_autoscaling=AppAutoScaling(
            "elasticache", "cache-cluster/{cache_cluster}", "elasticache:cache-cluster:Nodes"
        ),
        # A change in flight is overridden by the next (AWS documents it), so the resource
        # itself is not serial; scaleahead's adapter waits for its change to finish.
        simulation=Simulation(bounds=(1, 40), serial=False, serial_for_scaleahead=True),
        adapter_module="scaleahead.aws.memcached",
    ),
    Kind.ASG: KindSpec(
        kind=Kind.ASG,
        name="EC2 Auto Scaling",
        label="EC2 Auto Scaling group",
        unit="instance",
        units="instances",
        # Launch, boot and health checks; a group's DefaultInstanceWarmup replaces it at apply
        # (aws/asg.py resource_defaults), and the learned warm-up after.
        warmup_seconds=300,
        # Longer than ECS's: when tasks run on the group's instances (ECS on EC2), the tasks
        # shrink first and the instances after.
        stabilisation_seconds=1800,
        min_capacity=0,
        # The API bounds MaxSize by nothing but the account's EC2 quotas; this only keeps a
        # mistyped definition from asking for more.
        max_capacity=10000,
        max_units_per_change=None,
        max_units_removed_per_change=None,
        resource_fields=("auto_scaling_group",),
        settings=(),
        iam_service="autoscaling",
        own_scaling="ec2-auto-scaling",
        app_autoscaling=None,
        simulation=Simulation(bounds=(0, 1000), serial=False, serial_for_scaleahead=False),
        adapter_module="scaleahead.aws.asg",
    ),
}
