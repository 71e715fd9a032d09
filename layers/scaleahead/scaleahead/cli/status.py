"""`scaleahead status`: every target at a glance, from its state, its forecast and AWS."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scaleahead.aws.capacity import ResourceNotFound
from scaleahead.domain.controller import planning_warmup
from scaleahead.domain.plan import units_needed
from scaleahead.domain.series import Forecast
from scaleahead.domain.target import Target, TargetError
from scaleahead.store import Pause

HOUR = 3600


@dataclass(frozen=True)
class Status:
    target: str
    kind: str
    desired: int | None
    ready: int | None
    planned_now: int | None
    planned_in_1h: int | None
    mode: str
    last_action: str | None
    last_action_at: float | None
    forecast_error: float | None
    warmup_seconds: int
    warmup_source: str
    problem: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def forecast_error(forecast: Forecast, points: list[tuple[float, float]]) -> float | None:
    """Mean absolute error of the forecast mean over the observed points it covers, relative to
    the observed load (a weighted MAPE: robust to idle minutes near zero); None if none."""
    pairs = [(v, forecast.at(t)) for t, v in points]
    pairs_ok = [(v, f) for v, f in pairs if f is not None and math.isfinite(v)]
    total = sum(abs(v) for v, _ in pairs_ok)
    if not pairs_ok or total <= 0:
        return None
    return sum(abs(v - f) for v, f in pairs_ok) / total


def status_of(rt: Any, target: Target, now: float, pauses: list[Pause]) -> Status:
    """One target's row; ``pauses`` is the one reading of the kill switch for all rows."""
    state = rt.store.get_state(target.id)
    warmup, source = planning_warmup(target, state.warmups)
    desired = ready = None
    problem = ""
    try:
        reading = rt.adapter(target).read(target, scale_in=False)
        desired, ready = reading.desired, reading.ready
    except (ResourceNotFound, TargetError) as err:
        problem = f"cannot read capacity: {err}"
    planned_now = state.plans[-1][1] if state.plans else None
    planned_in_1h = error = None
    stored = rt.store.get_forecast(target) if target.forecast.enabled else None
    if stored is not None and stored.status == "ok" and stored.forecast:
        f = Forecast.from_item(stored.forecast)
        ahead = f.window(now + HOUR, now + HOUR + warmup, upper=True)
        if ahead:
            planned_in_1h = units_needed(max(ahead), target.capacity_per_unit)
        points = rt.metrics.load_series(target, now - HOUR, now)
        error = forecast_error(f, points)
    elif stored is not None:
        problem = problem or stored.reason
    paused = rt.store.pause_of(target.id, pauses)
    mode = rt.mode(target).value + (" (paused)" if paused else "")
    return Status(
        target.id,
        target.kind.value,
        desired,
        ready,
        planned_now,
        planned_in_1h,
        mode,
        state.last_action,
        state.last_action_at,
        error,
        warmup,
        source,
        problem,
    )
