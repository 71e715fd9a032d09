"""Everything a use case needs, as ports: built once per execution environment by the wiring
(``scaleahead.handlers.wiring``) from AWS adapters, or by a test from in-memory fakes.

``Runtime`` is generic in its store: the services need only the ``StatePort``, while the
operator's tools, wired the same way, also reach the concrete store's other records.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from scaleahead.domain.kinds import Kind
from scaleahead.domain.record import DecisionRecord
from scaleahead.service.ports import CapacityPort, MetricsPort, StatePort
from scaleahead.settings import Mode, Settings

if TYPE_CHECKING:
    from scaleahead.domain.target import Target

DecisionHook = Callable[["Target", DecisionRecord], None]


class QueuePort(Protocol):
    def send(self, messages: Sequence[dict[str, Any]]) -> int: ...


def _ignore(target: Target, record: DecisionRecord) -> None:
    return None


StoreT = TypeVar("StoreT", bound=StatePort, covariant=True)


@dataclass
class Runtime(Generic[StoreT]):
    """The ports a use case runs against, built once per execution environment: the same
    services then run on AWS adapters in Lambda and on in-memory fakes in tests and the demo."""

    settings: Settings
    store: StoreT
    metrics: MetricsPort
    adapters: Mapping[Kind, CapacityPort]
    queue_factory: Callable[[], QueuePort]
    on_decision: DecisionHook = _ignore
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)

    def adapter(self, target: Target) -> CapacityPort:
        """The target's tier adapter (its errors already in the ports' vocabulary)."""
        return self.adapters[target.kind]

    def acts(self, target: Target) -> bool:
        """Whether the target may change capacity: its own mode overrides the stack's."""
        return (target.mode or self.settings.mode) is Mode.FORECAST_AND_SCALE

    def paused(self, target: Target) -> str:
        """Why the target is paused (the kill switch, read strongly consistent), or ""."""
        pause = self.store.pause_of(target.id)
        return pause.describe() if pause else ""

    def mode(self, target: Target) -> Mode:
        return target.mode or self.settings.mode


# What the services take: any runtime whose store has the state port.
AnyRuntime = Runtime[StatePort]
