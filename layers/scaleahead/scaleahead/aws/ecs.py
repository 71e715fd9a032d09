"""ECS services: capacity is the service's desired task count."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from scaleahead.aws import clients
from scaleahead.aws.kind_adapter import KindAdapter
from scaleahead.domain.kinds import Kind
from scaleahead.service.ports import Actuation, CapacityReading, NotFound

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

    from scaleahead.aws.cloudwatch import MetricsAdapter
    from scaleahead.domain.target import EcsTarget, Target


class EcsAdapter(KindAdapter["EcsTarget"]):
    def __init__(self, ecs: ECSClient) -> None:
        super().__init__(Kind.ECS)
        self._ecs = ecs

    def _read(self, t: EcsTarget, *, scale_in: bool) -> CapacityReading:
        r = t.resource
        out = self._ecs.describe_services(cluster=r.cluster, services=[r.service])
        services = [s for s in out.get("services", []) if s.get("status") != "INACTIVE"]
        if not services:
            why = "; ".join(f.get("reason", "") for f in out.get("failures", [])) or "not found"
            raise NotFound(f"ECS service {r.service} in cluster {r.cluster}: {why}")
        svc = services[0]
        return CapacityReading(desired=int(svc["desiredCount"]), ready=int(svc["runningCount"]))

    def _set(self, t: EcsTarget, desired: int, reading: CapacityReading) -> Actuation:
        if desired == reading.desired:
            return Actuation(False, desired, f"desired count already {desired}")
        r = t.resource
        self._ecs.update_service(cluster=r.cluster, service=r.service, desiredCount=desired)
        return Actuation(
            True, desired, f"UpdateService desiredCount {reading.desired} -> {desired}"
        )


def resource_arn(target: Target) -> str:
    """The service's ARN, for the CLI's tagging (the operator's credentials, not Lambda's)."""
    r = cast("EcsTarget", target).resource
    out = clients.client("ecs").describe_services(cluster=r.cluster, services=[r.service])
    return str(out["services"][0]["serviceArn"])


def make_adapter(metrics: MetricsAdapter) -> EcsAdapter:
    """The kind's factory (``KindSpec.adapter_module``); ECS reads no metrics."""
    return EcsAdapter(clients.client("ecs"))
