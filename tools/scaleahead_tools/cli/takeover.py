"""What ``targets apply`` takes over: the resource's managed tag, and any Application Auto
Scaling already driving the same capacity.

The functions may change only resources tagged ``scaleahead:managed=true`` (the IAM conditions
in template.yaml), so an untagged resource would be accepted here and then fail later with a
denied write; and a scalable target with live policies would fight scaleahead over the same
count. Both are found before anything is written (``targets.check``), and fixed only when
asked: ``--tag`` adds the tag, ``--take-over`` suspends the scalable target (recording its
previous suspended state, which ``targets remove`` restores).

The CLI is a tool, not Lambda code: it calls boto3 directly. What differs by kind comes from the
kind's registry entry (``domain.kinds``: the label, the Application Auto Scaling dimension, the
service whose tag API applies) and its adapter module's ``resource_arn``; tags are read and added
one small function per AWS service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from scaleahead.aws.clients import client
from scaleahead.aws.kind_adapter import kind_function
from scaleahead.domain.aurora_readers import MANAGED_TAG
from scaleahead.domain.kinds import KINDS
from scaleahead.domain.target import Target

MANAGED_VALUE = "true"
SUSPENDED = {
    "DynamicScalingInSuspended": True,
    "DynamicScalingOutSuspended": True,
    "ScheduledScalingSuspended": True,
}


def label(t: Target) -> str:
    """How the resource is named in messages: ``ECS service prod/web``."""
    return f"{KINDS[t.kind].label} {t.resource_name}"


# -- the managed tag: the resource's ARN (its kind's adapter module), its tags, adding the tag -
# Tags are read and written per AWS service, whatever the kind: Memcached clusters are tagged as
# replication groups are.


def _arn(t: Target) -> str:
    fn = kind_function(t.kind, "resource_arn")
    assert fn is not None  # not optional: found or LookupError
    return str(fn(t))


def _ecs_tags(arn: str) -> dict[str, str]:
    out = client("ecs").list_tags_for_resource(resourceArn=arn)
    return {str(x.get("key")): str(x.get("value")) for x in out.get("tags", [])}


def _ecs_tag(arn: str) -> None:
    client("ecs").tag_resource(resourceArn=arn, tags=[{"key": MANAGED_TAG, "value": MANAGED_VALUE}])


def _rds_tags(arn: str) -> dict[str, str]:
    out = client("rds").list_tags_for_resource(ResourceName=arn)
    return {str(x.get("Key")): str(x.get("Value")) for x in out.get("TagList", [])}


def _rds_tag(arn: str) -> None:
    client("rds").add_tags_to_resource(
        ResourceName=arn, Tags=[{"Key": MANAGED_TAG, "Value": MANAGED_VALUE}]
    )


def _elasticache_tags(arn: str) -> dict[str, str]:
    out = client("elasticache").list_tags_for_resource(ResourceName=arn)
    return {str(x.get("Key")): str(x.get("Value")) for x in out.get("TagList", [])}


def _elasticache_tag(arn: str) -> None:
    client("elasticache").add_tags_to_resource(
        ResourceName=arn, Tags=[{"Key": MANAGED_TAG, "Value": MANAGED_VALUE}]
    )


def _asg_name(arn: str) -> str:
    """The group's name, from its ARN (``...:autoScalingGroupName/<name>``): the Auto Scaling
    tag calls take the name, not the ARN."""
    return arn.split(":autoScalingGroupName/", 1)[-1]


def _autoscaling_tags(arn: str) -> dict[str, str]:
    found = _paged(
        client("autoscaling").describe_tags,
        "Tags",
        Filters=[{"Name": "auto-scaling-group", "Values": [_asg_name(arn)]}],
    )
    return {str(x.get("Key")): str(x.get("Value")) for x in found}


def _autoscaling_tag(arn: str) -> None:
    client("autoscaling").create_or_update_tags(
        Tags=[
            {
                "ResourceId": _asg_name(arn),
                "ResourceType": "auto-scaling-group",
                "Key": MANAGED_TAG,
                "Value": MANAGED_VALUE,
                "PropagateAtLaunch": False,
            }
        ]
    )


@dataclass(frozen=True)
class _Tagging:
    tags: Callable[[str], dict[str, str]]
    tag: Callable[[str], None]


# IAM service prefix (``KindSpec.iam_service``) -> how that service reads and adds tags.
_TAGGING: dict[str, _Tagging] = {
    "ecs": _Tagging(_ecs_tags, _ecs_tag),
    "rds": _Tagging(_rds_tags, _rds_tag),
    "elasticache": _Tagging(_elasticache_tags, _elasticache_tag),
    "autoscaling": _Tagging(_autoscaling_tags, _autoscaling_tag),
}


def is_tagged(t: Target) -> bool:
    """Whether the target's resource carries ``scaleahead:managed=true``."""
    tags = _TAGGING[KINDS[t.kind].iam_service].tags(_arn(t))
    return tags.get(MANAGED_TAG) == MANAGED_VALUE


