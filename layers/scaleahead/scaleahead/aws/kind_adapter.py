"""The base of every kind's capacity adapter, and where each kind's adapter is found.

The capacity port speaks of any ``Target``; an adapter drives one kind. ``KindAdapter`` narrows
the union once, refusing a target of another kind as ``NotDrivable``, and hands the adapter's
own ``_read``/``_set`` the target typed as its model (``EcsTarget``...), so no adapter body
narrows by hand. ``adapter_factory`` finds a kind's ``make_adapter`` in the module its
``KindSpec`` names (``domain.kinds``), which is how the wiring builds one adapter per kind;
``kind_function`` finds any other function every kind module has (``resource_arn``).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from scaleahead.domain.kinds import KINDS, Kind
from scaleahead.service.ports import Actuation, CapacityPort, CapacityReading, NotDrivable

if TYPE_CHECKING:
    from scaleahead.aws.cloudwatch import MetricsAdapter
    from scaleahead.domain.target import Target

T = TypeVar("T", bound="Target")


class KindAdapter(ABC, Generic[T]):
    """A ``CapacityPort`` for the targets of one kind, whose model is ``T``."""

    def __init__(self, kind: Kind) -> None:
        self._kind = kind

    def narrow(self, target: Target) -> T:
        """The target as this adapter's model, or ``NotDrivable`` for another kind's.

        By ``kind``, the union's discriminator, not by class: the alarm path hands over the
        compact record of a target (``domain.target_record``), which has the model's
        attributes but not its class, so that the model (pydantic) is never imported there."""
        if target.kind is not self._kind:
            raise NotDrivable(
                f"the {KINDS[self._kind].name} adapter cannot drive a {target.kind} target"
            )
        return cast(T, target)

    def read(self, target: Target, *, scale_in: bool = True) -> CapacityReading:
        return self._read(self.narrow(target), scale_in=scale_in)

    def set_capacity(self, target: Target, desired: int, reading: CapacityReading) -> Actuation:
        return self._set(self.narrow(target), desired, reading)

    @abstractmethod
    def _read(self, t: T, *, scale_in: bool) -> CapacityReading:
        """``CapacityPort.read`` for a target of this kind."""

    @abstractmethod
    def _set(self, t: T, desired: int, reading: CapacityReading) -> Actuation:
        """``CapacityPort.set_capacity`` for a target of this kind."""


class AdapterFactory(Protocol):
    """A kind module's ``make_adapter``: its adapter on the shared clients. ``metrics`` is the
    one CloudWatch adapter, for the adapters whose guards read metrics."""

    def __call__(self, metrics: MetricsAdapter) -> CapacityPort: ...


def kind_function(kind: Kind, name: str, *, optional: bool = False) -> Callable[..., Any] | None:
    """The function ``name`` of the module ``KINDS[kind].adapter_module`` names: its
    ``make_adapter(metrics)``, its ``resource_arn(target)`` (the resource's ARN, read with the
    operator's credentials by the CLI, which tags it), or, where the kind has one, its
    ``resource_defaults(target)`` (settings ``targets apply`` takes from the resource where
    the file leaves them unset). None for a missing ``optional`` one."""
    module = KINDS[kind].adapter_module
    fn = getattr(importlib.import_module(module), name, None)
    if callable(fn):
        return cast(Callable[..., Any], fn)
    if optional:
        return None
    raise LookupError(f"{module} has no {name}() for kind {kind}")


def adapter_factory(kind: Kind) -> AdapterFactory:
    """The ``make_adapter`` of the module ``KINDS[kind].adapter_module`` names."""
    return cast(AdapterFactory, kind_function(kind, "make_adapter"))
