"""In-memory fakes of the service ports, so that the use cases are tested without AWS or moto.

The services (``scaleahead.service``) reach capacity, metrics and state only through the ports
of ``scaleahead.service.ports``; these fakes implement them in a few dictionaries, so a service
test runs in milliseconds and says exactly what was called. moto stays for the adapters' tests
and the end-to-end ones, which prove that the real adapters keep the same contracts.

``MemoryStore`` mirrors the DynamoDB store's semantics where the services depend on them: the
lease is a conditional write (held by another owner until it expires, ``LeaseHeld``), the
state read under it is a copy that only ``save``/``commit`` write back, leaving the block
releases it (committing a ``dirty`` state first), and a decision record written ``if_absent``
keeps the one already under its key.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from scaleahead.domain.alarm_events import alarm_name
from scaleahead.domain.capacity import Actuation, CapacityReading
from scaleahead.domain.events import PlannedEvent
from scaleahead.domain.record import DecisionRecord
from scaleahead.domain.state import ALL_TARGETS, Pause, StoredForecast, TargetEntry, TargetState
from scaleahead.domain.target import Kind, Target, TargetError, parse_target
from scaleahead.service.ports import LeaseHeld, NotFound, PortError
from scaleahead.service.runtime import Runtime
from scaleahead.settings import Mode, Settings

# As the DynamoDB store: longer than a function's timeout; planned events kept 15 days.
LEASE_SECONDS = 90
EVENT_RETENTION_SECONDS = 15 * 86400


class MemoryLease:
    """A held lease and the state read with it (a copy: only ``save``/``commit`` write it)."""

    def __init__(self, store: MemoryStore, state: TargetState, owner: str) -> None:
        self.store = store
        self.state = state
        self.owner = owner
        self.dirty = False
        self.released = False

    def save(self, state: TargetState) -> None:
        self.store._put_state(state, self.owner, keep_lease=True)

    def commit(self, state: TargetState) -> None:
        self.store._put_state(state, self.owner, keep_lease=False)
        self.released = True


@dataclass
class MemoryStore:
    """The ``StatePort`` in memory: definitions, state and lease, forecasts, the record."""

    targets: dict[str, str] = field(default_factory=dict)  # id -> definition (JSON)
    rests: dict[str, float] = field(default_factory=dict)  # id -> resting until
    states: dict[str, TargetState] = field(default_factory=dict)
    leases: dict[str, tuple[str, float]] = field(default_factory=dict)  # id -> (owner, until)
    forecasts: dict[str, StoredForecast] = field(default_factory=dict)
    events: list[PlannedEvent] = field(default_factory=list)
    pauses: dict[str, Pause] = field(default_factory=dict)
    # (target id, sort key, record), in the order written; a rewrite replaces in place.
    decisions: list[tuple[str, str, DecisionRecord]] = field(default_factory=list)
    rejected: list[tuple[float, str, Any]] = field(default_factory=list)
    # (target id, whether the lease was kept) of every state write, in order.
    writes: list[tuple[str, bool]] = field(default_factory=list)
    keys_made: int = 0

    # -- targets ---------------------------------------------------------------------------
    def put_target(self, target: Target) -> None:
        self.targets[target.id] = target.model_dump_json(by_alias=True, exclude_none=True)
        self.rests.pop(target.id, None)  # a definition written replaces the item, mark and all

    def put_definition(self, target_id: str, definition: Any) -> None:
        """Store a definition as given, valid or not (as a hand-edited item would be)."""
        self.targets[target_id] = json.dumps(definition)

    def get_target(self, target_id: str) -> Target | None:
        raw = self.targets.get(target_id)
        return parse_target(json.loads(raw)) if raw is not None else None

    def alarm_target(self, target_id: str) -> Target | None:
        """The model itself: memory has no cold start to spare (the DynamoDB store reads a
        compact record here)."""
        return self.get_target(target_id)

    def rest_target(self, target: Target, until: float) -> bool:
        current = self.targets.get(target.id)
        if current is None or parse_target(json.loads(current)) != target:
            return False  # deleted, or another definition applied since
        self.rests[target.id] = until
        return True

    def end_rest(self, target_id: str) -> None:
        self.rests.pop(target_id, None)

    def target_entries(self) -> Iterator[TargetEntry]:
        for tid, raw in sorted(self.targets.items()):
            try:
                yield TargetEntry(
                    tid, parse_target(json.loads(raw)), rest_until=self.rests.get(tid)
                )
            except (TargetError, json.JSONDecodeError) as err:
                yield TargetEntry(tid, None, f"stored definition is invalid: {err}", raw)

    # -- state and lease -------------------------------------------------------------------
    def get_state(self, target_id: str) -> TargetState:
        stored = self.states.get(target_id)
        state = copy.deepcopy(stored) if stored is not None else TargetState(target_id)
        held = self.leases.get(target_id)
        state.lease_until = held[1] if held else None
        return state

    def acquire_lease(
        self, target_id: str, owner: str, now: float, seconds: int = LEASE_SECONDS
    ) -> TargetState:
        """Take the lease as the conditional write does, or raise ``LeaseHeld``; a test takes
        it under another owner to stand for a concurrent invocation."""
        held = self.leases.get(target_id)
        if held is not None and held[0] != owner and held[1] >= now:
            raise LeaseHeld(target_id)
        self.leases[target_id] = (owner, now + seconds)
        return self.get_state(target_id)

    def release_lease(self, target_id: str, owner: str) -> None:
        held = self.leases.get(target_id)
        if held is not None and held[0] == owner:
            del self.leases[target_id]

    def lease_owner(self, target_id: str) -> str | None:
        held = self.leases.get(target_id)
        return held[0] if held else None

    @contextmanager
    def lease(
        self, target_id: str, owner: str, now: float, *, tries: int = 1, wait: float = 0.2
    ) -> Iterator[MemoryLease]:
        """As ``Store.lease``, without the waits: nothing can release the lease meanwhile."""
        for attempt in range(1, tries + 1):
            try:
                state = self.acquire_lease(target_id, owner, now)
                break
            except LeaseHeld:
                if attempt == tries:
                    raise
        held = MemoryLease(self, state, owner)
        try:
            yield held
            if held.dirty and not held.released:
                held.commit(held.state)
        finally:
            if not held.released:
                self.release_lease(target_id, owner)

    def _put_state(self, state: TargetState, owner: str, *, keep_lease: bool) -> None:
        """Write the whole state, only if ``owner`` holds the lease; drop it unless kept."""
        if self.lease_owner(state.target_id) != owner:
            raise LeaseHeld(state.target_id)
        stored = copy.deepcopy(state)
        stored.version += 1
        stored.lease_until = None
        self.states[state.target_id] = stored
        if not keep_lease:
            del self.leases[state.target_id]
        self.writes.append((state.target_id, keep_lease))
        state.version += 1

    # -- forecasts, events, pauses ---------------------------------------------------------
    @staticmethod
    def _forecast_key(owner: str | Target) -> str:
        return f"TARGET#{owner}" if isinstance(owner, str) else owner.forecast_key

    def get_forecast(self, owner: str | Target) -> StoredForecast | None:
        return self.forecasts.get(self._forecast_key(owner))

    def put_forecast(self, owner: str | Target, stored: StoredForecast) -> None:
        self.forecasts[self._forecast_key(owner)] = stored

    def put_event(self, event: PlannedEvent) -> None:
        self.events = [e for e in self.events if (e.target, e.id) != (event.target, event.id)]
        self.events.append(event)

    def planned_events(
        self, target_id: str | None = None, now: float | None = None
    ) -> list[PlannedEvent]:
        return sorted(
            (
                e
                for e in self.events
                if (target_id is None or e.target == target_id)
                and (now is None or e.end + EVENT_RETENTION_SECONDS > now)
            ),
            key=lambda e: (e.start, e.target, e.id),
        )

    def pause(self, target_id: str, by: str, reason: str, now: float) -> None:
        self.pauses[target_id] = Pause(target_id, by, reason, now)

    def resume(self, target_id: str) -> bool:
        return self.pauses.pop(target_id, None) is not None

    def pause_of(self, target_id: str, pauses: Iterable[Pause] | None = None) -> Pause | None:
        found = {p.target: p for p in (self.pauses.values() if pauses is None else pauses)}
        return found.get(ALL_TARGETS) or found.get(target_id)

    # -- the record ------------------------------------------------------------------------
    def new_decision_sk(self, now: float) -> str:
        """A fresh key in time order, as the store's; numbered rather than random."""
        self.keys_made += 1
        return f"DECISION#{now:015.3f}#{self.keys_made:08x}"

    def record_decision(
        self,
        target_id: str,
        now: float,
        record: DecisionRecord,
        *,
        sk: str | None = None,
        if_absent: bool = False,
    ) -> str:
        """Keep the record as the store reads it back (with its target and time); a key given
        ``if_absent`` keeps the record already there, else the write replaces it."""
        sk = sk or self.new_decision_sk(now)
        row = (target_id, sk, replace(record, target_id=target_id, at=now))
        for i, (tid, key, _) in enumerate(self.decisions):
            if (tid, key) == (target_id, sk):
                if not if_absent:
                    self.decisions[i] = row
                return sk
        self.decisions.append(row)
        return sk

    def decisions_of(self, target_id: str) -> list[DecisionRecord]:
        """A target's decision records, oldest first."""
        return [r for tid, _, r in self.decisions if tid == target_id]

    def record_rejected(self, now: float, reason: str, payload: Any) -> None:
        self.rejected.append((now, reason, payload))