def add_tag(t: Target) -> None:
    _TAGGING[KINDS[t.kind].iam_service].tag(_arn(t))


def untagged_message(t: Target) -> str:
    return (
        f"{label(t)} lacks the tag {MANAGED_TAG}={MANAGED_VALUE} (the functions may change only "
        "tagged resources); add it, or apply with --tag"
    )


# -- Application Auto Scaling on the same capacity -------------------------------------------


def _scalable(t: Target) -> tuple[str, str, str] | None:
    """(ServiceNamespace, ResourceId, ScalableDimension) of the capacity the target drives, from
    its kind's spec; None for a kind Application Auto Scaling cannot drive."""
    spec = KINDS[t.kind]
    aas = spec.app_autoscaling
    if aas is None:
        return None
    fields = {f: getattr(t.resource, f) for f in spec.resource_fields}
    return aas.namespace, aas.resource_id.format(**fields), aas.dimension


@dataclass(frozen=True)
class ScalableTarget:
    """An Application Auto Scaling scalable target on the capacity a target drives."""

    namespace: str
    resource_id: str
    dimension: str
    suspended: dict[str, bool]
    policies: list[str] = field(default_factory=list)
    scheduled: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """Not every kind of its scaling suspended: it would fight scaleahead."""
        return not all(self.suspended.get(k, False) for k in SUSPENDED)

    @property
    def can_suspend(self) -> bool:
        return True

    def suspend(self) -> None:
        """Suspend every kind of the scalable target's scaling (its policies stay, inert)."""
        client("application-autoscaling").register_scalable_target(
            ServiceNamespace=self.namespace,
            ResourceId=self.resource_id,
            ScalableDimension=self.dimension,
            SuspendedState=dict(SUSPENDED),
        )

    def describe(self) -> str:
        text = f"Application Auto Scaling scalable target {self.resource_id} ({self.dimension})"
        if self.policies:
            text += f" with scaling policies {', '.join(self.policies)}"
        else:
            text += " with no scaling policies"
        if self.scheduled:
            text += f" and scheduled actions {', '.join(self.scheduled)}"
        return text

    def record(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "resource_id": self.resource_id,
            "dimension": self.dimension,
            "suspended": dict(self.suspended),
            "policies": list(self.policies),
        }


