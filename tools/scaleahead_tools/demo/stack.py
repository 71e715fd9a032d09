"""The web stack the demo scales, stood up on moto: one load, three tiers, and a control.

One driver (requests at the load balancer) plans three targets, each with its own unit and
warm-up: ECS tasks (5 min), Aurora readers (15 min) and ElastiCache shards (30 min). A fourth
target, ``web-reactive``, is the same ECS service with forecasting switched off: it only
reacts (tracks observed load, plus the alarm floor), which is what scaling ahead is compared
with. The resources are made the way a user's would be: tagged ``scaleahead:managed=true``,
the Aurora cluster with its writer and a reader the user made for reports (never removed), the
replication group cluster mode enabled, holding a data set that needs two shards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scaleahead.domain.kinds import KINDS, Kind
from scaleahead.domain.plan import units_needed
from scaleahead_testkit import local_aws

NAMESPACE = "Demo/ALB"
METRIC = "RequestCount"
DIMENSIONS = [{"Name": "LoadBalancer", "Value": "app/demo-web/0123456789abcdef"}]
ECS_CLUSTER = "demo"
DB_CLUSTER = "demo-db"
DB_WRITER = "demo-db-writer"
DB_USER_READER = "demo-db-reports"
DB_CLASS = "db.r6g.large"
CACHE_GROUP = "demo-cache"
CACHE_NODE_TYPE = "cache.r7g.large"
CACHE_MEMORY_FILL = 0.75
MANAGED = {"scaleahead:managed": "true"}
# Every tier's min_capacity: what even no load needs, in the targets and in the report.
MIN_CAPACITY = 1

LOAD_METRIC: dict[str, Any] = {
    "period_seconds": 60,
    "queries": [
        {
            "Id": "load",
            "MetricStat": {
                "Metric": {"Namespace": NAMESPACE, "MetricName": METRIC, "Dimensions": DIMENSIONS},
                "Stat": "Sum",
            },
        }
    ],
}


@dataclass(frozen=True)
class Tier:
    """One target of the demo and the world it lives in."""

    id: str
    kind: str
    unit: str  # what the capacity is counted in, in the report: the kind's word
    per_unit: float
    warmup: int
    forecast: bool = True


def tiers(p99: float) -> list[Tier]:
    """Units sized so that the trace's peaks need about 16 tasks, 8 readers and 4 shards.

    One shard serves what two readers or four tasks serve, so every shard boundary of the load
    is a reader and a task boundary too: when the load crosses one, all three tiers need one
    more unit at the same moment, and the order in which they ask for it shows their warm-ups.
    """
    base = round(p99 / 16, 1)
    return [
        Tier("web", "ecs", KINDS[Kind.ECS].units, base, 300),
        Tier("db", "aurora", KINDS[Kind.AURORA].units, 2 * base, 900),
        Tier("cache", "elasticache", KINDS[Kind.ELASTICACHE].units, 4 * base, 1800),
        Tier("web-reactive", "ecs", KINDS[Kind.ECS].units, base, 300, forecast=False),
    ]


def targets_file(tier_list: list[Tier]) -> dict[str, Any]:
    """The target file a user would apply (``scaleahead targets apply``)."""
    common = {
        "min_capacity": MIN_CAPACITY,
        "alarm": {"evaluation_periods": 3, "datapoints_to_alarm": 2, "step": 1},
    }
    resources: dict[str, dict[str, Any]] = {
        "web": {"resource": {"cluster": ECS_CLUSTER, "service": "web"}, "max_capacity": 40},
        "db": {
            "resource": {"cluster": DB_CLUSTER},
            # Readers take 15 min to arrive and shards 30: planning them every 10 min loses
            # nothing (each plan covers warm-up + 10 min), and halves what moto must serve.
            "evaluate_every_seconds": 600,
            "max_capacity": 15,
            "keep_one_reader": True,
            "fallback_instance_classes": ["db.r7g.large"],
        },
        "cache": {
            "resource": {"replication_group": CACHE_GROUP},
            "evaluate_every_seconds": 600,
            "max_capacity": 8,
            "max_shards_per_action": 2,
            "max_memory_fill": CACHE_MEMORY_FILL,
        },
        "web-reactive": {
            "resource": {"cluster": ECS_CLUSTER, "service": "web-reactive"},
            "max_capacity": 40,
            "load_metric": LOAD_METRIC,
            "forecast": {"enabled": False},
        },
    }
    targets = []
    for t in tier_list:
        spec = {
            "id": t.id,
            "kind": t.kind,
            "capacity_per_unit": t.per_unit,
            "warmup_seconds": t.warmup,
            **common,
            **resources[t.id],
        }
        if t.forecast:
            spec["driver"] = "front-door"
        targets.append(spec)
    return {
        "drivers": {
            "front-door": {
                "load_metric": LOAD_METRIC,
                # Refit every three hours (the product's default is one): each refit reads 14
                # days of one-minute history, which moto serves a hundred times slower than
                # CloudWatch; the per-tick level correction keeps the forecast on the observed
                # load in between.
                "forecast": {"quantile": 0.9, "refresh_seconds": 10800},
            }
        },
        "targets": targets,
    }


def cache_dataset_bytes() -> float:
    """A data set that needs two shards at the memory fill the target allows."""
    from scaleahead.domain.cache_nodes import node_memory_bytes

    memory = node_memory_bytes(CACHE_NODE_TYPE)
    assert memory is not None
    return 1.3 * memory * CACHE_MEMORY_FILL


def need(load: float, per_unit: float) -> int:
    """Units of a tier that ``load`` needs: the planner's own count (``units_needed``), never
    below the tier's minimum."""
    return max(MIN_CAPACITY, units_needed(load, per_unit))