@dataclass(frozen=True)
class Call:
    """One call to a fake: ``op`` ("read", "set", "load", "alarm"), its target and figure."""

    op: str
    target_id: str
    value: float | None = None


class _Faults:
    """One-shot errors for the next call of an operation."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._next: dict[str, tuple[PortError, bool]] = {}

    def fail_next(self, op: str, error: PortError, *, applied: bool = False) -> None:
        """Make the next ``op`` call raise ``error``; ``applied``: after doing its work (a
        reply lost once AWS had made the change)."""
        self._next[op] = (error, applied)

    def _call(self, op: str, target_id: str, value: float | None = None) -> PortError | None:
        """Log the call; raise its planned error now, or return one planned for after."""
        self.calls.append(Call(op, target_id, value))
        error, applied = self._next.pop(op, (None, False))
        if error is not None and not applied:
            raise error
        return error

    def ops(self, op: str) -> list[Call]:
        return [c for c in self.calls if c.op == op]


class FakeCapacity(_Faults):
    """The ``CapacityPort`` of every kind: a desired count per target id, ``ready`` equal to it
    unless set apart (no warm-up), ``busy`` and ``scale_in_floor`` per target when given. A
    target with no count is a resource that does not exist: ``NotFound``."""

    def __init__(self, desired: dict[str, int] | None = None) -> None:
        super().__init__()
        self.desired: dict[str, int] = dict(desired or {})
        self.ready: dict[str, int] = {}
        self.busy: dict[str, str] = {}
        self.scale_in_floor: dict[str, int] = {}

    def read(self, target: Target, *, scale_in: bool = True) -> CapacityReading:
        late = self._call("read", target.id)
        if late is not None:
            raise late
        if target.id not in self.desired:
            raise NotFound(f"no resource for target {target.id}")
        floor = self.scale_in_floor.get(target.id) if scale_in else None
        return CapacityReading(
            desired=self.desired[target.id],
            ready=self.ready.get(target.id, self.desired[target.id]),
            busy=self.busy.get(target.id),
            scale_in_floor=floor,
            scale_in_floor_reason="the fake's scale-in floor" if floor is not None else "",
        )

    def set_capacity(self, target: Target, desired: int, reading: CapacityReading) -> Actuation:
        late = self._call("set", target.id, desired)
        before = self.desired.get(target.id)
        self.desired[target.id] = desired
        if late is not None:
            raise late
        return Actuation(True, desired, f"desired {before} -> {desired}")

    def sets(self, target_id: str) -> list[int]:
        """The capacities asked for ``target_id``, in order."""
        return [int(c.value or 0) for c in self.ops("set") if c.target_id == target_id]


class FakeMetrics(_Faults):
    """The ``MetricsPort``: a load series per target id, the high-load alarms put (name ->
    threshold), and the operator's ``delete_alarms``/``managed_alarms``."""

    def __init__(self, series: dict[str, list[tuple[float, float]]] | None = None) -> None:
        super().__init__()
        self.series: dict[str, list[tuple[float, float]]] = dict(series or {})
        self.alarms: dict[str, float] = {}
        self.shared_blocks = 0
        self.read_ahead_asked: list[tuple[list[str], float]] = []

    home_region = "us-east-1"

    @contextmanager
    def shared_reads(self) -> Iterator[None]:
        self.shared_blocks += 1
        yield

    def read_ahead(self, reads: Sequence[tuple[Target, float]], end: float) -> None:
        """Nothing to read ahead in memory; the windows asked for are kept for the tests."""
        self.read_ahead_asked.append(([t.id for t, _ in reads], end))

    def load_series(self, target: Target, start: float, end: float) -> list[tuple[float, float]]:
        """As the adapter: oldest first, closed periods only (an open one reads low)."""
        late = self._call("load", target.id)
        if late is not None:
            raise late
        period = target.load_metric.period_seconds
        points = self.series.get(target.id, [])
        return sorted((t, v) for t, v in points if t >= start and t + period <= end)

    def put_high_load_alarm(self, target: Target, prefix: str, threshold: float) -> str:
        late = self._call("alarm", target.id, threshold)
        if late is not None:
            raise late
        name = alarm_name(prefix, target.id)
        self.alarms[name] = round(threshold, 6)
        return name

    def delete_alarms(self, target_id: str, prefix: str) -> None:
        self.alarms.pop(alarm_name(prefix, target_id), None)

    def managed_alarms(self, prefix: str) -> list[dict[str, Any]]:
        return [
            {"AlarmName": n, "Threshold": t}
            for n, t in sorted(self.alarms.items())
            if n.startswith(prefix)
        ]


