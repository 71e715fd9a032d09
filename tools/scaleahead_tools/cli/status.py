"""`scaleahead status`: every target at a glance, from its state, its forecast and AWS."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from scaleahead.domain.controller import evaluation_interval, forecast_plan, planning_warmup
from scaleahead.domain.series import forecast_error
from scaleahead.domain.state import Pause
from scaleahead.domain.target import Target
from scaleahead.domain.tick import FORECAST_DISABLED, forecast_view
from scaleahead.service.ports import CONFIGURATION_FAULTS
from scaleahead.service.runtime import AnyRuntime

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


def status_of(rt: AnyRuntime, target: Target, now: float, pauses: list[Pause]) -> Status:
    """One target's row; ``pauses`` is the one reading of the kill switch for all rows."""
    state = rt.store.get_state(target.id)
    warmup, source = planning_warmup(target, state.warmups)
    desired = ready = None
    problem = ""
    try:
        reading = rt.adapter(target).read(target, scale_in=False)
        desired, ready = reading.desired, reading.ready
    except CONFIGURATION_FAULTS as err:
        problem = f"cannot read capacity: {err}"
    planned_now = state.plans[-1][1] if state.plans else None
    planned_in_1h = error = None
    stored = rt.store.get_forecast(target) if target.forecast.enabled else None
    # The worker's own rule: a forecast it would not plan from (failed, or too old) is not
    # looked ahead through either.
    view = forecast_view(target, stored, now)
    if view.forecast is not None:
        f = view.forecast
        every = evaluation_interval(target, rt.settings.tick_seconds)
        events = rt.store.planned_events(target.id, now)
        ahead = forecast_plan(target, f, now + HOUR, every, warmup, events)
        planned_in_1h = None if ahead is None else ahead.desired
        points = rt.metrics.load_series(target, now - HOUR, now)
        error = forecast_error(f, points)
    elif view.unavailable != FORECAST_DISABLED:
        problem = problem or view.unavailable
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
