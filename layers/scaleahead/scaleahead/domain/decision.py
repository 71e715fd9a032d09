"""The one place that turns a plan, a floor and the bounds into an action, with its reason.

Every safety rule lives here, so the worker, the alarm path, the demo and the backtest all obey
the same ones: never beyond the bounds, never scale in on missing or stale data, never scale in
before the plan has stayed lower for a whole stabilisation window, and never act in
forecast-only mode or while paused (what would have been done is still recorded).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    SCALE_OUT = "scale_out"
    SCALE_IN = "scale_in"
    NONE = "none"


class Reason(StrEnum):
    """Why capacity did or did not change; stable strings for metrics and the decision log."""

    PLAN = "plan"
    REACTIVE_FLOOR = "reactive_floor"
    BELOW_MIN = "below_min"
    ABOVE_MAX = "above_max"
    AT_DESIRED = "at_desired"
    AT_MAX = "at_max"
    AT_MIN = "at_min"
    STABILISING = "stabilising"
    DATA_MISSING = "data_missing"
    NO_PLAN = "no_plan"
    FORECAST_ONLY = "forecast_only"
    PAUSED = "paused"
    BUSY = "busy"
    LEASE_HELD = "lease_held"
    FAILED = "failed"
    GUARDED = "guarded"
    ALARM_CLEARED = "alarm_cleared"


@dataclass(frozen=True)
class DecisionInput:
    """Every fact ``decide`` may weigh, in one value: the worker, the alarm path and the
    backtest hand the safety rules the same facts, and none can leave one out unnoticed."""

    current: int
    min_capacity: int
    max_capacity: int
    plan: int | None
    plan_basis: str
    floor: int | None = None
    stable_plan: int | None = None
    window_covered: bool = False
    data_ok: bool = True
    data_problem: str = ""
    acts: bool = True
    resource_floor: int | None = None
    resource_floor_reason: str = ""
    # Why the target is paused (the kill switch), or "" when it is not.
    paused: str = ""


@dataclass(frozen=True)
class Decision:
    """The verdict apart from carrying it out: forecast-only mode, a pause and the backtest
    record what would have been done, with its reason, without doing it."""

    action: Action
    current: int
    desired: int
    reason: Reason
    message: str
    execute: bool

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["action"] = self.action.value
        d["reason"] = self.reason.value
        return d


def clamp(value: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, value))


def decide(i: DecisionInput) -> Decision:
    """Decide; the message is written for the operator reading ``scaleahead explain``."""
    lo, hi, cur = i.min_capacity, i.max_capacity, i.current

    if i.plan is None and i.floor is None:
        if cur < lo:
            return _finish(i, lo, Reason.BELOW_MIN, f"below min {lo}; no plan ({i.plan_basis})")
        if cur > hi:
            return _finish(i, hi, Reason.ABOVE_MAX, f"above max {hi}; no plan ({i.plan_basis})")
        return _hold(i, Reason.NO_PLAN, f"holding {cur}: {i.plan_basis}")

    wanted = max(i.plan or 0, i.floor or 0)
    reason = Reason.PLAN
    why = f"plan {i.plan} ({i.plan_basis})"
    if i.floor is not None and i.floor >= (i.plan or 0):
        reason = Reason.REACTIVE_FLOOR
        why = f"reactive floor {i.floor} (alarm)"
        if i.plan is not None:
            why += f", plan {i.plan}"

    if clamp(wanted, lo, hi) < cur:
        # Scale-in: every guard must agree; the floor still counts as a lower bound. A guard
        # never keeps capacity above max: that bound is the operator's, not the forecast's.
        def blocked(reason: Reason, message: str) -> Decision:
            if cur > hi:
                return _finish(i, hi, Reason.ABOVE_MAX, f"above max {hi} ({message})")
            return _hold(i, reason, message)

        if not i.data_ok:
            return blocked(Reason.DATA_MISSING, f"not scaling in from {cur}: {i.data_problem}")
        if not i.window_covered or i.stable_plan is None:
            return blocked(
                Reason.STABILISING,
                f"not scaling in from {cur} yet: {why}, but the stabilisation window is not full",
            )
        wanted = max(i.stable_plan, i.floor or 0)
        if clamp(wanted, lo, hi) >= cur:
            return blocked(
                Reason.STABILISING,
                f"not scaling in from {cur}: the plan reached {i.stable_plan} within the "
                "stabilisation window",
            )
        why = f"plan stayed at or below {i.stable_plan} for the whole stabilisation window"
        if i.resource_floor is not None and wanted < i.resource_floor:
            if i.resource_floor >= cur:
                return blocked(
                    Reason.GUARDED,
                    f"not scaling in from {cur}: {i.resource_floor_reason or 'resource guard'}",
                )
            wanted = i.resource_floor
            why += f"; held at {wanted}: {i.resource_floor_reason or 'resource guard'}"

    target = clamp(wanted, lo, hi)
    if target == cur:
        if wanted > hi:
            return _hold(i, Reason.AT_MAX, f"at max {hi}; {why} wants {wanted}")
        if wanted < lo:
            return _hold(i, Reason.AT_MIN, f"at min {lo}; {why} wants {wanted}")
        return _hold(i, Reason.AT_DESIRED, f"already at {cur}: {why}")
    if wanted > hi:
        why += f", capped at max {hi}"
        if target < cur:
            reason = Reason.ABOVE_MAX
    elif wanted < lo:
        why += f", raised to min {lo}"
    return _finish(i, target, reason, why)


def _hold(i: DecisionInput, reason: Reason, message: str) -> Decision:
    return Decision(Action.NONE, i.current, i.current, reason, message, execute=False)


def _finish(i: DecisionInput, target: int, reason: Reason, message: str) -> Decision:
    action = Action.SCALE_OUT if target > i.current else Action.SCALE_IN
    verb = "scale out" if action is Action.SCALE_OUT else "scale in"
    text = f"{verb} {i.current} -> {target}: {message}"
    if i.paused:
        return Decision(
            action, i.current, target, Reason.PAUSED, f"would {text} ({i.paused})", False
        )
    if not i.acts:
        return Decision(
            action, i.current, target, Reason.FORECAST_ONLY, f"would {text} (forecast-only)", False
        )
    return Decision(action, i.current, target, reason, text, execute=True)
