"""moto with the ElastiCache extension reshards cluster-mode groups as AWS does, on demand.

Every call goes through boto3, so botocore serialises each request and parses each response
with ElastiCache's own shapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from scaleahead_testkit import moto_elasticache as ext

REGION = "us-east-1"


@pytest.fixture
def ec() -> Iterator[Any]:
    ext.uninstall()
    ext.install()
    with mock_aws():
        yield boto3.client("elasticache", region_name=REGION)
    ext.uninstall()


def _create(client: Any, rg_id: str = "cache", shards: int = 3, **kwargs: Any) -> Any:
    params: dict[str, Any] = {
        "ReplicationGroupId": rg_id,
        "ReplicationGroupDescription": "test",
        "Engine": "valkey",
        "CacheNodeType": "cache.r7g.large",
        "ClusterMode": "enabled",
        "NumNodeGroups": shards,
        "ReplicasPerNodeGroup": 1,
        **kwargs,
    }
    return client.create_replication_group(**params)["ReplicationGroup"]


def _describe(client: Any, rg_id: str = "cache") -> Any:
    return client.describe_replication_groups(ReplicationGroupId=rg_id)["ReplicationGroups"][0]


def _reshard(client: Any, count: int, rg_id: str = "cache", **kwargs: Any) -> Any:
    return client.modify_replication_group_shard_configuration(
        ReplicationGroupId=rg_id, NodeGroupCount=count, ApplyImmediately=True, **kwargs
    )["ReplicationGroup"]


def _assert_slots_cover_once(group: Any) -> None:
    covered: list[int] = []
    for ng in group["NodeGroups"]:
        for part in ng["Slots"].split(","):
            lo, hi = (int(x) for x in part.split("-"))
            covered.extend(range(lo, hi + 1))
    assert sorted(covered) == list(range(16384))


def _ids(group: Any) -> list[str]:
    return [ng["NodeGroupId"] for ng in group["NodeGroups"]]


def _error(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_create_cluster_mode_group_has_shards_covering_all_slots(ec: Any) -> None:
    created = _create(ec)
    group = _describe(ec)
    for g in (created, group):
        assert g["ClusterEnabled"] is True
        assert g["Status"] == "available"
        assert _ids(g) == ["0001", "0002", "0003"]
        assert [ng["Slots"] for ng in g["NodeGroups"]] == ["0-5461", "5462-10922", "10923-16383"]
        _assert_slots_cover_once(g)
    first = group["NodeGroups"][0]
    assert first["Status"] == "available"
    assert [m["CacheClusterId"] for m in first["NodeGroupMembers"]] == [
        "cache-0001-001",
        "cache-0001-002",
    ]
    assert {m["CacheNodeId"] for ng in group["NodeGroups"] for m in ng["NodeGroupMembers"]} == {
        "0001"
    }
    assert len(group["MemberClusters"]) == 6
    assert "ConfigurationEndpoint" in group


@pytest.mark.parametrize("shards", [1, 2, 5, 7, 90])
def test_create_spreads_slots_evenly_for_any_count(ec: Any, shards: int) -> None:
    group = _create(ec, shards=shards)
    assert len(group["NodeGroups"]) == shards
    _assert_slots_cover_once(group)
    sizes = [int(s.split("-")[1]) - int(s.split("-")[0]) + 1 for s in ext.slot_ranges(shards)]
    assert max(sizes) - min(sizes) <= 1


def test_num_node_groups_alone_means_cluster_mode(ec: Any) -> None:
    params = {"ReplicationGroupId": "implicit", "ReplicationGroupDescription": "d"}
    group = ec.create_replication_group(**params, NumNodeGroups=4)["ReplicationGroup"]
    assert group["ClusterEnabled"] is True
    assert len(group["NodeGroups"]) == 4
    _assert_slots_cover_once(group)
    with pytest.raises(ClientError) as exc:
        ec.create_replication_group(
            ReplicationGroupId="bad", ReplicationGroupDescription="d", NumNodeGroups=2,
            ClusterMode="disabled",
        )  # fmt: skip
    assert _error(exc) == "InvalidParameterCombination"


def test_non_cluster_group_is_visibly_different_and_refused(ec: Any) -> None:
    ec.create_replication_group(
        ReplicationGroupId="single", ReplicationGroupDescription="d", Engine="redis",
        NumCacheClusters=2,
    )  # fmt: skip
    group = _describe(ec, "single")
    assert group["ClusterEnabled"] is False
    assert _ids(group) == ["0001"]
    assert "Slots" not in group["NodeGroups"][0]
    with pytest.raises(ClientError) as exc:
        _reshard(ec, 2, "single")
    assert _error(exc) == "InvalidParameterValue"
    assert _describe(ec, "single")["Status"] == "available"


def test_scale_out_is_modifying_until_completed(ec: Any) -> None:
    _create(ec)
    answered = _reshard(ec, 5)
    assert answered["Status"] == "modifying"
    assert answered["PendingModifiedValues"]["Resharding"]["SlotMigration"] == {
        "ProgressPercentage": 0.0
    }
    # Still the old shape while the slots migrate, however often it is described.
    for _ in range(3):
        group = _describe(ec)
        assert group["Status"] == "modifying"
        assert _ids(group) == ["0001", "0002", "0003"]

    assert ext.complete_pending_changes() == ["cache"]
    group = _describe(ec)
    assert group["Status"] == "available"
    assert "PendingModifiedValues" not in group or not group["PendingModifiedValues"]
    assert _ids(group) == ["0001", "0002", "0003", "0004", "0005"]
    _assert_slots_cover_once(group)
    # New shards have as many nodes as the smallest existing shard (2 here).
    assert all(len(ng["NodeGroupMembers"]) == 2 for ng in group["NodeGroups"])
    assert "cache-0005-002" in group["MemberClusters"]
    assert len(group["MemberClusters"]) == 10
    assert ext.complete_pending_changes() == []


def test_scale_out_honours_resharding_configuration_azs(ec: Any) -> None:
    _create(ec, shards=2)
    _reshard(
        ec, 3, ReshardingConfiguration=[
            {"NodeGroupId": "0003", "PreferredAvailabilityZones": ["us-east-1c", "us-east-1d"]}
        ],
    )  # fmt: skip
    ext.complete_pending_changes(replication_group_id="cache")
    new = _describe(ec)["NodeGroups"][-1]
    assert [m["PreferredAvailabilityZone"] for m in new["NodeGroupMembers"]] == [
        "us-east-1c",
        "us-east-1d",
    ]


def test_scale_in_with_node_groups_to_remove(ec: Any) -> None:
    _create(ec, shards=5)
    assert _reshard(ec, 4, NodeGroupsToRemove=["0002"])["Status"] == "modifying"
    ext.complete_pending_changes()
    group = _describe(ec)
    assert group["Status"] == "available"
    assert _ids(group) == ["0001", "0003", "0004", "0005"]
    _assert_slots_cover_once(group)
    assert not any(c.startswith("cache-0002-") for c in group["MemberClusters"])
    # New ids continue after the highest one, never reusing a removed id in between.
    _reshard(ec, 5)
    ext.complete_pending_changes()
    assert _ids(_describe(ec)) == ["0001", "0003", "0004", "0005", "0006"]


def test_scale_in_with_node_groups_to_retain(ec: Any) -> None:
    _create(ec, shards=4)
    _reshard(ec, 2, NodeGroupsToRetain=["0001", "0004"])
    ext.complete_pending_changes()
    group = _describe(ec)
    assert _ids(group) == ["0001", "0004"]
    assert [ng["Slots"] for ng in group["NodeGroups"]] == ["0-8191", "8192-16383"]


def test_completes_after_n_describes_when_asked(ec: Any) -> None:
    _create(ec)
    ext.set_describes_until_complete(2)
    _reshard(ec, 4)
    progress = []
    for _ in range(2):
        group = _describe(ec)
        assert group["Status"] == "modifying"
        progress.append(group["PendingModifiedValues"]["Resharding"]["SlotMigration"])
    assert progress[0]["ProgressPercentage"] < progress[1]["ProgressPercentage"] < 100
    group = _describe(ec)
    assert group["Status"] == "available"
    assert len(group["NodeGroups"]) == 4
    _assert_slots_cover_once(group)


def test_equal_count_is_an_online_rebalance(ec: Any) -> None:
    _create(ec)
    assert _reshard(ec, 3)["Status"] == "modifying"
    ext.complete_pending_changes()
    group = _describe(ec)
    assert group["Status"] == "available"
    assert [ng["Slots"] for ng in group["NodeGroups"]] == ["0-5461", "5462-10922", "10923-16383"]


def test_not_found(ec: Any) -> None:
    with pytest.raises(ec.exceptions.ReplicationGroupNotFoundFault):
        _reshard(ec, 4, "nope")


def test_second_change_while_modifying_is_refused(ec: Any) -> None:
    _create(ec)
    _reshard(ec, 4)
    with pytest.raises(ec.exceptions.InvalidReplicationGroupStateFault):
        _reshard(ec, 5)
    ext.complete_pending_changes()
    assert _reshard(ec, 5)["Status"] == "modifying"


def test_apply_immediately_false_is_refused(ec: Any) -> None:
    _create(ec)
    with pytest.raises(ClientError) as exc:
        ec.modify_replication_group_shard_configuration(
            ReplicationGroupId="cache", NodeGroupCount=4, ApplyImmediately=False
        )
    assert _error(exc) == "InvalidParameterValue"
    assert _describe(ec)["Status"] == "available"


@pytest.mark.parametrize(
    ("count", "kwargs", "code"),
    [
        (2, {}, "InvalidParameterValue"),  # scale in without naming groups
        (2, {"NodeGroupsToRemove": ["0009"]}, "InvalidParameterValue"),  # no such group
        (2, {"NodeGroupsToRetain": ["0001", "0009"]}, "InvalidParameterValue"),
        (1, {"NodeGroupsToRemove": ["0002"]}, "InvalidParameterValue"),  # leaves 2, not 1
        (2, {"NodeGroupsToRemove": ["0002"], "NodeGroupsToRetain": ["0001", "0003"]},
         "InvalidParameterCombination"),
        (4, {"NodeGroupsToRemove": ["0002"]}, "InvalidParameterCombination"),
        (2, {"NodeGroupsToRemove": ["0003"], "ReshardingConfiguration": [{"NodeGroupId": "0001"}]},
         "InvalidParameterCombination"),
        (0, {}, "InvalidParameterValue"),
        (501, {}, "NodeGroupsPerReplicationGroupQuotaExceeded"),
    ],
)  # fmt: skip
def test_invalid_requests_are_refused(ec: Any, count: int, kwargs: Any, code: str) -> None:
    _create(ec)
    with pytest.raises(ClientError) as exc:
        _reshard(ec, count, **kwargs)
    assert _error(exc) == code
    group = _describe(ec)
    assert group["Status"] == "available"
    assert _ids(group) == ["0001", "0002", "0003"]


def test_quota_error_is_botocores_modelled_fault(ec: Any) -> None:
    _create(ec)
    with pytest.raises(ec.exceptions.NodeGroupsPerReplicationGroupQuotaExceededFault):
        _reshard(ec, 501)


def test_install_is_idempotent_and_uninstall_restores_plain_moto() -> None:
    ext.uninstall()
    ext.install()
    ext.install()
    ext.uninstall()
    ext.uninstall()
    with mock_aws():
        client = boto3.client("elasticache", region_name=REGION)
        group = _create(client, shards=5)
        # Plain moto: its hard-coded 5461-slot ranges run past slot 16383.
        assert group["NodeGroups"][-1]["Slots"] != "13108-16383"
        with pytest.raises(NotImplementedError):  # moto's answer to an unknown action
            _reshard(client, 6)
    ext.install()
    with mock_aws():
        client = boto3.client("elasticache", region_name=REGION)
        _assert_slots_cover_once(_create(client, shards=5))
    ext.uninstall()
