"""The interface every tier's adapter implements: read capacity, set capacity.

ECS implements it now; Aurora readers and ElastiCache shards implement the same two calls, so
the planner, the reactive path, the store and the decision log never learn which tier they
drive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from scaleahead.domain.target import EcsTarget


class ResourceNotFound(Exception):
    """The target names a resource that does not exist (or this role cannot see)."""


@dataclass(frozen=True)
class CapacityReading:
    """``desired`` is what was asked for; ``ready`` is what serves load now.

    ``busy`` names a change in flight that forbids another one (a reshard, a reader still
    being created); the decision is then recorded as "busy, will retry".
    """

    desired: int
    ready: int
    busy: str | None = None


@dataclass(frozen=True)
class Actuation:
    applied: bool
    desired: int
    detail: str


class CapacityAdapter(Protocol):
    def read(self, target: EcsTarget) -> CapacityReading: ...

    def set_capacity(
        self, target: EcsTarget, desired: int, reading: CapacityReading
    ) -> Actuation: ...