def _paged(call: Callable[..., dict[str, Any]], key: str, **kwargs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        out.extend(page.get(key, []))
        token = page.get("NextToken")
        if not token:
            return out


def scalable_targets(t: Target) -> list[ScalableTarget]:
    """Application Auto Scaling's scalable targets on the target's capacity, with the names
    of their scaling policies and scheduled actions."""
    scalable = _scalable(t)
    if scalable is None:
        return []
    aas = client("application-autoscaling")
    namespace, rid, dim = scalable
    try:
        found = _paged(
            aas.describe_scalable_targets,
            "ScalableTargets",
            ServiceNamespace=namespace,
            ResourceIds=[rid],
            ScalableDimension=dim,
        )
    except ClientError as err:
        if _namespace_unknown(err):
            return []
        raise
    out = []
    for st in found:
        policies = _paged(
            aas.describe_scaling_policies,
            "ScalingPolicies",
            ServiceNamespace=namespace,
            ResourceId=rid,
            ScalableDimension=dim,
        )
        try:
            scheduled = _paged(
                aas.describe_scheduled_actions,
                "ScheduledActions",
                ServiceNamespace=namespace,
                ResourceId=rid,
                ScalableDimension=dim,
            )
        except (ClientError, BotoCoreError, NotImplementedError):
            scheduled = []  # names only, for the message; the policies are what fights
        suspended = {k: bool(st.get("SuspendedState", {}).get(k, False)) for k in SUSPENDED}
        out.append(
            ScalableTarget(
                namespace,
                rid,
                dim,
                suspended,
                sorted(str(p["PolicyName"]) for p in policies),
                sorted(str(a["ScheduledActionName"]) for a in scheduled),
            )
        )
    return out


def _namespace_unknown(err: ClientError) -> bool:
    """The endpoint does not accept the namespace at all, so nothing can be registered in it
    (moto's Application Auto Scaling knows no ``elasticache`` namespace; AWS does)."""
    e = err.response.get("Error", {})
    return e.get("Code") == "ValidationException" and "'serviceNamespace'" in e.get("Message", "")


# -- an Auto Scaling group's own scaling: its policies and scheduled actions ------------------

# The processes that run a group's own scaling, and only those: suspending AlarmNotification
# "allows you to temporarily stop the group's target tracking, step, and simple scaling policies
# without deleting the scaling policies or their associated CloudWatch alarms", ScheduledActions
# stops its scheduled actions; Launch and Terminate stay, or SetDesiredCapacity would do nothing
# (EC2 Auto Scaling user guide, "Suspend and resume processes").
GROUP_PROCESSES = ("AlarmNotification", "ScheduledActions")


@dataclass(frozen=True)
class GroupScaling:
    """An Auto Scaling group's own scaling, which would fight scaleahead over its desired
    capacity. A predictive scaling policy in ``ForecastAndScale`` mode is not documented to stop
    with either process, so it cannot be taken over: it must be removed or set to
    ``ForecastOnly``."""

    group: str
    suspended: dict[str, bool]
    policies: list[str] = field(default_factory=list)
    scheduled: list[str] = field(default_factory=list)
    predictive: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return (
            bool(self.predictive)
            or (bool(self.policies) and not self.suspended["AlarmNotification"])
            or (bool(self.scheduled) and not self.suspended["ScheduledActions"])
        )

    @property
    def can_suspend(self) -> bool:
        return not self.predictive

    def describe(self) -> str:
        parts = []
        if self.policies:
            parts.append(f"scaling policies {', '.join(self.policies)}")
        if self.scheduled:
            parts.append(f"scheduled actions {', '.join(self.scheduled)}")
        if self.predictive:
            parts.append(f"predictive scaling (ForecastAndScale) {', '.join(self.predictive)}")
        return f"EC2 Auto Scaling group {self.group}'s own {' and '.join(parts)}"

    def record(self) -> dict[str, Any]:
        return {"mechanism": "ec2-auto-scaling", "group": self.group, "suspended": self.suspended}

    def suspend(self) -> None:
        """Suspend the processes that run the group's own scaling (its policies stay, inert)."""
        client("autoscaling").suspend_processes(
            AutoScalingGroupName=self.group, ScalingProcesses=list(GROUP_PROCESSES)
        )


def group_scaling(t: Target) -> list[GroupScaling]:
    """The group's own policies and scheduled actions, and which processes are suspended."""
    name = t.resource_name
    asg = client("autoscaling")
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    if not groups:
        return []
    off = {str(p.get("ProcessName")) for p in groups[0].get("SuspendedProcesses", [])}
    policies = _paged(asg.describe_policies, "ScalingPolicies", AutoScalingGroupName=name)
    scheduled = _paged(
        asg.describe_scheduled_actions, "ScheduledUpdateGroupActions", AutoScalingGroupName=name
    )
    enabled = [p for p in policies if p.get("Enabled", True)]
    predictive = [
        str(p["PolicyName"])
        for p in enabled
        if p.get("PolicyType") == "PredictiveScaling"
        and (p.get("PredictiveScalingConfiguration") or {}).get("Mode") == "ForecastAndScale"
    ]
    reactive = [str(p["PolicyName"]) for p in enabled if p.get("PolicyType") != "PredictiveScaling"]
    return [
        GroupScaling(
            name,
            {p: p in off for p in GROUP_PROCESSES},
            sorted(reactive),
            sorted(str(a["ScheduledActionName"]) for a in scheduled),
            sorted(predictive),
        )
    ]


def _restore_group(record: dict[str, Any]) -> str:
    """Resume the processes a take-over suspended that were running before it."""
    asg, name = client("autoscaling"), str(record["group"])
    if not asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]:
        return f"EC2 Auto Scaling group {name} is gone; nothing to restore"
    before = record.get("suspended", {})
    resume = [p for p in GROUP_PROCESSES if not before.get(p, False)]
    if resume:
        asg.resume_processes(AutoScalingGroupName=name, ScalingProcesses=resume)
    resumed = ", ".join(resume) or "none"
    return f"restored EC2 Auto Scaling group {name}'s processes as they were ({resumed} resumed)"


