"""moto with the Memcached extension adds and removes cache nodes as AWS does, on demand.

Every call goes through boto3, so botocore serialises each request and parses each response
with ElastiCache's own shapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from scaleahead_testkit import moto_elasticache
from scaleahead_testkit import moto_memcached as ext

REGION = "us-east-1"


@pytest.fixture
def ec() -> Iterator[Any]:
    ext.uninstall()
    ext.install()
    with mock_aws():
        yield boto3.client("elasticache", region_name=REGION)
    ext.uninstall()


def _create(client: Any, cc_id: str = "mc", nodes: int = 2, **kwargs: Any) -> Any:
    return client.create_cache_cluster(
        CacheClusterId=cc_id,
        Engine="memcached",
        CacheNodeType="cache.t4g.small",
        NumCacheNodes=nodes,
        **kwargs,
    )["CacheCluster"]


def _describe(client: Any, cc_id: str = "mc", nodes: bool = True) -> Any:
    answer = client.describe_cache_clusters(CacheClusterId=cc_id, ShowCacheNodeInfo=nodes)
    return answer["CacheClusters"][0]


def _modify(client: Any, count: int | None, cc_id: str = "mc", **kwargs: Any) -> Any:
    params: dict[str, Any] = {"CacheClusterId": cc_id, "ApplyImmediately": True, **kwargs}
    if count is not None:
        params["NumCacheNodes"] = count
    return client.modify_cache_cluster(**params)["CacheCluster"]


def _nodes(cluster: Any) -> list[tuple[str, str]]:
    return [(n["CacheNodeId"], n["CacheNodeStatus"]) for n in cluster["CacheNodes"]]


def _available(*ids: str) -> list[tuple[str, str]]:
    return [(i, "available") for i in ids]


def _error(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _assert_settled(cluster: Any, count: int) -> None:
    assert cluster["CacheClusterStatus"] == "available"
    assert cluster["NumCacheNodes"] == count
    assert "PendingModifiedValues" not in cluster or not cluster["PendingModifiedValues"]


def test_create_lists_nodes_only_with_show_cache_node_info(ec: Any) -> None:
    created = _create(ec, nodes=3, PreferredAvailabilityZones=["us-east-1b", "us-east-1c"])
    assert "CacheNodes" not in created
    assert "CacheNodes" not in _describe(ec, nodes=False)
    cluster = _describe(ec)
    _assert_settled(cluster, 3)
    assert _nodes(cluster) == _available("0001", "0002", "0003")
    first = cluster["CacheNodes"][0]
    assert first["Endpoint"]["Port"] == 11211
    assert first["Endpoint"]["Address"].startswith("mc.")
    assert ".0001.use1.cache.amazonaws.com" in first["Endpoint"]["Address"]
    assert isinstance(first["CacheNodeCreateTime"], datetime)
    assert {n["ParameterGroupStatus"] for n in cluster["CacheNodes"]} == {"in-sync"}
    azs = [n["CustomerAvailabilityZone"] for n in cluster["CacheNodes"]]
    assert azs == ["us-east-1b", "us-east-1c", "us-east-1a"]
    assert cluster["ConfigurationEndpoint"]["Port"] == 11211
    assert ".cfg." in cluster["ConfigurationEndpoint"]["Address"]


@pytest.mark.parametrize(
    ("nodes", "code"), [(0, "InvalidParameterValue"), (41, "NodeQuotaForClusterExceeded")]
)
def test_create_refuses_node_counts_outside_1_to_40(ec: Any, nodes: int, code: str) -> None:
    with pytest.raises(ClientError) as exc:
        _create(ec, nodes=nodes)
    assert _error(exc) == code
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert ec.describe_cache_clusters()["CacheClusters"] == []
    assert len(_describe(ec, _create(ec, "forty", 40)["CacheClusterId"])["CacheNodes"]) == 40


def test_scale_out_is_modifying_until_completed(ec: Any) -> None:
    _create(ec, nodes=2)
    answered = _modify(ec, 5)
    for cluster in (answered, _describe(ec), _describe(ec)):
        assert cluster["CacheClusterStatus"] == "modifying"
        assert cluster["NumCacheNodes"] == 2
        assert cluster["PendingModifiedValues"] == {"NumCacheNodes": 5}
        assert _nodes(cluster) == [
            *_available("0001", "0002"),
            ("0003", "creating"),
            ("0004", "creating"),
            ("0005", "creating"),
        ]
        for node in cluster["CacheNodes"][2:]:  # not shown until provisioned
            assert "Endpoint" not in node and "CacheNodeCreateTime" not in node
    assert "CacheNodes" not in _describe(ec, nodes=False)
    assert ext.pending_node_count("mc") == 5

    assert ext.complete_pending_changes() == ["mc"]
    cluster = _describe(ec)
    _assert_settled(cluster, 5)
    assert _nodes(cluster) == _available("0001", "0002", "0003", "0004", "0005")
    assert all(n["Endpoint"]["Port"] == 11211 for n in cluster["CacheNodes"])
    assert ext.pending_node_count("mc") is None
    assert ext.complete_pending_changes() == []


def test_scale_in_removes_exactly_the_named_nodes(ec: Any) -> None:
    _create(ec, nodes=5)
    answered = _modify(ec, 3, CacheNodeIdsToRemove=["0002", "0004"])
    assert answered["CacheClusterStatus"] == "modifying"
    assert answered["NumCacheNodes"] == 5
    assert answered["PendingModifiedValues"] == {
        "NumCacheNodes": 3,
        "CacheNodeIdsToRemove": ["0002", "0004"],
    }
    cluster = _describe(ec)
    assert _nodes(cluster) == _available("0001", "0002", "0003", "0004", "0005")
    assert [("Endpoint" in n) for n in cluster["CacheNodes"]] == [True, False, True, False, True]

    assert ext.complete_pending_changes(cache_cluster_id="mc") == ["mc"]
    cluster = _describe(ec)
    _assert_settled(cluster, 3)
    assert _nodes(cluster) == _available("0001", "0003", "0005")
    # Numbering goes on from the highest id left.
    assert [n for n, _ in _nodes(_modify(ec, 4))] == ["0001", "0003", "0005", "0006"]


@pytest.mark.parametrize(
    ("count", "kwargs", "code"),
    [
        (1, {"CacheNodeIdsToRemove": ["0001"]}, "InvalidParameterValue"),  # 2 ids are needed
        (1, {"CacheNodeIdsToRemove": ["0001", "0001"]}, "InvalidParameterValue"),
        (2, {}, "InvalidParameterValue"),  # removing without naming the nodes
        (2, {"CacheNodeIdsToRemove": ["0009"]}, "InvalidParameterValue"),
        (2, {"CacheNodeIdsToRemove": ["1"]}, "InvalidParameterValue"),
        (5, {"CacheNodeIdsToRemove": ["0001"]}, "InvalidParameterValue"),  # ids on a scale-out
        (3, {"CacheNodeIdsToRemove": ["0001"]}, "InvalidParameterValue"),
        (None, {"CacheNodeIdsToRemove": ["0001"]}, "InvalidParameterValue"),
        (0, {}, "InvalidParameterValue"),
        (41, {}, "NodeQuotaForClusterExceeded"),
    ],
)
def test_invalid_requests_are_refused(ec: Any, count: int, kwargs: Any, code: str) -> None:
    _create(ec, nodes=3)
    with pytest.raises(ClientError) as exc:
        _modify(ec, count, **kwargs)
    assert _error(exc) == code
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    cluster = _describe(ec)
    _assert_settled(cluster, 3)
    assert _nodes(cluster) == _available("0001", "0002", "0003")


def test_unknown_cluster_is_not_found(ec: Any) -> None:
    with pytest.raises(ClientError) as exc:
        _modify(ec, 3, cc_id="missing")
    assert _error(exc) == "CacheClusterNotFound"


def test_deleting_cluster_is_refused_and_shows_no_nodes(ec: Any) -> None:
    _create(ec)
    ec.delete_cache_cluster(CacheClusterId="mc")  # moto keeps it, "deleting"
    with pytest.raises(ClientError) as exc:
        _modify(ec, 3)
    assert _error(exc) == "InvalidCacheClusterState"
    cluster = _describe(ec)
    assert cluster["CacheClusterStatus"] == "deleting"
    assert "CacheNodes" not in cluster


def test_redis_and_valkey_clusters_have_one_node(ec: Any) -> None:
    for engine in ("redis", "valkey"):
        ec.create_cache_cluster(
            CacheClusterId=engine, Engine=engine, CacheNodeType="cache.t3.micro"
        )
        with pytest.raises(ClientError) as exc:
            _modify(ec, 2, cc_id=engine)
        assert _error(exc) == "InvalidParameterValue"
        cluster = _modify(ec, 1, cc_id=engine)
        _assert_settled(cluster, 1)
        assert _nodes(cluster) == _available("0001")
        assert cluster["CacheNodes"][0]["Endpoint"]["Port"] == 6379


def test_a_new_request_replaces_the_pending_one_and_equal_count_cancels(ec: Any) -> None:
    _create(ec, nodes=3)
    _modify(ec, 6)
    with pytest.raises(ClientError) as exc:  # a pending increase is not cut back by fewer adds
        _modify(ec, 4)
    assert _error(exc) == "InvalidParameterValue"
    assert _describe(ec)["PendingModifiedValues"] == {"NumCacheNodes": 6}

    more = _modify(ec, 7)
    assert more["PendingModifiedValues"] == {"NumCacheNodes": 7}
    assert [n for n, s in _nodes(more) if s == "creating"] == ["0004", "0005", "0006", "0007"]

    scale_in = _modify(ec, 2, CacheNodeIdsToRemove=["0003"])  # replaces the pending addition
    assert scale_in["CacheClusterStatus"] == "modifying"
    pending = scale_in["PendingModifiedValues"]
    assert pending == {"NumCacheNodes": 2, "CacheNodeIdsToRemove": ["0003"]}
    assert _nodes(scale_in) == _available("0001", "0002", "0003")
    assert ext.pending_node_count("mc") == 2

    cancelled = _modify(ec, 3)
    _assert_settled(cancelled, 3)
    assert _nodes(cancelled) == _available("0001", "0002", "0003")
    assert ext.pending_node_count("mc") is None
    assert ext.complete_pending_changes() == []
    assert _nodes(_describe(ec)) == _available("0001", "0002", "0003")


def test_without_apply_immediately_the_change_waits_for_the_window(ec: Any) -> None:
    _create(ec, nodes=2)
    ext.set_describes_until_complete(0)
    for request in (
        {"NumCacheNodes": 4},  # ApplyImmediately defaults to false
        {"NumCacheNodes": 4, "ApplyImmediately": False},
    ):
        cluster = ec.modify_cache_cluster(CacheClusterId="mc", **request)["CacheCluster"]
        for c in (cluster, _describe(ec), _describe(ec)):
            _assert_settled({**c, "PendingModifiedValues": None}, 2)
            assert c["PendingModifiedValues"] == {"NumCacheNodes": 4}
            assert _nodes(c) == _available("0001", "0002")
    assert ext.complete_pending_changes() == []
    assert ext.pending_node_count("mc") == 4

    # ApplyImmediately applies "the modifications in this request and any pending modifications".
    started = _modify(ec, None)
    assert started["CacheClusterStatus"] == "modifying"
    assert [n for n, s in _nodes(started) if s == "creating"] == ["0003", "0004"]
    _assert_settled(_describe(ec), 4)  # the knob (0) finishes it on the first describe


def test_completes_after_n_describes_when_asked(ec: Any) -> None:
    _create(ec, nodes=2)
    ext.set_describes_until_complete(2)
    _modify(ec, 5)
    assert _describe(ec)["CacheClusterStatus"] == "modifying"
    assert ec.describe_cache_clusters()["CacheClusters"][0]["CacheClusterStatus"] == "modifying"
    cluster = _describe(ec)
    _assert_settled(cluster, 5)
    assert _nodes(cluster) == _available("0001", "0002", "0003", "0004", "0005")
    with pytest.raises(ValueError):
        ext.set_describes_until_complete(-1)


def test_describe_pages_with_node_info(ec: Any) -> None:
    for i in range(3):
        _create(ec, f"mc{i}", nodes=i + 1)
    first = ec.describe_cache_clusters(MaxRecords=2, ShowCacheNodeInfo=True)
    rest = ec.describe_cache_clusters(MaxRecords=2, ShowCacheNodeInfo=True, Marker=first["Marker"])
    assert "Marker" not in rest
    clusters = first["CacheClusters"] + rest["CacheClusters"]
    assert [(c["CacheClusterId"], len(c["CacheNodes"])) for c in clusters] == [
        ("mc0", 1),
        ("mc1", 2),
        ("mc2", 3),
    ]
    with pytest.raises(ClientError) as exc:
        ec.describe_cache_clusters(CacheClusterId="missing")
    assert _error(exc) == "CacheClusterNotFound"


def test_tags_on_the_cluster_arn_work(ec: Any) -> None:
    arn = _create(ec, Tags=[{"Key": "team", "Value": "web"}])["ARN"]
    ec.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "scaleahead", "Value": "on"}])
    assert ec.list_tags_for_resource(ResourceName=arn)["TagList"] == [
        {"Key": "team", "Value": "web"},
        {"Key": "scaleahead", "Value": "on"},
    ]


def test_other_modifications_are_not_modelled(ec: Any) -> None:
    _create(ec)
    with pytest.raises(NotImplementedError):
        _modify(ec, 3, CacheNodeType="cache.r7g.large")
    _assert_settled(_describe(ec), 2)


def test_coexists_with_the_shard_extension(ec: Any) -> None:
    moto_elasticache.install()
    try:
        ec.create_replication_group(
            ReplicationGroupId="cache", ReplicationGroupDescription="d", Engine="valkey",
            ClusterMode="enabled", NumNodeGroups=2,
        )  # fmt: skip
        _create(ec)
        ec.modify_replication_group_shard_configuration(
            ReplicationGroupId="cache", NodeGroupCount=3, ApplyImmediately=True
        )
        _modify(ec, 3)
        assert moto_elasticache.complete_pending_changes() == ["cache"]
        assert ext.complete_pending_changes() == ["mc"]
        _assert_settled(_describe(ec), 3)
        group = ec.describe_replication_groups(ReplicationGroupId="cache")["ReplicationGroups"][0]
        assert len(group["NodeGroups"]) == 3
        moto_elasticache.uninstall()
        _modify(ec, 4)  # this extension still answers
    finally:
        moto_elasticache.uninstall()


def test_install_is_idempotent_and_uninstall_restores_plain_moto() -> None:
    ext.uninstall()
    ext.install()
    ext.install()
    ext.set_describes_until_complete(3)
    ext.uninstall()
    ext.uninstall()
    assert ext._describes_until_complete is None
    with mock_aws():
        client = boto3.client("elasticache", region_name=REGION)
        # Plain moto takes 41 nodes and silently leaves NumCacheNodes out.
        assert "NumCacheNodes" not in _create(client, "big", nodes=41)
        _create(client)
        assert "CacheNodes" not in _describe(client)
        with pytest.raises(NotImplementedError):  # moto's answer to an unknown action
            _modify(client, 3)
    ext.uninstall()
