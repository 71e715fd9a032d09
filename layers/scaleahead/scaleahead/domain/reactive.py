"""The reactive floor: what an alarm that says "reality beat the plan" forces at once.

Pure Python and tiny on purpose: the alarm path imports it and must stay fast on a cold start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def reactive_floor(current: int, observed: float | None, threshold: float | None, step: int) -> int:
    """Capacity to hold while the alarm lasts.

    At least one step above what is there now; more when the alarm says by how much the load
    overshoots (``current x observed / threshold``), because one step at a time would need one
    alarm round-trip per step while users wait.
    """
    floor = current + step
    if (
        observed is not None
        and threshold is not None
        and math.isfinite(observed)
        and math.isfinite(threshold)
        and threshold > 0
        and observed > 0
    ):
        # From zero tasks the overshoot still counts: the threshold assumes one unit then.
        floor = max(floor, math.ceil(max(current, 1) * observed / threshold - 1e-9))
    return floor


@dataclass(frozen=True)
class FloorState:
    """The floor as stored per target.

    ``ok_at`` is when the alarm left ALARM; ``changed_at`` is the time of the last alarm state
    change applied, so a late or retried delivery of an older change is recognised and ignored.
    """

    floor: int | None = None
    alarm_state: str | None = None
    raised_at: float | None = None
    ok_at: float | None = None
    changed_at: float | None = None


def active_floor(state: FloorState, now: float, stabilisation_seconds: int) -> int | None:
    """The floor still in force: until the alarm is OK and one stabilisation window has passed.

    Holding it for the window after OK keeps the plane from scaling in straight after a spike
    the forecast missed, which is when a second spike is most likely.
    """
    if state.floor is None:
        return None
    if state.alarm_state == "ALARM":
        return state.floor
    if state.ok_at is not None and now < state.ok_at + stabilisation_seconds:
        return state.floor
    return None
