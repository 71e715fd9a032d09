"""The Aurora adapter against moto's RDS (with the documented knobs of demo/moto_rds.py).

The cluster ``orders`` has a writer (``orders-writer``, db.r6g.large, parameter group
``orders-pg``) in the subnet group ``orders-subnets``; the target ``reports`` drives its readers.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scaleahead.aws.aurora import AuroraAdapter, reader_id_base
from scaleahead.domain.aurora_readers import (
    Cluster,
    Instance,
    ceiling,
    instance_classes,
    owned,
    reading_floor,
    removable,
    scale_in_floor,
)
from scaleahead.domain.target import AuroraTarget, parse_target
from scaleahead.service.ports import CapacityPort, NotDrivable, NotFound
from scaleahead_testkit import moto_rds
from scaleahead_tools.demo.stack import db_subnet_group
from tests.conftest import make_target, target_dict

CLUSTER = "orders"
WRITER = "orders-writer"
WRITER_CLASS = "db.r6g.large"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def aurora_target(**over: Any) -> AuroraTarget:
    data = target_dict(id="reports", kind="aurora", resource={"cluster": CLUSTER})
    data.update(min_capacity=0, max_capacity=5)
    data.update(over)
    target = parse_target(data)
    assert isinstance(target, AuroraTarget)
    return target


@dataclass
class Rds:
    client: Any
    adapter: AuroraAdapter

    def instances(self, cluster: str = CLUSTER) -> dict[str, dict[str, Any]]:
        out = self.client.describe_db_instances(
            Filters=[{"Name": "db-cluster-id", "Values": [cluster]}]
        )
        return {i["DBInstanceIdentifier"]: i for i in out["DBInstances"]}

    def readers(self, cluster: str = CLUSTER) -> set[str]:
        c = self.client.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]
        return {
            m["DBInstanceIdentifier"] for m in c["DBClusterMembers"] if not m["IsClusterWriter"]
        }

    def add_instance(
        self,
        ident: str,
        *,
        tags: dict[str, str] | None = None,
        cluster: str = CLUSTER,
        age_days: float | None = None,
    ) -> None:
        """An instance made outside the adapter (the writer, a user's reader, an old one)."""
        self.client.create_db_instance(
            DBInstanceIdentifier=ident,
            DBClusterIdentifier=cluster,
            Engine="aurora-postgresql",
            DBInstanceClass=WRITER_CLASS,
            DBParameterGroupName="orders-pg",
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        )
        if age_days is not None:
            moto_rds.set_instance_create_time(ident, T0 - timedelta(days=age_days))

    def scale(self, target: AuroraTarget, desired: int) -> Any:
        return self.adapter.set_capacity(target, desired, self.adapter.read(target))


@functools.cache
def _clients() -> tuple[Any, Any]:
    """EC2 and RDS clients for the whole module: moto intercepts them inside each ``mock_aws``
    (its hook is botocore's), and building clients is most of a test's time."""
    session = boto3.session.Session(region_name="us-east-1")
    return session.client("ec2"), session.client("rds")


def create_cluster(ec2: Any, client: Any, *, tagged: bool = True) -> None:
    """The cluster ``orders`` with its subnet and parameter groups (no instances yet); tagged
    ``scaleahead:managed`` as a user hands it over (`targets apply` refuses it untagged)."""
    db_subnet_group(client, ec2, "orders-subnets")
    client.create_db_parameter_group(
        DBParameterGroupName="orders-pg",
        DBParameterGroupFamily="aurora-postgresql15",
        Description="orders",
    )
    client.create_db_cluster(
        DBClusterIdentifier=CLUSTER,
        Engine="aurora-postgresql",
        MasterUsername="admin1",
        MasterUserPassword="not-a-secret-1",
        DBSubnetGroupName="orders-subnets",
        Tags=[{"Key": "scaleahead:managed", "Value": "true"}] if tagged else [],
    )


@pytest.fixture
def rds(monkeypatch: pytest.MonkeyPatch) -> Iterator[Rds]:
    # The subnet group needs EC2 subnets; EC2's default AMI catalogue (a second per test) not.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    moto_rds.install()
    try:
        with mock_aws():
            ec2, client = _clients()
            create_cluster(ec2, client)
            env = Rds(client, AuroraAdapter(client))
            env.add_instance(WRITER, age_days=30)
            yield env
    finally:
        moto_rds.uninstall()


def own_tags(target: str = "reports") -> dict[str, str]:
    return {"scaleahead:managed": "true", "scaleahead:target": target}


# -- reading ----------------------------------------------------------------------------------


def test_capacity_is_available_readers_never_the_writer(rds: Rds) -> None:
    rds.add_instance("orders-user-reader", age_days=10)
    r = rds.adapter.read(aurora_target())
    assert (r.desired, r.ready, r.busy) == (1, 1, None)
    assert r.scale_in_floor is None and r.scale_in_floor_reason == ""


def test_keep_one_reader_sets_the_scale_in_floor(rds: Rds) -> None:
    r = rds.adapter.read(aurora_target(keep_one_reader=True))
    assert (r.scale_in_floor, r.scale_in_floor_reason) == (1, "keep_one_reader")


def test_missing_cluster_is_resource_not_found(rds: Rds) -> None:
    t = aurora_target(resource={"cluster": "nope"})
    with pytest.raises(NotFound, match="nope"):
        rds.adapter.read(t)
    with pytest.raises(NotFound, match="nope"):
        rds.adapter.set_capacity(t, 2, rds.adapter.read(aurora_target()))


def test_refuses_other_kinds(rds: Rds) -> None:
    with pytest.raises(NotDrivable, match="Aurora adapter cannot drive a ecs target"):
        rds.adapter.read(make_target())
    with pytest.raises(NotDrivable, match="ecs"):
        rds.adapter.set_capacity(make_target(), 2, rds.adapter.read(aurora_target()))


def test_is_a_capacity_adapter(rds: Rds) -> None:
    adapter: CapacityPort = rds.adapter
    assert adapter.read(aurora_target()).desired == 0


# -- scale out --------------------------------------------------------------------------------


def test_scale_out_adds_readers_like_the_writer(rds: Rds) -> None:
    t = aurora_target()
    act = rds.scale(t, 2)
    assert act.applied and act.desired == 2
    ids = [f"orders-sa-reports-{n}" for n in (1, 2)]
    assert rds.readers() == set(ids)
    for ident in ids:
        assert ident in act.detail
        db = rds.instances()[ident]
        assert db["DBInstanceClass"] == WRITER_CLASS
        assert db["PromotionTier"] == 15
        assert db["Engine"] == "aurora-postgresql"
        assert db["DBSubnetGroup"]["DBSubnetGroupName"] == "orders-subnets"
        assert [g["DBParameterGroupName"] for g in db["DBParameterGroups"]] == ["orders-pg"]
        assert {x["Key"]: x["Value"] for x in db["TagList"]} == own_tags()
    r = rds.adapter.read(t)
    assert (r.desired, r.ready) == (2, 2)


def test_scale_out_uses_the_configured_class(rds: Rds) -> None:
    rds.scale(aurora_target(instance_class="db.r6g.xlarge"), 1)
    assert rds.instances()["orders-sa-reports-1"]["DBInstanceClass"] == "db.r6g.xlarge"


def test_scale_out_takes_the_lowest_free_number(rds: Rds) -> None:
    t = aurora_target()
    rds.scale(t, 3)
    rds.client.delete_db_instance(
        DBInstanceIdentifier="orders-sa-reports-2", SkipFinalSnapshot=True
    )
    act = rds.scale(t, 4)
    assert act.applied and act.desired == 4
    assert rds.readers() == {f"orders-sa-reports-{n}" for n in (1, 2, 3, 4)}


def test_no_call_when_already_there(rds: Rds) -> None:
    t = aurora_target()
    rds.scale(t, 2)
    act = rds.scale(t, 2)
    assert not act.applied and act.desired == 2 and len(rds.readers()) == 2


def test_long_names_stay_within_63_characters_and_distinct() -> None:
    cluster = "c" + "x" * 50
    a, b = reader_id_base(cluster, "t" * 40 + "a"), reader_id_base(cluster, "t" * 40 + "b")
    assert a != b
    assert len(a) + len("-15") <= 63 and len(b) + len("-15") <= 63
    assert a == reader_id_base(cluster, "t" * 40 + "a")  # deterministic
    assert "--" not in reader_id_base("orders", "a--b-") and not reader_id_base("x", "y-").endswith(
        "-"
    )


def test_long_names_are_accepted_by_rds(rds: Rds) -> None:
    cluster = "orders-" + "x" * 50
    rds.client.create_db_cluster(
        DBClusterIdentifier=cluster,
        Engine="aurora-postgresql",
        MasterUsername="admin1",
        MasterUserPassword="not-a-secret-1",
        DBSubnetGroupName="orders-subnets",
    )
    rds.add_instance("long-writer", cluster=cluster)
    t = aurora_target(id="t" * 40, resource={"cluster": cluster})
    act = rds.scale(t, 2)
    assert act.applied and act.desired == 2
    ids = rds.readers(cluster)
    assert len(ids) == 2 and all(len(i) <= 63 for i in ids)


def test_never_the_first_instance_of_a_cluster(rds: Rds) -> None:
    """Without a writer, a new instance would become the writer: no reader is added."""
    rds.client.create_db_cluster(
        DBClusterIdentifier="empty",
        Engine="aurora-postgresql",
        MasterUsername="admin1",
        MasterUserPassword="not-a-secret-1",
    )
    t = aurora_target(resource={"cluster": "empty"}, instance_class="db.r6g.large")
    act = rds.scale(t, 1)
    assert not act.applied and "no writer" in act.detail
    assert rds.instances("empty") == {}


# -- bounds -----------------------------------------------------------------------------------


def test_scale_out_never_beyond_max_capacity(rds: Rds) -> None:
    act = rds.scale(aurora_target(max_capacity=3), 5)
    assert act.applied and act.desired == 3 and len(rds.readers()) == 3
    assert "capped at 3" in act.detail


def test_scale_out_never_beyond_15_readers(rds: Rds) -> None:
    for n in range(13):
        rds.add_instance(f"orders-user-{n}")
    act = rds.scale(aurora_target(max_capacity=15), 20)
    assert act.applied and act.desired == 15
    assert len(rds.readers()) == 15
    assert not rds.scale(aurora_target(max_capacity=15), 16).applied
    assert len(rds.readers()) == 15
    # Even a target that slipped past validation (max_capacity is 1..15) gets no 16th reader.
    unchecked = aurora_target(max_capacity=15).model_copy(update={"max_capacity": 20})
    assert not rds.scale(unchecked, 16).applied
    assert len(rds.readers()) == 15


def test_scale_in_never_below_min_capacity(rds: Rds) -> None:
    t = aurora_target(min_capacity=2)
    rds.scale(t, 3)
    act = rds.scale(t, 0)
    assert act.applied and act.desired == 2 and len(rds.readers()) == 2
    assert "min_capacity 2" in act.detail
    act = rds.scale(t, 0)
    assert not act.applied and len(rds.readers()) == 2


def test_scale_in_keeps_one_reader(rds: Rds) -> None:
    t = aurora_target(keep_one_reader=True)
    rds.scale(t, 2)
    act = rds.scale(t, 0)
    assert act.applied and act.desired == 1 and len(rds.readers()) == 1
    assert "keep_one_reader" in act.detail
    assert not rds.scale(t, 0).applied and len(rds.readers()) == 1


# -- scale in ---------------------------------------------------------------------------------


def test_scale_in_removes_the_newest_own_reader_first(rds: Rds) -> None:
    t = aurora_target()
    rds.scale(t, 3)
    # Creation order is not age order: -2 is the newest, then -1, then -3.
    for ident, days in [("orders-sa-reports-1", 2), ("orders-sa-reports-2", 1)]:
        moto_rds.set_instance_create_time(ident, T0 - timedelta(days=days))
    moto_rds.set_instance_create_time("orders-sa-reports-3", T0 - timedelta(days=3))
    act = rds.scale(t, 2)
    assert act.applied and act.desired == 2
    assert rds.readers() == {"orders-sa-reports-1", "orders-sa-reports-3"}
    rds.scale(t, 1)
    assert rds.readers() == {"orders-sa-reports-3"}


def test_scale_in_never_removes_a_users_or_another_targets_reader(rds: Rds) -> None:
    t = aurora_target(max_capacity=6)
    rds.add_instance("orders-user-reader", age_days=1)  # newest of all, untagged
    rds.add_instance("orders-half-tagged", tags={"scaleahead:managed": "true"}, age_days=1)
    rds.add_instance("orders-target-only", tags={"scaleahead:target": "reports"}, age_days=1)
    rds.add_instance("orders-other", tags=own_tags("other"), age_days=1)
    users = {"orders-user-reader", "orders-half-tagged", "orders-target-only", "orders-other"}
    rds.scale(t, 6)  # two of ours
    act = rds.scale(t, 0)
    assert act.applied and act.desired == 4
    assert rds.readers() == users
    assert "only 2 of 6" in act.detail
    act = rds.scale(t, 0)
    assert not act.applied and act.desired == 4 and "no reader removed" in act.detail
    assert WRITER in rds.instances()


def test_scale_in_never_removes_the_writer_even_one_it_created(rds: Rds) -> None:
    """After a failover onto a scaleahead reader, that reader is the writer: it stays."""
    t = aurora_target()
    rds.scale(t, 2)
    moto_rds.set_instance_create_time("orders-sa-reports-1", T0 - timedelta(days=2))
    moto_rds.set_instance_create_time("orders-sa-reports-2", T0 - timedelta(days=1))
    rds.client.failover_db_cluster(
        DBClusterIdentifier=CLUSTER, TargetDBInstanceIdentifier="orders-sa-reports-2"
    )
    r = rds.adapter.read(t)
    assert r.desired == 2  # the old writer is now a (user's) reader
    act = rds.scale(t, 0)
    assert act.applied and act.desired == 1
    assert set(rds.instances()) == {WRITER, "orders-sa-reports-2"}
    assert rds.readers() == {WRITER}


def test_scale_in_deletes_without_a_final_snapshot(rds: Rds) -> None:
    t = aurora_target()
    rds.scale(t, 1)
    rds.scale(t, 0)
    snaps = rds.client.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    assert snaps == [] and rds.readers() == set()


# -- one change in flight ----------------------------------------------------------------------


def test_a_creating_reader_is_busy_and_already_asked_for(rds: Rds) -> None:
    t = aurora_target()
    moto_rds.set_create_status("creating")
    rds.scale(t, 2)
    r = rds.adapter.read(t)
    assert (r.desired, r.ready) == (2, 0)
    assert r.busy and "orders-sa-reports-1 is creating" in r.busy
    act = rds.adapter.set_capacity(t, 4, r)
    assert not act.applied and act.desired == 2 and len(rds.readers()) == 2
    moto_rds.complete_pending()
    r = rds.adapter.read(t)
    assert (r.desired, r.ready, r.busy) == (2, 2, None)


def test_cluster_not_available_is_busy(rds: Rds) -> None:
    t = aurora_target()
    moto_rds.set_cluster_status(CLUSTER, "modifying")
    r = rds.adapter.read(t)
    assert r.busy == f"DB cluster {CLUSTER} is modifying"
    act = rds.adapter.set_capacity(t, 2, r)
    assert not act.applied and rds.readers() == set()


def test_writer_not_available_is_busy(rds: Rds) -> None:
    moto_rds.set_instance_status(WRITER, "modifying")
    r = rds.adapter.read(aurora_target())
    assert r.busy and f"{WRITER} is modifying" in r.busy


# -- capacity fallback ------------------------------------------------------------------------


def test_insufficient_capacity_falls_back_in_order(rds: Rds) -> None:
    moto_rds.set_unavailable_classes({WRITER_CLASS})
    t = aurora_target(fallback_instance_classes=["db.r5.large", "db.r6i.large"])
    act = rds.scale(t, 2)
    assert act.applied and act.desired == 2
    classes = {i: d["DBInstanceClass"] for i, d in rds.instances().items() if i != WRITER}
    assert classes == {"orders-sa-reports-1": "db.r5.large", "orders-sa-reports-2": "db.r5.large"}
    assert f"InsufficientDBInstanceCapacity for {WRITER_CLASS}" in act.detail


def test_insufficient_capacity_for_every_class_is_not_applied(rds: Rds) -> None:
    moto_rds.set_unavailable_classes({WRITER_CLASS, "db.r5.large", "db.r6i.large"})
    t = aurora_target(fallback_instance_classes=["db.r5.large", "db.r6i.large"])
    act = rds.scale(t, 2)
    assert not act.applied and act.desired == 0
    assert f"{WRITER_CLASS}, db.r5.large, db.r6i.large" in act.detail
    assert rds.readers() == set()


# -- the reader rules, pure (domain.aurora_readers) ---------------------------------------------


def _instance(ident: str, status: str = "available", **over: Any) -> Instance:
    fields: dict[str, Any] = {
        "id": ident,
        "status": status,
        "writer": False,
        "instance_class": WRITER_CLASS,
        "parameter_group": None,
        "publicly_accessible": None,
        "created": None,
        **over,
    }
    return Instance(**fields)


def _cluster(*instances: Instance, status: str = "available", undescribed: tuple[str, ...] = ()):
    return Cluster(CLUSTER, status, "aurora-postgresql", None, instances, undescribed)


def test_readers_are_counted_never_the_writer() -> None:
    c = _cluster(
        _instance(WRITER, writer=True),
        _instance("a"),
        _instance("b", "creating"),  # asked for: counts, not ready
        _instance("c", "deleting"),  # going away
        _instance("d", "incompatible-parameters"),  # will not serve without help
    )
    assert c.writer is not None and c.writer.id == WRITER
    assert [r.id for r in c.readers] == ["a", "b", "c", "d"]
    assert (c.desired, c.ready) == (2, 1)
    assert c.busy == "DB cluster orders: b is creating, c is deleting, d is incompatible-parameters"
    assert _cluster(_instance("a"), undescribed=("x",)).busy == (
        "DB cluster orders: x is not described yet"
    )
    assert _cluster(status="modifying").busy == "DB cluster orders is modifying"
    assert _cluster(_instance("a")).busy is None


def test_only_the_targets_own_readers_go_newest_first() -> None:
    t = aurora_target()
    own = own_tags()
    c = _cluster(
        _instance(WRITER, writer=True, tags=own),  # a writer it created is still the writer
        _instance("old", tags=own, created=T0 - timedelta(days=2)),
        _instance("new", tags=own, created=T0),
        _instance("user", created=T0),
        _instance("other", tags=own_tags("elsewhere"), created=T0),
    )
    assert [r.id for r in removable(c, t)] == ["new", "old"]
    assert owned(own, "reports") and not owned({**own, "scaleahead:managed": "no"}, "reports")


def test_floors_ceiling_and_classes() -> None:
    assert reading_floor(aurora_target()) == (None, "")
    assert reading_floor(aurora_target(keep_one_reader=True)) == (1, "keep_one_reader")
    assert scale_in_floor(aurora_target(min_capacity=2)) == (2, "min_capacity 2")
    assert scale_in_floor(aurora_target(keep_one_reader=True)) == (1, "keep_one_reader")
    assert scale_in_floor(aurora_target(min_capacity=3, keep_one_reader=True))[0] == 3
    assert ceiling(aurora_target(max_capacity=5)) == 5
    assert ceiling(aurora_target(max_capacity=15)) == 15
    writer = _instance(WRITER, writer=True)
    t = aurora_target(fallback_instance_classes=[WRITER_CLASS, "db.r5.large"])
    assert instance_classes(t, writer) == [WRITER_CLASS, "db.r5.large"]
    t = aurora_target(instance_class="db.r7g.large", fallback_instance_classes=[WRITER_CLASS])
    assert instance_classes(t, writer) == ["db.r7g.large", WRITER_CLASS]
