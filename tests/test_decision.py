"""The safety rules of ``decide``: each test fails if its rule is removed."""

from __future__ import annotations

from scaleahead.domain.decision import Action, DecisionInput, Reason, decide


def inp(**kw: object) -> DecisionInput:
    base: dict[str, object] = {
        "current": 5,
        "min_capacity": 2,
        "max_capacity": 10,
        "plan": 5,
        "plan_basis": "test",
        "stable_plan": None,
        "window_covered": True,
        "data_ok": True,
    }
    base.update(kw)
    return DecisionInput(**base)  # type: ignore[arg-type]


def test_scale_out_to_plan() -> None:
    d = decide(inp(plan=8))
    assert (d.action, d.desired, d.reason, d.execute) == (Action.SCALE_OUT, 8, Reason.PLAN, True)


def test_already_at_desired_is_a_recorded_non_action() -> None:
    d = decide(inp(plan=5))
    assert (d.action, d.desired, d.reason, d.execute) == (Action.NONE, 5, Reason.AT_DESIRED, False)


def test_clamped_to_max_and_reports_at_max() -> None:
    d = decide(inp(plan=50))
    assert d.desired == 10 and d.action is Action.SCALE_OUT
    d = decide(inp(current=10, plan=50))
    assert d.reason is Reason.AT_MAX and not d.execute


def test_never_below_min() -> None:
    d = decide(inp(current=2, plan=0, stable_plan=0))
    assert d.reason is Reason.AT_MIN and d.desired == 2
    d = decide(inp(current=1, plan=0, stable_plan=0))
    assert d.desired == 2 and d.action is Action.SCALE_OUT


def test_floor_wins_over_lower_plan() -> None:
    d = decide(inp(plan=4, floor=7))
    assert (d.desired, d.reason) == (7, Reason.REACTIVE_FLOOR)
    assert d.message.endswith("reactive floor 7 (alarm), plan 4")
    # the alarm path has no plan, and says nothing of one
    d = decide(inp(plan=None, floor=7))
    assert d.message.endswith("reactive floor 7 (alarm)"), d.message


def test_floor_blocks_scale_in_below_it() -> None:
    d = decide(inp(current=8, plan=3, stable_plan=3, floor=6))
    assert d.desired == 6 and d.action is Action.SCALE_IN


def test_no_scale_in_on_missing_data() -> None:
    d = decide(inp(current=8, plan=3, stable_plan=3, data_ok=False, data_problem="no datapoint"))
    assert d.reason is Reason.DATA_MISSING and d.desired == 8 and not d.execute


def test_scale_out_still_allowed_on_missing_data() -> None:
    d = decide(inp(current=3, plan=6, data_ok=False))
    assert d.desired == 6 and d.execute


def test_no_scale_in_before_the_window_is_full() -> None:
    d = decide(inp(current=8, plan=3, stable_plan=3, window_covered=False))
    assert d.reason is Reason.STABILISING and d.desired == 8


def test_scale_in_only_to_the_highest_plan_of_the_window() -> None:
    d = decide(inp(current=8, plan=3, stable_plan=6))
    assert d.desired == 6 and d.action is Action.SCALE_IN
    d = decide(inp(current=8, plan=3, stable_plan=8))
    assert d.reason is Reason.STABILISING and not d.execute


def test_forecast_only_records_what_it_would_do() -> None:
    d = decide(inp(plan=8, acts=False))
    assert d.reason is Reason.FORECAST_ONLY and d.desired == 8 and not d.execute
    assert "would scale out" in d.message


def test_no_plan_and_no_floor_holds_but_enforces_bounds() -> None:
    assert decide(inp(plan=None)).reason is Reason.NO_PLAN
    d = decide(inp(current=12, plan=None))
    assert (d.desired, d.reason) == (10, Reason.ABOVE_MAX)
    d = decide(inp(current=1, plan=None))
    assert (d.desired, d.reason) == (2, Reason.BELOW_MIN)


def test_above_max_is_corrected_even_without_data() -> None:
    d = decide(inp(current=12, plan=3, data_ok=False))
    assert d.desired == 10 and d.execute


def test_guards_never_hold_capacity_outside_the_bounds() -> None:
    # below min with missing data or an unfilled window: still raised to min
    d = decide(inp(current=1, min_capacity=3, plan=0, data_ok=False))
    assert (d.desired, d.action) == (3, Action.SCALE_OUT)
    d = decide(inp(current=1, min_capacity=3, plan=0, window_covered=False))
    assert d.desired == 3
    # above max while the window still holds a higher plan: brought down to max
    d = decide(inp(current=15, max_capacity=10, plan=4, stable_plan=20))
    assert (d.desired, d.reason) == (10, Reason.ABOVE_MAX)
    d = decide(inp(current=15, max_capacity=10, plan=4, window_covered=False))
    assert (d.desired, d.reason) == (10, Reason.ABOVE_MAX)


def test_a_resource_guard_limits_scale_in() -> None:
    d = decide(inp(current=8, plan=3, stable_plan=3, resource_floor=5, resource_floor_reason="mem"))
    assert (d.desired, d.action) == (5, Action.SCALE_IN) and "mem" in d.message
    d = decide(inp(current=5, plan=3, stable_plan=3, resource_floor=6, resource_floor_reason="cpu"))
    assert (d.reason, d.desired) == (Reason.GUARDED, 5) and "cpu" in d.message
    # a guard never blocks scaling out
    assert decide(inp(current=5, plan=8, resource_floor=9)).desired == 8
