"""The interface every tier's adapter implements: read capacity, set capacity.

ECS implements it now; Aurora readers and ElastiCache shards implement the same two calls, so
the planner, the reactive path, the store and the decision log never learn which tier they
drive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from scaleahead.domain.target import Target


class ResourceNotFound(Exception):
    """The target names a resource that does not exist (or this role cannot see)."""


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


class CapacityAdapter(Protocol):
    def read(self, target: Target, *, scale_in: bool = True) -> CapacityReading:
        """``scale_in=False`` (the alarm path, which only adds capacity) may skip the work
        that only guards a scale-in, such as reading memory and CPU metrics."""
        ...

    def set_capacity(self, target: Target, desired: int, reading: CapacityReading) -> Actuation: ...
