"""Which instances of an Aurora cluster are its readers, which count, and which may go.

These rules decide what a target's capacity is and what a scale-in may delete, so they are pure
and tested without moto; the adapter (``aws.aurora``) describes the cluster into the shapes
below, applies the rules and makes the calls.

* The writer is never a reader: it is found through ``DBClusterMembers`` (``IsClusterWriter``),
  never through names or tags, because a failover can make any instance the writer.
* A reader counts towards the capacity while it serves reads or will without anyone acting
  (creating, modifying...); one deleting, failed, stopped... does not.
* Only the readers scaleahead created for the target (tagged ``scaleahead:managed=true`` and
  ``scaleahead:target=<target id>``) are ever removed, newest first: a reader a person added for
  a report or a migration is never taken away, and the oldest have the warmest caches.
* Aurora takes one change per cluster at a time: while anything is not ``available`` the
  cluster is busy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from scaleahead.domain.kinds import KINDS, Kind

if TYPE_CHECKING:
    from scaleahead.domain.target import AuroraTarget

MANAGED_TAG = "scaleahead:managed"
TARGET_TAG = "scaleahead:target"
# Aurora's own limit of readers per cluster.
MAX_READERS = KINDS[Kind.AURORA].max_capacity
# Statuses of a reader that will not serve reads again without someone's help, or is going
# away: not counted in ``desired``. Any other status (creating, modifying, rebooting...) ends
# in ``available`` by itself, so that reader is already asked for.
_GONE = frozenset({"deleting", "failed", "stopped", "stopping", "insufficient-capacity"})
_GONE_PREFIXES = ("incompatible-", "inaccessible-")


def owned(tags: Mapping[str, str], target_id: str) -> bool:
    """Whether these tags mark an instance scaleahead added for the target ``target_id``."""
    return tags.get(MANAGED_TAG) == "true" and tags.get(TARGET_TAG) == target_id


@dataclass(frozen=True)
class Instance:
    id: str
    status: str
    writer: bool
    instance_class: str
    parameter_group: str | None
    publicly_accessible: bool | None
    created: datetime | None
    tags: dict[str, str] = field(default_factory=dict)

    def owned_by(self, target: AuroraTarget) -> bool:
        return owned(self.tags, target.id)

    @property
    def counts(self) -> bool:
        """Whether this reader serves reads now or will without anyone acting."""
        return self.status not in _GONE and not self.status.startswith(_GONE_PREFIXES)


@dataclass(frozen=True)
class Cluster:
    id: str
    status: str
    engine: str
    subnet_group: str | None
    instances: tuple[Instance, ...]
    undescribed: tuple[str, ...]  # listed in DBClusterMembers, absent from DescribeDBInstances

    @property
    def writer(self) -> Instance | None:
        return next((i for i in self.instances if i.writer), None)

    @property
    def readers(self) -> list[Instance]:
        return [i for i in self.instances if not i.writer]

    @property
    def desired(self) -> int:
        return sum(1 for r in self.readers if r.counts)

    @property
    def ready(self) -> int:
        return sum(1 for r in self.readers if r.status == "available")

    @property
    def busy(self) -> str | None:
        """The change in flight, if any: Aurora takes one change per cluster at a time."""
        if self.status != "available":
            return f"DB cluster {self.id} is {self.status}"
        moving = [f"{i.id} is {i.status}" for i in self.instances if i.status != "available"]
        moving += [f"{i} is not described yet" for i in self.undescribed]
        if moving:
            return f"DB cluster {self.id}: " + ", ".join(sorted(moving))
        return None


def reading_floor(t: AuroraTarget) -> tuple[int | None, str]:
    """The scale-in floor a reading carries, with its reason: one reader under
    ``keep_one_reader``, else none."""
    return (1, "keep_one_reader") if t.keep_one_reader else (None, "")


def scale_in_floor(t: AuroraTarget) -> tuple[int, str]:
    """The fewest readers a scale-in may leave, and why: ``min_capacity``, or one reader under
    ``keep_one_reader``."""
    if t.keep_one_reader and t.min_capacity < 1:
        return 1, "keep_one_reader"
    return t.min_capacity, f"min_capacity {t.min_capacity}"


def ceiling(t: AuroraTarget) -> int:
    """The most readers a scale-out may reach: ``max_capacity``, within Aurora's limit."""
    return min(t.max_capacity, MAX_READERS)


def instance_classes(t: AuroraTarget, writer: Instance) -> list[str]:
    """The classes a new reader is tried with, in order: the target's (else the writer's),
    then its fallbacks, each once."""
    classes = list(dict.fromkeys([t.instance_class or writer.instance_class]))
    classes += [k for k in t.fallback_instance_classes if k not in classes]
    return classes


def removable(c: Cluster, t: AuroraTarget) -> list[Instance]:
    """The readers a scale-in may delete, in the order it deletes them: only those scaleahead
    added for ``t``, newest first (the oldest have the warmest buffer caches)."""
    return sorted(
        (r for r in c.readers if r.owned_by(t)),
        key=lambda r: (r.created is None, r.created or datetime.min, r.id),
        reverse=True,
    )
