"""Planned events: a launch, a campaign, a sale that history cannot foresee.

An operator declares the window and either an uplift of the forecast (``--uplift 1.8``: the
load will be 1.8 times what the model expects) or a floor (``--min 12``: at least twelve units,
whatever the forecast says). Both are planned one warm-up ahead like any forecast peak, so the
capacity is serving when the window opens. Once the window is history, its load is left out of
what the model learns from: a launch-day spike must not return as a "weekly pattern" seven days
later. AWS offers only hand-made scheduled actions for this, which neither anticipate the
warm-up nor protect the model.

An uplift only raises: a forecast lowered by hand is a way to be short of capacity, and a quiet
day is already caught within the hour by the level correction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from scaleahead.domain.series import Forecast

MAX_EVENT_SECONDS = 7 * 86400
MAX_UPLIFT = 20.0
EVENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class EventError(ValueError):
    """A planned event that cannot be honoured as given; the message says what to fix."""


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%MZ")


@dataclass(frozen=True)
class PlannedEvent:
    """An operator's declared window kept as data, not as a scheduled action: the plan can
    then rise a warm-up ahead of it, and the model leave its load out once it is past."""

    target: str
    id: str
    start: float
    end: float
    uplift: float | None = None
    min_capacity: int | None = None
    note: str = ""
    by: str = ""
    created_at: float = 0.0
    # The forecast the target plans from (its driver's, when it has one): the window is left
    # out of that fit, whichever of the driver's targets refits it. Empty: the target's own.
    forecast_key: str = ""

    def __post_init__(self) -> None:
        if not EVENT_ID.match(self.id):
            raise EventError(
                f"event id {self.id!r}: use lower-case letters, digits and '-' (up to 40)"
            )
        if not self.end > self.start:
            raise EventError(f"event {self.id}: --end must be after --start")
        if self.end - self.start > MAX_EVENT_SECONDS:
            raise EventError(
                f"event {self.id}: lasts {(self.end - self.start) / 86400:.1f} days; at most 7 "
                "(a longer one would hide most of the history the model learns from)"
            )
        if (self.uplift is None) == (self.min_capacity is None):
            raise EventError(f"event {self.id}: give exactly one of --uplift or --min")
        if self.uplift is not None and not 1.0 < self.uplift <= MAX_UPLIFT:
            raise EventError(
                f"event {self.id}: --uplift {self.uplift:g} must be above 1 and at most "
                f"{MAX_UPLIFT:g} (it multiplies the forecast; it never lowers it)"
            )
        if self.min_capacity is not None and self.min_capacity < 1:
            raise EventError(f"event {self.id}: --min must be at least 1")

    def overlaps(self, start: float, end: float) -> bool:
        return self.start < end and start < self.end

    def effect(self) -> str:
        if self.uplift is not None:
            return f"forecast x{self.uplift:g}"
        return f"at least {self.min_capacity}"

    def describe(self) -> str:
        span = f"{_when(self.start)} to {_when(self.end)}"
        return f"planned event {self.id} ({self.effect()}, {span})"

    def to_item(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "id": self.id,
            "start": self.start,
            "end": self.end,
            "uplift": self.uplift,
            "min_capacity": self.min_capacity,
            "note": self.note,
            "by": self.by,
            "created_at": self.created_at,
            "forecast_key": self.forecast_key,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> PlannedEvent:
        uplift = item.get("uplift")
        floor = item.get("min_capacity")
        return cls(
            target=str(item["target"]),
            id=str(item["id"]),
            start=float(item["start"]),
            end=float(item["end"]),
            uplift=None if uplift is None else float(uplift),
            min_capacity=None if floor is None else int(floor),
            note=str(item.get("note", "")),
            by=str(item.get("by", "")),
            created_at=float(item.get("created_at", 0)),
            forecast_key=str(item.get("forecast_key", "")),
        )

    @property
    def learned_by(self) -> str:
        """The forecast whose fit leaves this window out."""
        return self.forecast_key or f"TARGET#{self.target}"


def uplifted(forecast: Forecast, events: Iterable[PlannedEvent]) -> Forecast:
    """The forecast with each slot that overlaps an uplift event multiplied (by the largest
    uplift when events overlap); the same object when no event touches it."""
    ups = [e for e in events if e.uplift is not None and e.overlaps(forecast.start, forecast.end)]
    if not ups:
        return forecast
    factors = []
    for i in range(len(forecast.mean)):
        t0 = forecast.start + i * forecast.step
        factors.append(
            max((e.uplift or 1.0 for e in ups if e.overlaps(t0, t0 + forecast.step)), default=1.0)
        )
    return replace(
        forecast,
        mean=tuple(v * f for v, f in zip(forecast.mean, factors, strict=True)),
        upper=tuple(v * f for v, f in zip(forecast.upper, factors, strict=True)),
    )


def uplift_in(events: Iterable[PlannedEvent], start: float, end: float) -> PlannedEvent | None:
    """The largest uplift event overlapping [start, end), for the plan's explanation."""
    found = [e for e in events if e.uplift is not None and e.overlaps(start, end)]
    return max(found, key=lambda e: e.uplift or 1.0, default=None)


def floor_in(events: Iterable[PlannedEvent], start: float, end: float) -> PlannedEvent | None:
    """The event with the highest ``--min`` overlapping [start, end)."""
    found = [e for e in events if e.min_capacity is not None and e.overlaps(start, end)]
    return max(found, key=lambda e: e.min_capacity or 0, default=None)


def outside_events(
    points: Sequence[tuple[float, float]], events: Iterable[PlannedEvent]
) -> list[tuple[float, float]]:
    """The history without the points inside any event's window (what the model learns from)."""
    windows = [(e.start, e.end) for e in events]
    if not windows:
        return list(points)
    return [(t, v) for t, v in points if not any(a <= t < b for a, b in windows)]
