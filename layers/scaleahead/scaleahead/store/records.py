"""The decision record's stored form: the one place a ``DecisionRecord`` becomes a DynamoDB item
(or a JSON answer) and back.

Reading is tolerant: a record written by an earlier version, with a field since added or
dropped, still reads (unknown fields are ignored, missing ones take their defaults), because
``explain`` must read a month of history across upgrades.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, TypeVar

from scaleahead.domain.decision import Action, Reason
from scaleahead.domain.record import AlarmInputs, DecisionRecord, Inputs, Source, TickInputs

_TICK_FIELDS = {f.name for f in fields(TickInputs)}
_ALARM_FIELDS = {f.name for f in fields(AlarmInputs)}
# Set by the store from the item's key and time, never stored as record fields.
_KEYED = ("target_id", "at")


def inputs_to_dict(inputs: Inputs | None) -> dict[str, Any] | None:
    return None if inputs is None else asdict(inputs)


def inputs_from_dict(data: Any, source: str = "") -> Inputs | None:
    """The inputs of a tick or of an alarm: told apart by the record's source, else by their
    fields (an alarm's name their mark)."""
    if not isinstance(data, dict):
        return None
    alarm = source == Source.ALARM.value or (not source and "alarm" in data)
    if alarm:
        return AlarmInputs(**{k: v for k, v in data.items() if k in _ALARM_FIELDS})
    return TickInputs(**{k: v for k, v in data.items() if k in _TICK_FIELDS})


def record_to_dict(record: DecisionRecord, *, keyed: bool = False) -> dict[str, Any]:
    """The record as plain JSON-ready data; fields left unset (None) are left out. ``keyed``:
    with the target and the time it was read back with (for an answer, not for storage)."""
    out: dict[str, Any] = {}
    for f in fields(record):
        if (f.name in _KEYED and not keyed) or f.name == "inputs":
            continue
        value = getattr(record, f.name)
        if (
            value is None
            or (value == "" and f.name in _KEYED)
            or (f.name == "reconciled" and not value)
        ):
            continue
        out[f.name] = value.value if isinstance(value, Source | Action | Reason) else value
    if record.inputs is not None:
        out["inputs"] = inputs_to_dict(record.inputs)
    return out


E = TypeVar("E", Source, Action, Reason)


def _member(enum: type[E], value: Any, default: E) -> E:
    """The enum member ``value`` names, or ``default`` for a value no version wrote."""
    return enum(value) if value in enum._value2member_map_ else default


def record_from_dict(item: dict[str, Any]) -> DecisionRecord:
    """A record read back (its ``target_id`` and ``at`` from the item, when present)."""
    source = str(item.get("source", ""))
    typed = {"inputs", "source", "action", "reason", "executed", "message", "at"}
    plain = {f.name for f in fields(DecisionRecord)} - typed
    at = item.get("at")
    return DecisionRecord(
        source=_member(Source, source, Source.WORKER),
        action=_member(Action, item.get("action"), Action.NONE),
        executed=bool(item.get("executed", False)),
        reason=_member(Reason, item.get("reason"), Reason.FAILED),
        message=str(item.get("message", "")),
        inputs=inputs_from_dict(item.get("inputs"), source),
        at=float(at) if isinstance(at, int | float) else None,
        **{k: v for k, v in item.items() if k in plain},
    )