def create_ecs(ecs: Any, services: dict[str, int]) -> None:
    local_aws.create_ecs(ecs, ECS_CLUSTER, services)


def db_subnet_group(rds: Any, ec2: Any, name: str) -> None:
    """A VPC with two subnets in two zones, as a DB subnet group: what a cluster lives in."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=az)["Subnet"][
            "SubnetId"
        ]
        for n, az in enumerate(["us-east-1a", "us-east-1b"], start=1)
    ]
    rds.create_db_subnet_group(
        DBSubnetGroupName=name, DBSubnetGroupDescription=name, SubnetIds=subnets
    )


def create_aurora(rds: Any, ec2: Any) -> None:
    """The cluster in its subnet group, its writer and the user's own reader; readers added
    later start ``creating`` (``moto_rds.set_create_status``) and the world makes them
    available."""
    from scaleahead_testkit import moto_rds

    moto_rds.install()
    db_subnet_group(rds, ec2, f"{DB_CLUSTER}-subnets")
    rds.create_db_cluster(
        DBClusterIdentifier=DB_CLUSTER,
        Engine="aurora-postgresql",
        MasterUsername="demo",
        MasterUserPassword="not-a-secret-1",
        DBSubnetGroupName=f"{DB_CLUSTER}-subnets",
        Tags=[{"Key": k, "Value": v} for k, v in MANAGED.items()],
    )
    for ident in (DB_WRITER, DB_USER_READER):
        rds.create_db_instance(
            DBInstanceIdentifier=ident,
            DBClusterIdentifier=DB_CLUSTER,
            Engine="aurora-postgresql",
            DBInstanceClass=DB_CLASS,
        )
    moto_rds.set_create_status("creating")


def create_cache(elasticache: Any, shards: int) -> None:
    from scaleahead_testkit import moto_elasticache

    moto_elasticache.install()
    elasticache.create_replication_group(
        ReplicationGroupId=CACHE_GROUP,
        ReplicationGroupDescription="sessions and page fragments",
        Engine="valkey",
        CacheNodeType=CACHE_NODE_TYPE,
        ClusterMode="enabled",
        NumNodeGroups=shards,
        ReplicasPerNodeGroup=0,
        Tags=[{"Key": k, "Value": v} for k, v in MANAGED.items()],
    )
