"""What a tier's capacity reads as and what a change of it did: the values every kind shares.

The planner, the reactive path, the store and the decision log deal in these two types only,
so none of them learns which tier (ECS tasks, Aurora readers, ElastiCache shards) it drives.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CapacityReading:
    """``desired`` is what was asked for; ``ready`` is what serves load now.

    ``busy`` names a change in flight that forbids another one (a reshard, a reader still
    being created); the decision is then recorded as "busy, will retry".
    ``scale_in_floor`` is the lowest capacity the resource's own safety rules allow now (the
    memory the data needs, a reader kept for availability...), with the rule in
    ``scale_in_floor_reason``; the decision never scales in below it.
    """

    desired: int
    ready: int
    busy: str | None = None
    scale_in_floor: int | None = None
    scale_in_floor_reason: str = ""


@dataclass(frozen=True)
class Actuation:
    """What was really asked of AWS: ``desired`` may be short of the decision when the
    resource limits the size of one change (shards added per action)."""

    applied: bool
    desired: int
    detail: str
