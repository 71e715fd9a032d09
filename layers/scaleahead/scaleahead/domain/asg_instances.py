"""The bounds of an EC2 Auto Scaling group's desired capacity, as pure rules over what was read.

The group has bounds of its own besides the target's: ``SetDesiredCapacity`` outside
``MinSize``..``MaxSize`` is refused (``ValidationError``), so a plan beyond them is held at
them and the decision says so rather than failing. And a scale-in below the instances protected
from scale-in (``ProtectedFromScaleIn``) would lower the desired count without terminating
anything ("its desired capacity is decremented. However, the Auto Scaling group can't terminate
the required number of instances until their instance scale in protection settings are
disabled", EC2 Auto Scaling user guide, "Use instance scale-in protection"): capacity paid for
while the plan says it is gone. So those instances are the floor. Which unprotected instance
goes is the group's termination policy's choice, never scaleahead's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Lifecycle states in which an instance counts toward the group and can serve.
SERVING = "InService"


def in_service(instances: Sequence[Mapping[str, Any]]) -> int:
    """Instances in service and healthy: what serves load now."""
    return sum(
        1
        for i in instances
        if i.get("LifecycleState") == SERVING and i.get("HealthStatus", "Healthy") == "Healthy"
    )


def scale_in_floor(
    instances: Sequence[Mapping[str, Any]], min_size: int, desired: int
) -> tuple[int, str]:
    """Fewest instances a scale-in may ask for, and why: the group's ``MinSize`` and the
    instances protected from scale-in, whichever is more (never above the present count)."""
    protected = sum(
        1
        for i in instances
        if i.get("ProtectedFromScaleIn") and i.get("LifecycleState") in (SERVING, "Pending")
    )
    floor = min(desired, max(min_size, protected))
    reasons = [f"group MinSize {min_size}"]
    if protected:
        reasons.append(
            f"{protected} instance(s) protected from scale-in (the group would not terminate them)"
        )
    return floor, " and ".join(reasons)


def held_to_group(desired: int, min_size: int, max_size: int) -> tuple[int, str]:
    """``desired`` within the group's own bounds, and what held it ("" when nothing did)."""
    if desired > max_size:
        return max_size, f"held at the group's MaxSize {max_size}"
    if desired < min_size:
        return min_size, f"held at the group's MinSize {min_size}"
    return desired, ""
