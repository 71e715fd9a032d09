"""One alarm state change of one target, as a pure function: the alarm function runs it, and
so does the backtest, on its simulated CloudWatch alarm.

A change is first admitted against the episode on record (``admit``): a copy of a change
already applied, or an older one, does nothing, however late it comes. An admitted change then
moves the episode and decides (``on_change``): ALARM raises the reactive floor from the capacity
the episode starts from, OK and INSUFFICIENT_DATA start the floor's expiry and never act.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from scaleahead.domain.decision import Action, Decision, DecisionInput, Reason, decide
from scaleahead.domain.reactive import Arrival, FloorState, active_floor, arrival, reactive_floor
from scaleahead.domain.record import AlarmInputs

if TYPE_CHECKING:
    from scaleahead.domain.target import Target


def alarm_threshold(target: Target, desired: int) -> float:
    """Load above which the planned capacity falls short: the alarm's moving threshold."""
    return max(desired, 1) * target.capacity_per_unit * target.alarm.threshold_ratio


def alarm_unavailable(metric_region: str | None, home_region: str) -> str | None:
    """Why a target whose load metric lives in ``metric_region`` can have no high-load alarm
    that reaches the functions in ``home_region``; None when it can. An alarm must live in its
    metric's region, and its actions, its EventBridge events and its SNS topic stay there."""
    if metric_region is None or metric_region == home_region:
        return None
    return (
        f"the load metric lives in {metric_region} and the functions in {home_region}; an "
        "alarm lives in its metric's region and its actions and events stay there, so this "
        "target reacts at its tick, not at once (deploy the stack in "
        f"{metric_region} to keep the alarm)"
    )


def on_alarm(
    target: Target,
    floor_state: FloorState,
    current: int,
    observed: float | None,
    threshold: float | None,
    now: float,
    changed_at: float,
    *,
    acts: bool = True,
    paused: str = "",
) -> tuple[FloorState, Decision]:
    """ALARM opening a new episode: raise the floor at once (never below one still held) and
    decide on it alone. ``current`` is the capacity the episode starts from; the floor is
    derived from it and from the alarm's overshoot, capped per episode by the target's
    ``alarm.max_step_ratio`` and ``alarm.max_step_units``.

    A copy of a change already applied never reaches this function (``reactive.arrival``);
    were it to, the floor would come out the same for the same start, never compounded.
    The plan is left to the next tick: this path must not wait for a forecast.
    """
    held = active_floor(floor_state, now, target.effective_stabilisation_seconds)
    floor = reactive_floor(
        current,
        observed,
        threshold,
        target.alarm.step,
        max_ratio=target.alarm.max_step_ratio,
        max_units=target.alarm.max_step_units,
    )
    floor = max(floor, held or 0)
    state = FloorState(floor, "ALARM", now, None, changed_at, opened_at=changed_at, start=current)
    return state, floor_decision(target, floor, current, acts=acts, paused=paused)


def floor_decision(
    target: Target, floor: int, current: int, *, acts: bool = True, paused: str = ""
) -> Decision:
    """The alarm path's decision: the floor alone, within the bounds."""
    return decide(
        DecisionInput(
            current=current,
            min_capacity=target.min_capacity,
            max_capacity=target.max_capacity,
            plan=None,
            plan_basis="alarm path: the forecast plan is applied by the next tick",
            floor=floor,
            acts=acts,
            paused=paused,
        )
    )


def on_alarm_cleared(
    target: Target, floor_state: FloorState, alarm_state: str, current: int, changed_at: float
) -> tuple[FloorState, Decision]:
    """OK or INSUFFICIENT_DATA: never act; the floor expires one window after leaving ALARM
    (missing data must not pin a floor for ever either)."""
    f = floor_state
    ok_at = f.ok_at if f.alarm_state != "ALARM" and f.ok_at is not None else changed_at
    state = FloorState(
        f.floor, alarm_state, f.raised_at, ok_at, changed_at, opened_at=f.opened_at, start=f.start
    )
    stab = target.effective_stabilisation_seconds
    held_text = (
        f"the floor {state.floor} holds until {stab // 60} min after OK"
        if state.floor is not None
        else "no reactive floor is raised"
    )
    decision = Decision(
        Action.NONE,
        current,
        current,
        Reason.ALARM_CLEARED,
        f"alarm {alarm_state}: {held_text}",
        execute=False,
    )
    return state, decision


@dataclass(frozen=True)
class Change:
    """An alarm state change, as delivered."""

    alarm: str
    state: str
    changed_at: float
    observed: float | None = None
    threshold_seen: float | None = None
    source: str = ""


@dataclass(frozen=True)
class Admission:
    """Whether a change is acted on: ``act``; ``redo``: it is a copy of an ALARM whose first
    delivery recorded the episode but was interrupted before its action was made, so the
    episode's own floor is applied again."""

    order: Arrival
    act: bool
    redo: bool


def admit(floor: FloorState, change: Change, *, interrupted: bool) -> Admission:
    """``interrupted``: an intent left by an earlier delivery was found not carried out."""
    order = arrival(floor, change.state, change.changed_at)
    redo = (
        order is Arrival.DUPLICATE
        and change.state == "ALARM"
        and interrupted
        and floor.floor is not None
    )
    return Admission(order, order is Arrival.NEW or redo, redo)


def refusal(floor: FloorState, change: Change, order: Arrival) -> str:
    """Why a change not admitted does nothing."""
    applied = floor.changed_at or 0.0
    head = f"alarm {change.alarm!r}: {change.state} at {change.changed_at:.3f} is "
    if order is Arrival.DUPLICATE:
        return head + f"a copy of the change already applied ({applied:.3f}); nothing done"
    return head + f"older than the change already applied ({applied:.3f}); ignored"


@dataclass(frozen=True)
class AlarmOutcome:
    """All ``on_change`` yields, as one value: the caller keeps the moved episode, acts on the
    decision and records the inputs it was made from, while the change itself stays pure."""

    floor: FloorState
    decision: Decision
    inputs: AlarmInputs


def on_change(
    target: Target,
    floor: FloorState,
    change: Change,
    admission: Admission,
    current: int,
    now: float,
    *,
    stored_threshold: float | None = None,
    acts: bool = True,
    paused: str = "",
    mode: str = "",
) -> AlarmOutcome:
    """Move the episode and decide, for an admitted change, from the capacity ``current``.

    The threshold judged by is the one this stack set on the alarm (``stored_threshold``, else
    the one it sets for this capacity), never the payload's: a forged low one would inflate
    the overshoot, a forged high one would silence a real alarm.
    """
    threshold = stored_threshold or alarm_threshold(target, current)
    if admission.redo:
        assert floor.floor is not None
        decision = floor_decision(target, floor.floor, current, acts=acts, paused=paused)
    elif change.state == "ALARM":
        floor, decision = on_alarm(
            target,
            floor,
            current,
            change.observed,
            threshold,
            now,
            change.changed_at,
            acts=acts,
            paused=paused,
        )
    else:
        floor, decision = on_alarm_cleared(target, floor, change.state, current, change.changed_at)
    inputs = AlarmInputs(
        alarm=change.alarm,
        alarm_state=change.state,
        alarm_source=change.source,
        alarm_changed_at=change.changed_at,
        observed_load=change.observed,
        alarm_threshold_seen=change.threshold_seen,
        alarm_threshold_used=threshold,
        episode_start=floor.start,
        floor=floor.floor,
        min=target.min_capacity,
        max=target.max_capacity,
        mode=mode,
        paused=paused or None,
    )
    return AlarmOutcome(floor, decision, inputs)
