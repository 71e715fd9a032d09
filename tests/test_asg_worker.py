"""An Auto Scaling group end to end on moto: the worker with the group's bounds, one effect per
work item, `targets apply` refusing or taking over the group's own scaling (and `remove`
restoring it), the warm-up read from the group, and ECS on EC2: the instances planned from the
service's driver, in service before the tasks that need them and gone after them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaleahead.domain.target import TargetError, parse_targets
from scaleahead.service.worker import process_target
from scaleahead_tools.cli import targets as tg
from scaleahead_tools.cli.main import main
from tests.conftest import NOW, Aws
from tests.records import decision
from tests.test_asg_adapter import GROUP, asg_target, create, group
from tests.test_drivers import driver_file, shared
from tests.test_handlers import alarm_everywhere
from tests.test_worker import PEAK_END, history

DAY = 86400


def test_scale_out_is_held_at_the_groups_max_size(aws: Aws, asg: Any) -> None:
    create(asg, desired=2, max_size=6)
    aws.put_load([(NOW - 60 * i, 750.0) for i in range(1, 20)])
    aws.apply(asg_target())
    rec = decision(process_target(aws.rt, "hosts", NOW))
    # the plan wants 8 instances (750 / 100); the group's MaxSize holds it at 6, and says so
    assert rec.executed is True and (rec.before, rec.after) == (2, 6), rec
    assert "held at the group's MaxSize 6" in rec.detail
    assert group(asg)["DesiredCapacity"] == 6


def test_a_redelivered_work_item_acts_once(aws: Aws, asg: Any) -> None:
    create(asg, desired=2)
    aws.put_load([(NOW - 60 * i, 500.0) for i in range(1, 20)])
    aws.apply(asg_target())
    first = decision(process_target(aws.rt, "hosts", NOW, tick=int(NOW)))
    assert first.executed is True and first.after == 5
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=3)  # someone else
    again = process_target(aws.rt, "hosts", NOW + 5, tick=int(NOW))  # SQS delivers it again
    assert getattr(again, "reason", None) == "duplicate", again
    assert group(asg)["DesiredCapacity"] == 3 and len(aws.rt.store.decisions("hosts")) == 1


# -- apply: the tag, the group's own scaling, the warm-up ---------------------------------------


def test_an_untagged_group_is_refused_and_tag_adds_it(aws: Aws, asg: Any) -> None:
    asg.create_auto_scaling_group(
        AutoScalingGroupName=GROUP,
        LaunchTemplate={"LaunchTemplateName": "scaleahead-lt", "Version": "$Latest"},
        AvailabilityZones=["us-east-1a"],
        MinSize=1,
        MaxSize=5,
    )
    t = asg_target()
    with pytest.raises(TargetError, match=f"EC2 Auto Scaling group {GROUP} lacks the tag"):
        tg.check(aws.rt, (t,))
    done = tg.apply(aws.rt, (t,), tg.diff(aws.rt, (t,), prune=False), aws.clock.t, tag=True)
    assert (
        done[0] == f"tagged EC2 Auto Scaling group {GROUP} scaleahead:managed=true (target hosts)"
    )
    tags = asg.describe_tags(Filters=[{"Name": "auto-scaling-group", "Values": [GROUP]}])["Tags"]
    assert {x["Key"]: x["Value"] for x in tags} == {"scaleahead:managed": "true"}
    assert not any(x["PropagateAtLaunch"] for x in tags)  # the instances are not ours to tag
    tg.check(aws.rt, (t,))


def _policy(asg: Any, name: str, predictive: str | None = None) -> None:
    if predictive is None:
        asg.put_scaling_policy(
            AutoScalingGroupName=GROUP,
            PolicyName=name,
            PolicyType="TargetTrackingScaling",
            TargetTrackingConfiguration={
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "ASGAverageCPUUtilization"
                },
                "TargetValue": 50.0,
            },
        )
        return
    asg.put_scaling_policy(
        AutoScalingGroupName=GROUP,
        PolicyName=name,
        PolicyType="PredictiveScaling",
        PredictiveScalingConfiguration={
            "MetricSpecifications": [
                {
                    "TargetValue": 50.0,
                    "PredefinedMetricPairSpecification": {
                        "PredefinedMetricType": "ASGCPUUtilization"
                    },
                }
            ],
            "Mode": predictive,
        },
    )


def _suspended(asg: Any) -> set[str]:
    return {p["ProcessName"] for p in group(asg).get("SuspendedProcesses", [])}


def test_the_groups_own_policies_are_refused_then_taken_over_and_restored(
    aws: Aws, asg: Any
) -> None:
    create(asg)
    _policy(asg, "cpu50")
    asg.put_scheduled_update_group_action(
        AutoScalingGroupName=GROUP,
        ScheduledActionName="night",
        Recurrence="0 22 * * *",
        DesiredCapacity=1,
    )
    asg.suspend_processes(AutoScalingGroupName=GROUP, ScalingProcesses=["AZRebalance"])
    t = asg_target()
    with pytest.raises(TargetError) as err:
        tg.check(aws.rt, (t,))
    assert (
        f"EC2 Auto Scaling group {GROUP}'s own scaling policies cpu50 and scheduled actions night "
        "would fight scaleahead over the same capacity; remove them, or apply with --take-over"
    ) in str(err.value)
    done = tg.apply(aws.rt, (t,), tg.diff(aws.rt, (t,), prune=False), aws.clock.t, take_over=True)
    assert any(line.startswith(f"suspended EC2 Auto Scaling group {GROUP}'s own") for line in done)
    # only the processes that run the group's own scaling: Launch and Terminate keep working
    assert _suspended(asg) == {"AZRebalance", "AlarmNotification", "ScheduledActions"}
    tg.check(aws.rt, (t,))  # taken over: no conflict left
    lines = tg.remove(aws.rt, "hosts")
    assert lines == [
        f"restored EC2 Auto Scaling group {GROUP}'s processes as they were "
        "(AlarmNotification, ScheduledActions resumed)"
    ]
    assert _suspended(asg) == {"AZRebalance"}  # the user's own suspension stays


def test_a_process_suspended_before_stays_suspended_after_remove(aws: Aws, asg: Any) -> None:
    create(asg)
    _policy(asg, "cpu50")
    asg.suspend_processes(AutoScalingGroupName=GROUP, ScalingProcesses=["ScheduledActions"])
    t = asg_target()
    tg.apply(aws.rt, (t,), tg.diff(aws.rt, (t,), prune=False), aws.clock.t, take_over=True)
    assert _suspended(asg) == {"AlarmNotification", "ScheduledActions"}
    tg.remove(aws.rt, "hosts")
    assert _suspended(asg) == {"ScheduledActions"}


def test_predictive_scaling_that_acts_cannot_be_taken_over(aws: Aws, asg: Any) -> None:
    create(asg)
    _policy(asg, "forecast", predictive="ForecastAndScale")
    t = asg_target()
    with pytest.raises(TargetError, match="cannot suspend predictive scaling in ForecastAndScale"):
        tg.check(aws.rt, (t,), take_over=True)
    assert _suspended(asg) == set()
    # ForecastOnly only forecasts: no conflict
    asg.delete_policy(AutoScalingGroupName=GROUP, PolicyName="forecast")
    _policy(asg, "forecast", predictive="ForecastOnly")
    tg.check(aws.rt, (t,))


def test_apply_takes_the_warmup_from_the_group(
    aws: Aws, asg: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create(asg, DefaultInstanceWarmup=240)
    d = asg_target().model_dump(mode="json", by_alias=True, exclude_none=True)
    path = tmp_path / "asg.yaml"
    path.write_text(yaml.safe_dump({"targets": [d]}))
    assert main(["targets", "apply", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"target hosts: warmup_seconds 240 from EC2 Auto Scaling group {GROUP}" in out
    stored = aws.rt.store.get_target("hosts")
    assert stored is not None and stored.effective_warmup_seconds == 240
    # applying the same file again changes nothing
    assert main(["targets", "apply", str(path)]) == 0
    assert "same" in capsys.readouterr().out


# -- ECS on EC2: the service and the group on one driver ------------------------------------------


def test_ecs_on_ec2_instances_come_first_and_go_last(aws: Aws, asg: Any) -> None:
    """The tasks run on the group's instances: the group plans from the service's driver with
    an instance's warm-up plus a task's, so it scales out for the peak before the service does,
    and its longer scale-in window keeps the instances until the tasks have shrunk."""
    history(aws, 3, until=NOW + DAY / 6)  # the load up to 16:05, peak 12:15-15:00
    create(asg, desired=2, max_size=20)
    # a task starts in a minute on an instance with room
    tasks = shared(id="web", min_capacity=2, max_capacity=40, warmup_seconds=60)
    hosts = shared(
        id="hosts",
        kind="asg",
        resource={"auto_scaling_group": GROUP},
        min_capacity=1,
        max_capacity=20,
        capacity_per_unit=200.0,  # an instance holds two tasks
        warmup_seconds=600,  # in service (9 min) and a task on it (1 min)
    )
    for t in parse_targets(driver_file(tasks, hosts)):
        aws.apply(t)
    # 12:05: the peak starts in 10 minutes, inside the instances' warm-up, not the tasks'
    h = decision(process_target(aws.rt, "hosts", NOW))
    w = decision(process_target(aws.rt, "web", NOW))
    assert h.executed is True and group(asg)["DesiredCapacity"] >= 5, h
    assert w.executed is not True and aws.desired("web") == 4, w
    # through the peak and down: every five minutes until 16:00
    first_in: dict[str, float] = {}
    for k in range(1, 48):
        now = NOW + 300 * k
        for tid in ("hosts", "web"):
            rec = decision(process_target(aws.rt, tid, now))
            if rec.action == "scale_in" and rec.executed and tid not in first_in:
                first_in[tid] = now
    end = (NOW // DAY) * DAY + PEAK_END
    assert set(first_in) == {"hosts", "web"}, first_in
    # the tasks shrink first (15-minute window), the instances after (30 minutes)
    assert end < first_in["web"] < first_in["hosts"], (first_in, end)


def test_no_scale_in_on_missing_load(aws: Aws, asg: Any) -> None:
    create(asg, desired=4)
    aws.put_load([(NOW - 60 * i, 100.0) for i in range(30, 60)])  # nothing in the last 30 min
    aws.apply(asg_target(scale_in_stabilisation_seconds=60))
    recs = [decision(process_target(aws.rt, "hosts", NOW + 60 * k)) for k in range(0, 4)]
    assert not any(r.executed for r in recs), recs
    assert group(asg)["DesiredCapacity"] == 4


def test_one_alarm_through_three_channels_raises_the_group_once(aws: Aws, asg: Any) -> None:
    create(asg, desired=2)
    aws.apply(asg_target())
    alarm_everywhere("hosts")
    [rec] = aws.rt.store.decisions("hosts")
    assert rec.executed is True and rec.before == 2 and (rec.after or 0) > 2, rec
    assert group(asg)["DesiredCapacity"] == rec.after


def test_status_explain_and_forecast_show_a_group(
    aws: Aws, asg: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create(asg, desired=2)
    aws.put_load([(NOW - 60 * i, 500.0) for i in range(1, 20)])
    aws.apply(asg_target())
    decision(process_target(aws.rt, "hosts", NOW))
    assert main(["--output", "json", "status"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["target"], row["kind"], row["desired"]) == ("hosts", "asg", 5)
    assert main(["explain", "hosts", "--since", "2026-11-27T11:00"]) == 0
    assert "[worker] scaled out 2 -> 5" in capsys.readouterr().out
    png = tmp_path / "hosts.png"
    assert main(["forecast", "hosts", "--png", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
