"""The EC2 Auto Scaling group adapter against moto (with the DefaultInstanceWarmup and bounds
extension): the group's own bounds, scale-in protection, the termination policy's choice, and
the warm-up taken from the group at apply."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from scaleahead.aws.asg import AsgAdapter, resource_arn, resource_defaults
from scaleahead.aws.errors import MappedAdapter
from scaleahead.domain.asg_instances import held_to_group, in_service, scale_in_floor
from scaleahead.domain.target import AsgTarget, TargetError, parse_target
from scaleahead.service.ports import CapacityReading, NotDrivable, NotFound, Transient
from tests.conftest import Aws, make_target, target_dict

GROUP = "web-hosts"


class Spy:
    """The autoscaling client, recording each SetDesiredCapacity the adapter sends."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.sets: list[dict[str, Any]] = []

    def set_desired_capacity(self, **kwargs: Any) -> Any:
        self.sets.append(kwargs)
        return self._client.set_desired_capacity(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def spy(asg: Any) -> Spy:
    return Spy(asg)


@pytest.fixture
def adapter(spy: Spy) -> AsgAdapter:
    return AsgAdapter(spy)


def asg_target(**over: Any) -> AsgTarget:
    base: dict[str, Any] = {"min_capacity": 0, "max_capacity": 30}
    t = parse_target(
        target_dict(id="hosts", kind="asg", resource={"auto_scaling_group": GROUP}, **(base | over))
    )
    assert isinstance(t, AsgTarget)
    return t


def create(asg: Any, desired: int = 3, min_size: int = 1, max_size: int = 10, **kw: Any) -> None:
    asg.create_auto_scaling_group(
        AutoScalingGroupName=GROUP,
        LaunchTemplate={"LaunchTemplateName": "scaleahead-lt", "Version": "$Latest"},
        AvailabilityZones=["us-east-1a"],
        MinSize=min_size,
        MaxSize=max_size,
        DesiredCapacity=desired,
        Tags=[
            {
                "ResourceId": GROUP,
                "ResourceType": "auto-scaling-group",
                "Key": "scaleahead:managed",
                "Value": "true",
                "PropagateAtLaunch": False,
            }
        ],
        **kw,
    )


def group(asg: Any) -> dict[str, Any]:
    return dict(
        asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"][0]
    )


def test_read_counts_desired_and_in_service(aws: Aws, asg: Any, adapter: AsgAdapter) -> None:
    create(asg, desired=3, min_size=2)
    r = adapter.read(asg_target())
    assert (r.desired, r.ready, r.busy) == (3, 3, None)
    assert r.scale_in_floor == 2 and r.scale_in_floor_reason == "group MinSize 2"
    assert resource_arn(asg_target()) == group(asg)["AutoScalingGroupARN"]


def test_scale_out_sets_the_desired_capacity(
    aws: Aws, asg: Any, spy: Spy, adapter: AsgAdapter
) -> None:
    create(asg)
    t = asg_target()
    act = adapter.set_capacity(t, 7, adapter.read(t))
    assert act.applied and act.desired == 7 and act.detail == "SetDesiredCapacity 3 -> 7"
    assert spy.sets == [
        {"AutoScalingGroupName": GROUP, "DesiredCapacity": 7, "HonorCooldown": False}
    ]
    assert group(asg)["DesiredCapacity"] == 7


def test_the_groups_max_size_holds_the_plan(
    aws: Aws, asg: Any, spy: Spy, adapter: AsgAdapter
) -> None:
    create(asg, max_size=6)
    t = asg_target()
    act = adapter.set_capacity(t, 9, adapter.read(t))
    # never the ValidationError AWS would answer above MaxSize: held at it, and said
    assert act.applied and act.desired == 6
    assert "decision 9; held at the group's MaxSize 6" in act.detail
    again = adapter.set_capacity(t, 9, adapter.read(t))
    assert not again.applied and "held at the group's MaxSize 6" in again.detail
    assert len(spy.sets) == 1


def test_scale_in_stops_at_protected_instances(
    aws: Aws, asg: Any, spy: Spy, adapter: AsgAdapter
) -> None:
    create(asg, desired=4, min_size=0)
    ids = [i["InstanceId"] for i in group(asg)["Instances"]]
    asg.set_instance_protection(
        AutoScalingGroupName=GROUP, InstanceIds=ids[:3], ProtectedFromScaleIn=True
    )
    t = asg_target()
    r = adapter.read(t)
    assert r.scale_in_floor == 3 and "3 instance(s) protected from scale-in" in (
        r.scale_in_floor_reason or ""
    )
    act = adapter.set_capacity(t, 1, r)
    assert act.applied and act.desired == 3 and "held at the scale-in floor" in act.detail
    # which instance went is the group's choice: an unprotected one
    assert sorted(i["InstanceId"] for i in group(asg)["Instances"]) == sorted(ids[:3])


def test_scale_in_leaves_the_choice_to_the_termination_policy(
    aws: Aws, asg: Any, spy: Spy, adapter: AsgAdapter
) -> None:
    create(asg, desired=4, min_size=1)
    t = asg_target()
    act = adapter.set_capacity(t, 2, adapter.read(t))
    assert act.applied and act.desired == 2
    assert spy.sets[-1] == {
        "AutoScalingGroupName": GROUP,
        "DesiredCapacity": 2,
        "HonorCooldown": False,
    }
    assert len(group(asg)["Instances"]) == 2  # no instance named by scaleahead


def test_no_call_when_already_there(aws: Aws, asg: Any, spy: Spy, adapter: AsgAdapter) -> None:
    create(asg)
    act = adapter.set_capacity(asg_target(), 3, CapacityReading(3, 3))
    assert not act.applied and spy.sets == []


def test_a_missing_group_is_not_found(aws: Aws, asg: Any, adapter: AsgAdapter) -> None:
    with pytest.raises(NotFound, match=f"Auto Scaling group {GROUP}: not found"):
        adapter.read(asg_target())


def test_a_scaling_activity_in_progress_is_passing(aws: Aws, asg: Any) -> None:
    class Busy(Spy):
        def set_desired_capacity(self, **kwargs: Any) -> Any:
            error: Any = {
                "Error": {"Code": "ScalingActivityInProgress", "Message": "in progress"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
            raise ClientError(error, "SetDesiredCapacity")

    create(asg)
    mapped = MappedAdapter(AsgAdapter(Busy(asg)))
    t = asg_target()
    with pytest.raises(Transient, match="ScalingActivityInProgress"):
        mapped.set_capacity(t, 5, mapped.read(t))


def test_other_kinds_are_refused(aws: Aws, asg: Any, adapter: AsgAdapter) -> None:
    with pytest.raises(NotDrivable, match="cannot drive a ecs target"):
        adapter.read(make_target())


def test_the_warmup_comes_from_the_group_when_the_target_sets_none(aws: Aws, asg: Any) -> None:
    create(asg, DefaultInstanceWarmup=240)
    assert resource_defaults(asg_target()) == {"warmup_seconds": 240}
    assert resource_defaults(asg_target(warmup_seconds=90)) == {}  # the target's own wins
    asg.update_auto_scaling_group(AutoScalingGroupName=GROUP, DefaultInstanceWarmup=-1)
    assert resource_defaults(asg_target()) == {}  # none set: the kind's 5 minutes


def test_bounds_of_the_target() -> None:
    with pytest.raises(TargetError, match="max_capacity"):
        asg_target(max_capacity=10_001)
    with pytest.raises(TargetError, match="auto_scaling_group"):
        parse_target(target_dict(id="x", kind="asg", resource={"auto_scaling_group": ""}))


def test_pure_rules() -> None:
    instances: list[dict[str, Any]] = [
        {"LifecycleState": "InService", "HealthStatus": "Healthy", "ProtectedFromScaleIn": True},
        {"LifecycleState": "InService", "HealthStatus": "Unhealthy"},
        {"LifecycleState": "Pending", "ProtectedFromScaleIn": True},
        {"LifecycleState": "Terminating", "ProtectedFromScaleIn": True},
    ]
    assert in_service(instances) == 1
    assert scale_in_floor(instances, 1, 4) == (
        2,
        "group MinSize 1 and 2 instance(s) protected from scale-in (the group would not "
        "terminate them)",
    )
    assert scale_in_floor(instances, 5, 3)[0] == 3  # never above the present count
    assert held_to_group(12, 1, 10) == (10, "held at the group's MaxSize 10")
    assert held_to_group(0, 1, 10) == (1, "held at the group's MinSize 1")
    assert held_to_group(5, 1, 10) == (5, "")
