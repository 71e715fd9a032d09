"""moto with the Auto Scaling extension keeps DefaultInstanceWarmup and refuses out-of-bounds
SetDesiredCapacity as AWS does; two tests pin what plain moto does that the extension leaves.

Every call goes through boto3, so botocore serialises each request and parses each response
with Auto Scaling's own shapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from scaleahead_testkit import moto_autoscaling as ext

REGION = "us-east-1"
AMI = "ami-12c6146b"  # one of the images moto's EC2 ships with


@pytest.fixture
def asg() -> Iterator[Any]:
    ext.uninstall()
    ext.install()
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        ec2.create_launch_template(
            LaunchTemplateName="scaleahead-lt",
            LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"},
        )
        yield boto3.client("autoscaling", region_name=REGION)
    ext.uninstall()


def _create(client: Any, name: str = "g", **kwargs: Any) -> None:
    params: dict[str, Any] = {"MinSize": 2, "MaxSize": 10, "DesiredCapacity": 3, **kwargs}
    client.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": "scaleahead-lt", "Version": "$Latest"},
        AvailabilityZones=[f"{REGION}a"],
        **params,
    )


def _group(client: Any, name: str = "g") -> Any:
    return client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]


def _refused(client: Any, desired: int) -> ClientError:
    with pytest.raises(ClientError) as exc:
        client.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=desired)
    return exc.value


def test_default_instance_warmup_is_stored_updated_and_removed(asg: Any) -> None:
    _create(asg, DefaultInstanceWarmup=120)
    assert _group(asg)["DefaultInstanceWarmup"] == 120
    asg.update_auto_scaling_group(AutoScalingGroupName="g", DefaultInstanceWarmup=300)
    assert _group(asg)["DefaultInstanceWarmup"] == 300
    asg.update_auto_scaling_group(AutoScalingGroupName="g", MaxSize=12)  # not named: kept
    assert _group(asg)["DefaultInstanceWarmup"] == 300
    asg.update_auto_scaling_group(AutoScalingGroupName="g", DefaultInstanceWarmup=-1)
    assert "DefaultInstanceWarmup" not in _group(asg)


def test_default_instance_warmup_absent_when_never_set(asg: Any) -> None:
    _create(asg)
    _create(asg, name="h", DefaultInstanceWarmup=-1)
    assert "DefaultInstanceWarmup" not in _group(asg)
    assert "DefaultInstanceWarmup" not in _group(asg, "h")
    asg.update_auto_scaling_group(AutoScalingGroupName="g", DefaultInstanceWarmup=0)
    assert _group(asg)["DefaultInstanceWarmup"] == 0


def test_set_desired_capacity_outside_bounds_is_refused(asg: Any) -> None:
    _create(asg)
    above = _refused(asg, 12)
    assert above.response["Error"]["Code"] == "ValidationError"
    assert above.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert above.response["Error"]["Message"] == (
        "New SetDesiredCapacity value 12 is above max value 10 for the AutoScalingGroup."
    )
    below = _refused(asg, 0)
    assert below.response["Error"]["Code"] == "ValidationError"
    assert below.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert below.response["Error"]["Message"] == (
        "New SetDesiredCapacity value 0 is below min value 2 for the AutoScalingGroup."
    )
    group = _group(asg)
    assert (group["DesiredCapacity"], len(group["Instances"])) == (3, 3)


def test_set_desired_capacity_within_bounds_is_accepted(asg: Any) -> None:
    _create(asg)
    for desired in (10, 2, 5):
        asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=desired)
        group = _group(asg)
        assert (group["DesiredCapacity"], len(group["Instances"])) == (desired, desired)
    asg.delete_auto_scaling_group(AutoScalingGroupName="g", ForceDelete=True)  # moto sets 0
    assert asg.describe_auto_scaling_groups()["AutoScalingGroups"] == []


def test_install_and_uninstall_are_idempotent_and_restore_plain_moto(asg: Any) -> None:
    ext.install()
    _create(asg, DefaultInstanceWarmup=60)
    ext.uninstall()
    ext.uninstall()
    assert "DefaultInstanceWarmup" not in _group(asg)
    _create(asg, name="h", DefaultInstanceWarmup=60)
    assert "DefaultInstanceWarmup" not in _group(asg, "h")
    asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=12)  # above max 10
    assert _group(asg)["DesiredCapacity"] == 12
    ext.install()
    ext.install()
    assert _group(asg)["DefaultInstanceWarmup"] == 60  # kept on the group while uninstalled
    assert _refused(asg, 13).response["Error"]["Code"] == "ValidationError"


def test_protected_instances_survive_scale_in(asg: Any) -> None:
    _create(asg, MinSize=0, NewInstancesProtectedFromScaleIn=True)
    asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=1)
    group = _group(asg)
    # As AWS documents: the desired capacity drops, but protected instances are not terminated.
    assert group["DesiredCapacity"] == 1
    assert [i["ProtectedFromScaleIn"] for i in group["Instances"]] == [True, True, True]
    ids = [i["InstanceId"] for i in group["Instances"]]
    asg.set_instance_protection(
        AutoScalingGroupName="g", InstanceIds=ids, ProtectedFromScaleIn=False
    )
    # Unlike AWS, which would then terminate the two instances above the desired capacity,
    # moto re-balances only on its next capacity change.
    assert len(_group(asg)["Instances"]) == 3
    asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=1)
    assert len(_group(asg)["Instances"]) == 1


def test_suspended_processes_as_moto_shows_them(asg: Any) -> None:
    _create(asg)
    asg.suspend_processes(AutoScalingGroupName="g", ScalingProcesses=["Launch", "Terminate"])
    suspended = _group(asg)["SuspendedProcesses"]
    # Listed, but with an empty SuspensionReason (AWS: a string of length 1 to 255).
    assert sorted(p["ProcessName"] for p in suspended) == ["Launch", "Terminate"]
    assert {p["SuspensionReason"] for p in suspended} == {""}
    # Unlike AWS, a suspended Launch does not stop moto from launching up to the new capacity.
    asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=5)
    assert len(_group(asg)["Instances"]) == 5
    asg.resume_processes(AutoScalingGroupName="g", ScalingProcesses=["Launch"])
    assert [p["ProcessName"] for p in _group(asg)["SuspendedProcesses"]] == ["Terminate"]
