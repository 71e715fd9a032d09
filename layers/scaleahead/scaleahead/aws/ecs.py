"""ECS services: capacity is the service's desired task count."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scaleahead.domain.target import EcsTarget, Target
from scaleahead.service.ports import Actuation, CapacityReading, NotFound

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient


def _ecs(target: Target) -> EcsTarget:
    if not isinstance(target, EcsTarget):
        raise TypeError(f"the ECS adapter cannot drive a {target.kind} target")
    return target


class EcsAdapter:
    def __init__(self, ecs: ECSClient) -> None:
        self._ecs = ecs

    def read(self, target: Target, *, scale_in: bool = True) -> CapacityReading:
        r = _ecs(target).resource
        out = self._ecs.describe_services(cluster=r.cluster, services=[r.service])
        services = [s for s in out.get("services", []) if s.get("status") != "INACTIVE"]
        if not services:
            why = "; ".join(f.get("reason", "") for f in out.get("failures", [])) or "not found"
            raise NotFound(f"ECS service {r.service} in cluster {r.cluster}: {why}")
        svc = services[0]
        return CapacityReading(desired=int(svc["desiredCount"]), ready=int(svc["runningCount"]))

    def set_capacity(self, target: Target, desired: int, reading: CapacityReading) -> Actuation:
        if desired == reading.desired:
            return Actuation(False, desired, f"desired count already {desired}")
        r = _ecs(target).resource
        self._ecs.update_service(cluster=r.cluster, service=r.service, desiredCount=desired)
        return Actuation(
            True, desired, f"UpdateService desiredCount {reading.desired} -> {desired}"
        )