@dataclass
class MemoryQueue:
    """The work queue: every message sent, in order."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    def send(self, messages: Sequence[dict[str, Any]]) -> int:
        self.sent.extend(messages)
        return len(messages)


def fake_runtime(
    targets: list[dict[str, Any]],
    *,
    capacity: FakeCapacity | None = None,
    metrics: FakeMetrics | None = None,
    queue: MemoryQueue | None = None,
    **settings: Any,
) -> Runtime[MemoryStore]:
    """A runtime on the fakes with ``targets`` (definitions, validated) stored; ``settings``
    override the stack's (mode ForecastAndScale, one-minute ticks, prefix "scaleahead-")."""
    store = MemoryStore()
    for definition in targets:
        store.put_target(parse_target(definition))
    capacity = capacity if capacity is not None else FakeCapacity()
    work = queue if queue is not None else MemoryQueue()
    values: dict[str, Any] = {
        "state_table": "scaleahead-state",
        "work_queue_url": "memory://scaleahead-work",
        "alarm_prefix": "scaleahead-",
        "mode": Mode.FORECAST_AND_SCALE,
        "tick_seconds": 60,
        "decision_ttl_days": 30,
        **settings,
    }
    return Runtime(
        settings=Settings(**values),
        store=store,
        metrics=metrics if metrics is not None else FakeMetrics(),
        adapters={kind: capacity for kind in Kind},
        queue_factory=lambda: work,
    )
