"""What the use cases keep between invocations, as plain values.

The decisions reason about a target's state, its intent, a pause and the stored forecast
without caring how they are kept: how each becomes a DynamoDB item (its keys, its numbers) is
the store's business (``scaleahead.store``), so these types stay testable without AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scaleahead.domain.reactive import FloorState
from scaleahead.domain.record import Inputs
from scaleahead.domain.rest import Rest
from scaleahead.domain.warmup import WarmupLog

if TYPE_CHECKING:
    from scaleahead.domain.target import Target

# The scope of a pause that holds every target, in place of one target's id.
ALL_TARGETS = "*"


@dataclass(frozen=True)
class Pause:
    """Who paused what, when and why: every decision taken while paused quotes it."""

    target: str  # a target id, or ``ALL_TARGETS``
    by: str
    reason: str
    at: float

    def describe(self) -> str:
        scope = "all targets" if self.target == ALL_TARGETS else self.target
        why = f": {self.reason}" if self.reason else ""
        return f"{scope} paused by {self.by}{why}"


@dataclass(frozen=True)
class Intent:
    """A decision about to be carried out, on record before AWS is called.

    ``sk`` is where its decision record goes, so whoever completes it (this invocation, or the
    next after a crash) writes that one record and no other.
    """

    sk: str
    source: str
    action: str
    before: int
    desired: int
    ready: int
    reason: str
    message: str
    at: float
    inputs: Inputs | None = None


@dataclass
class TargetState:
    """Per-target runtime state; ``version`` grows by one with every committed change."""

    target_id: str
    version: int = 0
    floor: FloorState = field(default_factory=FloorState)
    plans: list[tuple[float, int]] = field(default_factory=list)
    last_action: str | None = None
    last_action_at: float | None = None
    last_desired: int | None = None
    alarm_threshold: float | None = None
    last_tick: int | None = None
    warmups: WarmupLog = field(default_factory=WarmupLog)
    pending: Intent | None = None
    # The rest the last evaluation took (``domain.rest``); the tick skips the target until it
    # ends (told by the target's own item: ``store.rest_target``).
    rest: Rest | None = None
    # When the lease read with this state expires (never written back as state: the lease is
    # not state).
    lease_until: float | None = None


@dataclass(frozen=True)
class StoredForecast:
    """The latest fit of a target (or of its driver), or why there is none: the worker plans
    from it without refitting every tick."""

    status: str  # "ok" or "reactive-only"
    generated_at: float
    reason: str
    forecast: dict[str, Any] | None


@dataclass(frozen=True)
class TargetEntry:
    """One stored target definition as read: the target, or why the stored definition is not
    one (``problem``; ``raw`` is then kept for the record). A bad definition must never hide
    the good ones beside it."""

    target_id: str
    target: Target | None
    problem: str = ""
    raw: Any = None
    # Until when the target rests (``domain.rest``): the tick skips it.
    rest_until: float | None = None
