"""The demo's world on moto: each tier's capacity arrives one real warm-up after it is asked
for, and ElastiCache's own metrics are there for the shard guards to read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scaleahead_testkit import moto_elasticache, moto_rds
from scaleahead_testkit.local_aws import local_env
from scaleahead_testkit.world import AuroraWorld, ElastiCacheWorld
from scaleahead_tools.demo import stack

T0 = 1_795_781_100.0


@pytest.fixture
def moto_env() -> Iterator[None]:
    with local_env({"MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}), mock_aws():
        try:
            yield
        finally:
            moto_rds.uninstall()
            moto_elasticache.uninstall()


def test_a_reader_serves_one_warm_up_after_it_was_asked_for(moto_env: None) -> None:
    rds = boto3.client("rds")
    stack.create_aurora(rds, boto3.client("ec2"))  # the writer and the user's reader
    world = AuroraWorld(stack.DB_CLUSTER, warmup=900)
    assert world.step(T0) == (1, 1)
    rds.create_db_instance(
        DBInstanceIdentifier="demo-db-sa-db-1",
        DBClusterIdentifier=stack.DB_CLUSTER,
        Engine="aurora-postgresql",
        DBInstanceClass=stack.DB_CLASS,
    )
    assert world.step(T0 + 60) == (2, 1)  # creating from here
    assert world.step(T0 + 60 + 899) == (2, 1)
    assert world.step(T0 + 60 + 900) == (2, 2)
    db = rds.describe_db_instances(DBInstanceIdentifier="demo-db-sa-db-1")["DBInstances"][0]
    assert db["DBInstanceStatus"] == "available"


def test_a_reshard_completes_one_warm_up_after_it_started(moto_env: None) -> None:
    ec = boto3.client("elasticache")
    stack.create_cache(ec, shards=2)
    world = ElastiCacheWorld(stack.CACHE_GROUP, warmup=1800, per_unit=36.0, dataset_bytes=8e9)
    ec.modify_replication_group_shard_configuration(
        ReplicationGroupId=stack.CACHE_GROUP, NodeGroupCount=3, ApplyImmediately=True
    )
    assert world.step(T0) == (3, 2)  # asked for 3, two serve while slots migrate
    assert world.step(T0 + 1799) == (3, 2)
    assert world.step(T0 + 1800) == (3, 3)
    group = ec.describe_replication_groups(ReplicationGroupId=stack.CACHE_GROUP)
    assert group["ReplicationGroups"][0]["Status"] == "available"


def test_the_cache_nodes_publish_memory_and_cpu(moto_env: None) -> None:
    ec = boto3.client("elasticache")
    stack.create_cache(ec, shards=2)
    world = ElastiCacheWorld(stack.CACHE_GROUP, warmup=1800, per_unit=36.0, dataset_bytes=8e9)
    world.publish(T0 + 60, load=72.0)  # one shard's worth each: 8 % idle + 60 % x 1.0

    def latest(metric: str) -> Any:
        out = boto3.client("cloudwatch").get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "m",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/ElastiCache",
                            "MetricName": metric,
                            "Dimensions": [
                                {"Name": "CacheClusterId", "Value": "demo-cache-0002-001"},
                                {"Name": "CacheNodeId", "Value": "0001"},
                            ],
                        },
                        "Period": 60,
                        "Stat": "Maximum",
                    },
                }
            ],
            StartTime=datetime.fromtimestamp(T0 - 600, UTC),
            EndTime=datetime.fromtimestamp(T0 + 60, UTC),
        )
        return out["MetricDataResults"][0]["Values"]

    assert latest("BytesUsedForCache") == [4e9]
    assert latest("EngineCPUUtilization") == [68.0]
