"""`targets apply` checks what it takes over: the managed tag on the resource (all three kinds,
`--tag` adds it) and Application Auto Scaling on the same capacity (refused with its names,
`--take-over` suspends it and records what it suspended, `targets remove` restores it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from scaleahead.domain.target import TargetError
from scaleahead_testkit import moto_rds
from scaleahead_tools.cli import targets as tg
from scaleahead_tools.cli.main import main
from tests.conftest import Aws, make_target, target_dict
from tests.test_aurora_adapter import WRITER, Rds, aurora_target, create_cluster
from tests.test_cli import alarms, write
from tests.test_elasticache_adapter import cache_target, create

MANAGED = {"scaleahead:managed": "true"}
ALL_SUSPENDED = {
    "DynamicScalingInSuspended": True,
    "DynamicScalingOutSuspended": True,
    "ScheduledScalingSuspended": True,
}
NONE_SUSPENDED = {k: False for k in ALL_SUSPENDED}


def untagged_message(target: str, what: str) -> str:
    return (
        f"target {target}: {what} lacks the tag scaleahead:managed=true (the functions may change"
        " only tagged resources); add it, or apply with --tag"
    )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def ecs_tags(aws: Aws, service: str) -> dict[str, str]:
    arn = aws.ecs.describe_services(cluster="prod", services=[service])["services"][0]["serviceArn"]
    return {t["key"]: t["value"] for t in aws.ecs.list_tags_for_resource(resourceArn=arn)["tags"]}


def register(aas: Any, namespace: str, rid: str, dim: str, **extra: Any) -> None:
    aas.register_scalable_target(
        ServiceNamespace=namespace,
        ResourceId=rid,
        ScalableDimension=dim,
        MinCapacity=1,
        MaxCapacity=10,
        **extra,
    )


def add_policy(aas: Any, namespace: str, rid: str, dim: str, name: str, metric: str) -> None:
    aas.put_scaling_policy(
        PolicyName=name,
        ServiceNamespace=namespace,
        ResourceId=rid,
        ScalableDimension=dim,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": metric},
        },
    )


def suspended(aas: Any, namespace: str, rid: str) -> dict[str, bool]:
    [st] = aas.describe_scalable_targets(ServiceNamespace=namespace, ResourceIds=[rid])[
        "ScalableTargets"
    ]
    return {k: bool(st.get("SuspendedState", {}).get(k, False)) for k in ALL_SUSPENDED}


@pytest.fixture
def db(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rds]:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    moto_rds.install()
    client = boto3.client("rds")
    create_cluster(boto3.client("ec2"), client, tagged=False)
    env = Rds(client, aws.rt.adapters[aurora_target().kind])  # type: ignore[arg-type]
    env.add_instance(WRITER)
    yield env
    moto_rds.uninstall()


def cluster_tags(db: Rds) -> dict[str, str]:
    arn = db.client.describe_db_clusters(DBClusterIdentifier="orders")["DBClusters"][0][
        "DBClusterArn"
    ]
    return {
        t["Key"]: t["Value"] for t in db.client.list_tags_for_resource(ResourceName=arn)["TagList"]
    }


# -- (a) the managed tag ---------------------------------------------------------------------


def test_an_untagged_ecs_service_is_refused_and_tag_adds_it(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.add_service("api", 2, tagged=False)
    f = write(tmp_path, target_dict(id="api", resource={"cluster": "prod", "service": "api"}))
    for extra in ([], ["--dry-run"], ["--take-over"]):
        rc, out, err = run(capsys, "targets", "apply", f, *extra)
        assert rc == 2, (extra, out, err)
        assert err == (
            "error: 1 target cannot be applied; nothing was written:\n  "
            + untagged_message("api", "ECS service prod/api")
            + "\n"
        )
    assert aws.rt.store.list_targets() == [] and alarms(aws) == {}
    # a dry run with --tag passes the check but tags nothing
    rc, out, _ = run(capsys, "targets", "apply", f, "--tag", "--dry-run")
    assert rc == 0 and "dry run: nothing written" in out and "tagged" not in out
    assert ecs_tags(aws, "api") == {}
    rc, out, _ = run(capsys, "targets", "apply", f, "--tag")
    assert rc == 0
    assert "tagged ECS service prod/api scaleahead:managed=true (target api)" in out
    assert ecs_tags(aws, "api") == MANAGED
    assert [t.id for t in aws.rt.store.list_targets()] == ["api"]
    assert alarms(aws) == {"scaleahead-api-high-load": 200.0}
    # tagged now: a plain apply passes, and --tag has nothing left to add
    rc, out, _ = run(capsys, "targets", "apply", f, "--tag")
    assert rc == 0 and "tagged" not in out


def test_an_untagged_aurora_cluster_is_refused_and_tag_adds_it(aws: Aws, db: Rds) -> None:
    t = aurora_target(id="reports")
    with pytest.raises(TargetError) as err:
        tg.apply(aws.rt, (t,), tg.diff(aws.rt, (t,), prune=False), aws.clock.t)
    assert str(err.value) == (
        "1 target cannot be applied; nothing was written:\n  "
        + untagged_message("reports", "Aurora DB cluster orders")
    )
    assert aws.rt.store.list_targets() == [] and cluster_tags(db) == {}
    done = tg.apply(aws.rt, (t,), tg.diff(aws.rt, (t,), prune=False), aws.clock.t, tag=True)
    assert done[0] == "tagged Aurora DB cluster orders scaleahead:managed=true (target reports)"
    assert cluster_tags(db) == MANAGED
    assert [x.id for x in aws.rt.store.list_targets()] == ["reports"]


def test_an_untagged_replication_group_is_refused_and_tag_adds_it(aws: Aws, ec: Any) -> None:
    arn = create(ec, shards=2, Tags=[])["ARN"]
    t = cache_target()
    with pytest.raises(TargetError) as err:
        tg.check(aws.rt, (t,))
    assert str(err.value) == (
        "1 target cannot be applied; nothing was written:\n  "
        + untagged_message("cache", "ElastiCache replication group cache")
    )
    done = tg.apply(aws.rt, (t,), tg.diff(aws.rt, (t,), prune=False), aws.clock.t, tag=True)
    assert done[0] == (
        "tagged ElastiCache replication group cache scaleahead:managed=true (target cache)"
    )
    tags = ec.list_tags_for_resource(ResourceName=arn)["TagList"]
    assert {x["Key"]: x["Value"] for x in tags} == MANAGED
    tg.check(aws.rt, (t,))  # tagged: no problem left


def test_every_problem_is_listed_at_once(
    aws: Aws, aas: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.add_service("api", 2, tagged=False)
    register(aas, "ecs", "service/prod/web", "ecs:service:DesiredCount")
    add_policy(
        aas,
        "ecs",
        "service/prod/web",
        "ecs:service:DesiredCount",
        "cpu50",
        "ECSServiceAverageCPUUtilization",
    )
    f = write(
        tmp_path,
        target_dict(),
        target_dict(id="api", resource={"cluster": "prod", "service": "api"}),
        target_dict(id="gone", resource={"cluster": "prod", "service": "gone"}),
    )
    rc, _, err = run(capsys, "targets", "apply", f)
    assert rc == 2
    assert err.startswith("error: 3 targets cannot be applied; nothing was written:\n")
    assert "  target web: Application Auto Scaling scalable target service/prod/web" in err
    assert untagged_message("api", "ECS service prod/api") in err
    assert "  target gone: resource: ECS service gone" in err
    assert aws.rt.store.list_targets() == [] and alarms(aws) == {}


# -- (b) Application Auto Scaling on the same capacity, (c) --take-over ----------------------


def test_ecs_autoscaling_is_refused_then_taken_over_and_restored_by_remove(
    aws: Aws, aas: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rid, dim = "service/prod/web", "ecs:service:DesiredCount"
    register(aas, "ecs", rid, dim)
    add_policy(aas, "ecs", rid, dim, "cpu50", "ECSServiceAverageCPUUtilization")
    add_policy(aas, "ecs", rid, dim, "mem70", "ECSServiceAverageMemoryUtilization")
    f = write(tmp_path, target_dict())
    for extra in ([], ["--dry-run"], ["--tag"]):
        rc, _, err = run(capsys, "targets", "apply", f, *extra)
        assert rc == 2
        assert err == (
            "error: 1 target cannot be applied; nothing was written:\n  target web: Application "
            "Auto Scaling scalable target service/prod/web (ecs:service:DesiredCount) with "
            "scaling policies cpu50, mem70 would fight scaleahead over the same capacity; remove "
            "them, or apply with --take-over\n"
        )
    assert aws.rt.store.list_targets() == [] and suspended(aas, "ecs", rid) == NONE_SUSPENDED
    # a dry run with --take-over suspends nothing
    rc, out, _ = run(capsys, "targets", "apply", f, "--take-over", "--dry-run")
    assert rc == 0 and suspended(aas, "ecs", rid) == NONE_SUSPENDED
    assert aws.rt.store.get_takeover("web") is None

    rc, out, _ = run(capsys, "targets", "apply", f, "--take-over")
    assert rc == 0
    assert (
        "suspended Application Auto Scaling scalable target service/prod/web "
        "(ecs:service:DesiredCount) with scaling policies cpu50, mem70 (target web); "
        "`scaleahead targets remove web` restores it" in " ".join(out.split())  # rich wraps
    )
    assert suspended(aas, "ecs", rid) == ALL_SUSPENDED
    record = aws.rt.store.get_takeover("web")
    assert record is not None
    [st] = record["scalable_targets"]
    assert st["resource_id"] == rid and st["suspended"] == NONE_SUSPENDED
    assert st["policies"] == ["cpu50", "mem70"]
    assert [t.id for t in aws.rt.store.list_targets()] == ["web"]
    # suspended: a plain re-apply passes and keeps the first record
    rc, _, _ = run(capsys, "targets", "apply", f)
    assert rc == 0 and aws.rt.store.get_takeover("web") == record

    rc, out, _ = run(capsys, "targets", "remove", "web")
    assert rc == 0
    assert out == (
        "restored Application Auto Scaling scalable target service/prod/web "
        "(ecs:service:DesiredCount) as it was\nremoved web and its alarm\n"
    )
    assert suspended(aas, "ecs", rid) == NONE_SUSPENDED
    assert aws.rt.store.get_takeover("web") is None
    assert aws.rt.store.list_targets() == [] and alarms(aws) == {}


def test_aurora_take_over_restores_exactly_the_previous_state_on_prune(
    aws: Aws, db: Rds, aas: Any
) -> None:
    rid, dim = "cluster:orders", "rds:cluster:ReadReplicaCount"
    previous = {**NONE_SUSPENDED, "ScheduledScalingSuspended": True}
    register(aas, "rds", rid, dim, SuspendedState=previous)
    add_policy(aas, "rds", rid, dim, "readers-cpu", "RDSReaderAverageCPUUtilization")
    t = aurora_target(id="reports")
    with pytest.raises(TargetError) as err:
        tg.check(aws.rt, (t,), tag=True)
    assert str(err.value).endswith(
        "target reports: Application Auto Scaling scalable target cluster:orders "
        "(rds:cluster:ReadReplicaCount) with scaling policies readers-cpu would fight "
        "scaleahead over the same capacity; remove them, or apply with --take-over"
    )
    done = tg.apply(
        aws.rt, (t,), tg.diff(aws.rt, (t,), prune=False), aws.clock.t, tag=True, take_over=True
    )
    assert done[0].startswith("tagged Aurora DB cluster orders")
    assert done[1].startswith("suspended Application Auto Scaling scalable target cluster:orders")
    assert suspended(aas, "rds", rid) == ALL_SUSPENDED
    # pruned (the file no longer names it): the removal restores it as --take-over found it
    changes = tg.diff(aws.rt, (), prune=True)
    assert [(c.target_id, c.kind) for c in changes] == [("reports", "remove")]
    assert tg.write(aws.rt, (), changes, {}, aws.clock.t) == [
        "restored Application Auto Scaling scalable target cluster:orders "
        "(rds:cluster:ReadReplicaCount) as it was",
        "removed reports and its alarm",
    ]
    assert suspended(aas, "rds", rid) == previous
    assert aws.rt.store.get_takeover("reports") is None


def test_a_scalable_target_already_fully_suspended_is_no_conflict(aws: Aws, aas: Any) -> None:
    register(
        aas, "ecs", "service/prod/web", "ecs:service:DesiredCount", SuspendedState=ALL_SUSPENDED
    )
    target = make_target()
    done = tg.apply(
        aws.rt, (target,), tg.diff(aws.rt, (target,), prune=False), aws.clock.t, take_over=True
    )
    assert not any(line.startswith("suspended") for line in done)
    assert aws.rt.store.get_takeover("web") is None
