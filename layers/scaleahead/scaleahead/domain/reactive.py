"""The reactive floor: what an alarm that says "reality beat the plan" forces at once.

One alarm *episode* (the alarm going to ALARM at one moment) raises capacity at most once. The
floor is derived from the capacity the episode started from, recorded with it, never from the
capacity found when a copy of the same change arrives: CloudWatch delivers one state change
through EventBridge, SNS and the Lambda action, and Lambda retries, so a floor re-derived from
the current capacity would compound (4 -> 6 -> 8) with every copy.

Pure Python and tiny on purpose: the alarm path imports it and must stay fast on a cold start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

# The same state change reaches us stamped a few hundred milliseconds apart by each channel.
# Two genuine changes of one alarm into the same state are at least one evaluation period
# apart, and an opposite change always lies between them, so a generous tolerance here cannot
# merge two real episodes.
EPISODE_JITTER_SECONDS = 10.0


def reactive_floor(
    current: int,
    observed: float | None,
    threshold: float | None,
    step: int,
    *,
    max_ratio: float = math.inf,
    max_units: int | None = None,
) -> int:
    """Capacity to hold while the alarm lasts.

    At least one step above ``current`` (the capacity the episode started from), unless the
    alarm's load is within ``threshold`` (the threshold of ``current``: the alarm is stale);
    more when the alarm says by how much the load overshoots (``current x observed /
    threshold``), because one step at a time would need one alarm round-trip per step while
    users wait.

    The overshoot comes from the alarm's payload, which is only as trustworthy as whoever
    published it, so it is capped: one episode never raises capacity beyond ``max_ratio`` times
    the start nor by more than ``max_units`` (the step itself is always allowed). A forged or
    absurd datapoint then costs at most that much, and the tick, which reads the metric itself,
    takes it from there.
    """
    base = max(current, 1)  # from zero tasks the overshoot still counts: one unit's threshold
    limit = _limit(current, step, base, max_ratio, max_units)
    floor = current + step
    if (
        observed is not None
        and threshold is not None
        and math.isfinite(observed)
        and math.isfinite(threshold)
        and threshold > 0
        and observed > 0
    ):
        ratio = observed / threshold  # may be inf: 1e300 / 1e-300
        if ratio <= 1.0:
            # The alarm's load no longer breaches the threshold of the capacity there now (the
            # tick scaled out while the alarm was on its way): the alarm is already answered.
            return current
        wanted = base * ratio
        if not math.isfinite(wanted) or wanted >= limit:
            return limit
        floor = max(floor, math.ceil(wanted - 1e-9))
    return min(floor, limit)


def _limit(current: int, step: int, base: int, max_ratio: float, max_units: int | None) -> int:
    """The most one episode may raise capacity to: never less than one step."""
    caps = []
    if math.isfinite(max_ratio):
        caps.append(math.ceil(base * max_ratio - 1e-9))
    if max_units is not None:
        caps.append(current + max_units)
    if not caps:
        return 2**62  # unbounded; the target's max_capacity bounds the decision
    return max(current + step, min(caps))


@dataclass(frozen=True)
class FloorState:
    """The floor as stored per target, with the alarm episode that raised it.

    ``changed_at`` is the time of the last alarm state change applied, so a late or retried
    delivery of an older change is recognised and ignored. ``opened_at`` is the time of the
    change into ALARM that opened the episode, ``start`` the capacity it found: a copy of that
    change is a duplicate, and the floor is derived from ``start`` alone.
    """

    floor: int | None = None
    alarm_state: str | None = None
    raised_at: float | None = None
    ok_at: float | None = None
    changed_at: float | None = None
    opened_at: float | None = None
    start: int | None = None

    def expired(self) -> FloorState:
        """No floor any more, but the episode's identity is kept so its copies stay ignored."""
        return FloorState(
            alarm_state=self.alarm_state,
            changed_at=self.changed_at,
            opened_at=self.opened_at,
            start=self.start,
        )


class Arrival(StrEnum):
    """How an alarm state change relates to what is already on record for the target."""

    NEW = "new"
    DUPLICATE = "duplicate"  # a copy of a change already applied (another channel, a retry)
    OLDER = "older"  # older than the last change applied: applying it would undo a newer one


def arrival(prev: FloorState, state: str, changed_at: float) -> Arrival:
    """Classify a state change against the record; pure, so the rule is property-tested."""
    if prev.changed_at is None:
        return Arrival.NEW
    if prev.alarm_state == state and abs(changed_at - prev.changed_at) <= EPISODE_JITTER_SECONDS:
        return Arrival.DUPLICATE
    if (
        state == "ALARM"
        and prev.opened_at is not None
        and abs(changed_at - prev.opened_at) <= EPISODE_JITTER_SECONDS
    ):
        return Arrival.DUPLICATE
    if changed_at < prev.changed_at:
        return Arrival.OLDER
    return Arrival.NEW


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
