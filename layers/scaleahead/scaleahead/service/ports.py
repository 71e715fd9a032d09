"""The ports the use cases drive: capacity, metrics and state, and the errors they may raise.

The core owns these interfaces and the adapters implement them (``scaleahead.aws`` for AWS,
``scaleahead.store`` for DynamoDB); ``scaleahead.handlers.wiring`` plugs the adapters in. So the
services never see boto3 or botocore, and their tests run on in-memory fakes
(``scaleahead_testkit.fakes``) as readily as on moto.

The error vocabulary is complete: every adapter failure is one of these four, and what the
caller does with each is a rule of the whole product:

- ``NotFound`` (a deleted cluster, service, replication group) and ``NotDrivable`` (the resource
  exists but this target cannot drive it: not cluster mode, not tagged, wrong engine) are
  configuration faults no retry fixes. The worker records them every tick, the alarm path once;
  neither raises, so a broken target never becomes a retry storm or a dead letter.
- ``Refused`` (access denied, a bad parameter): recorded as a failed decision, not retried.
- ``Transient`` (throttling, 5xx, timeouts, after the SDK's own retries): raised again, so
  Lambda or SQS retries the whole invocation; the intent on record makes that retry safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from scaleahead.domain.capacity import Actuation, CapacityReading
from scaleahead.domain.record import DecisionRecord
from scaleahead.domain.state import Pause, StoredForecast, TargetEntry, TargetState

if TYPE_CHECKING:
    from scaleahead.domain.events import PlannedEvent
    from scaleahead.domain.target import Target

__all__ = [
    "Actuation",
    "CapacityPort",
    "CapacityReading",
    "LeaseHeld",
    "LeasePort",
    "MetricsPort",
    "NotDrivable",
    "NotFound",
    "PortError",
    "Refused",
    "StatePort",
    "Transient",
]


class PortError(Exception):
    """A failure of an adapter, already classified."""


class NotFound(PortError):
    """The target names a resource that does not exist (or this role cannot see)."""


class NotDrivable(PortError):
    """The resource exists, but this target cannot drive it as defined."""


class Refused(PortError):
    """The call was refused for good (access denied, invalid parameter): recorded."""


class Transient(PortError):
    """The call failed in a way a later retry may not: the invocation is retried."""


# What a configuration fault looks like to a caller that records it and carries on.
CONFIGURATION_FAULTS = (NotFound, NotDrivable, Refused)


class LeaseHeld(Exception):
    """Another invocation holds the target's lease."""


class CapacityPort(Protocol):
    """One tier's capacity: read it, set it. Every kind implements the same two calls."""

    def read(self, target: Target, *, scale_in: bool = True) -> CapacityReading:
        """``scale_in=False`` (the alarm path, which only adds capacity) may skip the work
        that only guards a scale-in, such as reading memory and CPU metrics."""
        ...

    def set_capacity(self, target: Target, desired: int, reading: CapacityReading) -> Actuation: ...


class MetricsPort(Protocol):
    """The load history and the managed high-load alarms."""

    @property
    def home_region(self) -> str:
        """The functions' region: where a managed alarm can reach them."""
        ...

    def shared_reads(self) -> AbstractContextManager[None]: ...

    def read_ahead(self, reads: Sequence[tuple[Target, float]], end: float) -> None:
        """Within ``shared_reads``, read these (target, start) load windows ahead in as few
        calls as can be; never raises (each target then reads its own)."""
        ...

    def load_series(self, target: Target, start: float, end: float) -> list[tuple[float, float]]:
        """(timestamp, value) of the target's load, oldest first, closed periods only."""
        ...

    def put_high_load_alarm(self, target: Target, prefix: str, threshold: float) -> str: ...

    def delete_alarms(self, target_id: str, prefix: str) -> None: ...

    def managed_alarms(self, prefix: str) -> list[dict[str, Any]]: ...


class LeasePort(Protocol):
    """The target's state, held exclusively until committed or released."""

    state: TargetState
    dirty: bool

    def save(self, state: TargetState) -> None:
        """Write the state and keep the lease (the intent goes on record this way)."""
        ...

    def commit(self, state: TargetState) -> None:
        """Write the state and release the lease in one write."""
        ...


class StatePort(Protocol):
    """What the use cases keep: definitions, state under a lease, forecasts, the record."""

    def get_target(self, target_id: str) -> Target | None: ...

    def alarm_target(self, target_id: str) -> Target | None:
        """The target as ``get_target`` gives it, read the fast way the alarm path needs: from
        a record validated when it was written, never a stale or unvalidated one."""
        ...

    def target_entries(self) -> Iterator[TargetEntry]:
        """Every stored target definition, parsed, or why it does not parse."""
        ...

    def rest_target(self, target: Target, until: float) -> bool:
        """Tell the tick that ``target`` rests until ``until`` (on the definition planned from
        only); False when the mark was not written (the target is then evaluated as usual)."""
        ...

    def end_rest(self, target_id: str) -> None:
        """The tick evaluates ``target_id`` again from its next run."""
        ...

    def get_state(self, target_id: str) -> TargetState: ...

    def lease(
        self, target_id: str, owner: str, now: float, *, tries: int = 1, wait: float = 0.2
    ) -> AbstractContextManager[LeasePort]: ...

    def get_forecast(self, owner: str | Target) -> StoredForecast | None: ...

    def put_forecast(self, owner: str | Target, stored: StoredForecast) -> None: ...

    def planned_events(
        self, target_id: str | None = None, now: float | None = None
    ) -> list[PlannedEvent]: ...

    def pause_of(self, target_id: str, pauses: Iterable[Pause] | None = None) -> Pause | None: ...

    def new_decision_sk(self, now: float) -> str:
        """The key of a decision record not yet written (an intent carries it)."""
        ...

    def record_decision(
        self,
        target_id: str,
        now: float,
        record: DecisionRecord,
        *,
        sk: str | None = None,
        if_absent: bool = False,
    ) -> str: ...

    def record_rejected(self, now: float, reason: str, payload: Any) -> None: ...