# -- whichever applies to a kind ---------------------------------------------------------------


class Competitor(Protocol):
    """Scaling already on the capacity a target drives (``KindSpec.own_scaling``)."""

    @property
    def active(self) -> bool: ...
    @property
    def can_suspend(self) -> bool: ...
    def describe(self) -> str: ...
    def record(self) -> dict[str, Any]: ...
    def suspend(self) -> None: ...


def competitors(t: Target) -> list[Competitor]:
    """What else scales the target's capacity: Application Auto Scaling's scalable targets, or
    an Auto Scaling group's own policies, as the kind's spec says."""
    if KINDS[t.kind].own_scaling == "ec2-auto-scaling":
        return list(group_scaling(t))
    return list(scalable_targets(t))


def scaler_name(t: Target) -> str:
    """What ``competitors`` reads, in messages."""
    if KINDS[t.kind].own_scaling == "ec2-auto-scaling":
        return "EC2 Auto Scaling's own scaling"
    return "Application Auto Scaling"


def conflict_message(c: Competitor) -> str:
    fix = "remove them, or apply with --take-over"
    if not c.can_suspend:
        fix = (
            "--take-over cannot suspend predictive scaling in ForecastAndScale mode: remove the "
            "policy or set it to ForecastOnly"
        )
    return f"{c.describe()} would fight scaleahead over the same capacity; {fix}"


def suspend(c: Competitor) -> None:
    c.suspend()


def restore(record: dict[str, Any]) -> str:
    """Put back what a take-over suspended, as recorded; say what was restored.

    A scalable target deregistered since, or a group deleted since, is left alone."""
    if record.get("mechanism") == "ec2-auto-scaling":
        return _restore_group(record)
    aas = client("application-autoscaling")
    namespace, rid, dim = record["namespace"], record["resource_id"], record["dimension"]
    found = aas.describe_scalable_targets(
        ServiceNamespace=namespace, ResourceIds=[rid], ScalableDimension=dim
    ).get("ScalableTargets", [])
    if not found:
        return f"Application Auto Scaling scalable target {rid} is gone; nothing to restore"
    previous = {k: bool(record.get("suspended", {}).get(k, False)) for k in SUSPENDED}
    aas.register_scalable_target(
        ServiceNamespace=namespace,
        ResourceId=rid,
        ScalableDimension=dim,
        SuspendedState=previous,
    )
    return f"restored Application Auto Scaling scalable target {rid} ({dim}) as it was"


__all__ = [
    "GROUP_PROCESSES",
    "MANAGED_VALUE",
    "SUSPENDED",
    "Competitor",
    "GroupScaling",
    "ScalableTarget",
    "add_tag",
    "competitors",
    "conflict_message",
    "group_scaling",
    "is_tagged",
    "label",
    "restore",
    "scalable_targets",
    "scaler_name",
    "suspend",
    "untagged_message",
]
