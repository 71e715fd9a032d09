"""EC2 Auto Scaling groups: capacity is the group's desired capacity.

``SetDesiredCapacity`` sets it; the group launches or terminates instances itself, and on the
way down its termination policy chooses which instance goes, never scaleahead.

* The group's own bounds hold besides the target's (``domain.asg_instances``): a plan above
  ``MaxSize`` is asked as ``MaxSize`` and the decision says so; a scale-in never goes below
  ``MinSize`` nor below the instances protected from scale-in (the group would lower the
  desired count and terminate nothing).
* A group being deleted is not driven (``NotFound``); ``ScalingActivityInProgress`` and
  ``ResourceContention`` are passing (``aws.errors``): the next tick asks again, and the count
  asked is absolute, so a call retried after its first attempt went through asks the same.
* The group's own scaling policies and scheduled actions would fight scaleahead: ``targets
  apply`` refuses them, or with ``--take-over`` suspends the group's ``AlarmNotification``
  and ``ScheduledActions`` processes (restored on remove); the functions never touch them.
* A target without ``warmup_seconds`` takes the group's ``DefaultInstanceWarmup`` when the
  group has one (``resource_defaults``, read by ``targets apply``), else the kind's 5 minutes;
  then the warm-up is learned as for every kind (asked until in service).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from scaleahead.aws import clients
from scaleahead.aws.kind_adapter import KindAdapter
from scaleahead.domain.asg_instances import held_to_group, in_service, scale_in_floor
from scaleahead.domain.kinds import Kind
from scaleahead.service.ports import Actuation, CapacityReading, NotFound

if TYPE_CHECKING:
    from scaleahead.aws.cloudwatch import MetricsAdapter
    from scaleahead.domain.target import AsgTarget, Target


class AsgAdapter(KindAdapter["AsgTarget"]):
    """Reads and sets the desired capacity of an EC2 Auto Scaling group."""

    def __init__(self, autoscaling: Any) -> None:
        super().__init__(Kind.ASG)
        self._asg = autoscaling

    def _group(self, t: AsgTarget) -> dict[str, Any]:
        name = t.resource.auto_scaling_group
        out = self._asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        groups = out.get("AutoScalingGroups", [])
        if not groups:
            raise NotFound(f"Auto Scaling group {name}: not found")
        group: dict[str, Any] = groups[0]
        if group.get("Status"):  # only set while the group is being deleted
            raise NotFound(f"Auto Scaling group {name}: {group['Status']}")
        return group

    def _read(self, t: AsgTarget, *, scale_in: bool) -> CapacityReading:
        group = self._group(t)
        instances = group.get("Instances", [])
        desired = int(group["DesiredCapacity"])
        floor, reason = scale_in_floor(instances, int(group["MinSize"]), desired)
        return CapacityReading(
            desired=desired,
            ready=min(desired, in_service(instances)),
            scale_in_floor=floor,
            scale_in_floor_reason=reason,
        )

    def _set(self, t: AsgTarget, desired: int, reading: CapacityReading) -> Actuation:
        name = t.resource.auto_scaling_group
        # Read again: the reading may be a tick old, and the group's bounds may have changed.
        group = self._group(t)
        current = int(group["DesiredCapacity"])
        asked, held = held_to_group(desired, int(group["MinSize"]), int(group["MaxSize"]))
        if asked < current:
            floor, why = scale_in_floor(group.get("Instances", []), int(group["MinSize"]), current)
            if reading.scale_in_floor is not None and reading.scale_in_floor > floor:
                floor, why = reading.scale_in_floor, reading.scale_in_floor_reason or why
            if asked < floor:
                asked, held = floor, f"held at the scale-in floor: {why}"
        if asked == current:
            note = f" ({held})" if held else ""
            return Actuation(False, current, f"desired capacity already {current}{note}")
        self._asg.set_desired_capacity(
            AutoScalingGroupName=name, DesiredCapacity=asked, HonorCooldown=False
        )
        detail = f"SetDesiredCapacity {current} -> {asked}"
        if held:
            detail += f" (decision {desired}; {held})"
        return Actuation(True, asked, detail)


def resource_arn(target: Target) -> str:
    """The group's ARN, for the CLI's tagging (the operator's credentials)."""
    name = cast("AsgTarget", target).resource.auto_scaling_group
    out = clients.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    return str(out["AutoScalingGroups"][0]["AutoScalingGroupARN"])


def resource_defaults(target: Target) -> dict[str, Any]:
    """What ``targets apply`` fills in from the group where the target leaves it unset: the
    warm-up, from the group's ``DefaultInstanceWarmup`` (the operator's credentials)."""
    t = cast("AsgTarget", target)
    if t.warmup_seconds is not None:
        return {}
    name = t.resource.auto_scaling_group
    out = clients.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    groups = out.get("AutoScalingGroups", [])
    warmup = groups[0].get("DefaultInstanceWarmup") if groups else None
    if not isinstance(warmup, int) or warmup < 0:
        return {}
    return {"warmup_seconds": warmup}


def make_adapter(metrics: MetricsAdapter) -> AsgAdapter:
    """The kind's factory (``KindSpec.adapter_module``); the desired count needs no metrics."""
    return AsgAdapter(clients.client("autoscaling"))
