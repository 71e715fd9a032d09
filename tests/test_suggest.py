"""`scaleahead suggest`: the maths by hand, then the command on moto (small histories: moto's
CloudWatch is slow)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from botocore.client import BaseClient

from scaleahead.domain.decision import Action, Reason
from scaleahead.domain.record import DecisionRecord, Source, TickInputs
from scaleahead_testkit.local_aws import put_series
from scaleahead_tools.backtest.metrics import Point
from scaleahead_tools.backtest.policies import SWEEP_KNOBS
from scaleahead_tools.cli.main import main
from scaleahead_tools.cli.suggest import (
    DECISIONS,
    INSIGHTS,
    NO_RUNNING,
    CarriedStats,
    QuantileRow,
    WindowRow,
    alike,
    carried,
    carried_stats,
    choose_quantile,
    choose_window,
    insights_metric,
    join_running,
    quantile_rows,
    running_at,
    settled,
    suggested_per_unit,
    window_choices,
    yaml_lines,
)
from tests.conftest import NOW, Aws, make_target, target_dict

# --- pure -------------------------------------------------------------------------------------


def test_running_at_holds_a_decision_for_at_most_hold_seconds() -> None:
    decisions = [(100.0, 3), (160.0, 5)]
    assert running_at(decisions, 99.0, 120) is None  # before the first
    assert running_at(decisions, 100.0, 120) == 3
    assert running_at(decisions, 159.9, 120) == 3
    assert running_at(decisions, 160.0, 120) == 5
    assert running_at(decisions, 280.0, 120) == 5
    assert running_at(decisions, 280.1, 120) is None  # the record has a gap
    assert running_at([], 100.0, 120) is None


def test_container_insights_first_then_decisions_at_the_steps_middle() -> None:
    stamps = [0.0, 60.0, 120.0, 180.0]
    insights = {0.0: 4.0, 120.0: 2.5}
    # A decision 10 s into the second step: in force at its middle (90), too old (140 s) at
    # the last one's (210).
    decisions = [(70.0, 7)]
    assert join_running(stamps, 60, insights, decisions, 120) == [
        (4.0, INSIGHTS),
        (7.0, DECISIONS),
        (2.5, INSIGHTS),
        (None, None),
    ]


def test_carried_skips_unknown_and_zero_running() -> None:
    assert carried([100.0, 90.0, 50.0, 80.0], [4.0, None, 0.0, 2.0]) == [25.0, 40.0]


def test_settled_steps_keep_away_from_every_change_of_the_count() -> None:
    counts: list[float | None] = [2, 2, 2, 2, 3, 3, 3, 3, 3, None, 3, 3]
    assert settled(counts, 1) == [
        True, True, True, False, False, True, True, True, False, False, False, True,
    ]  # fmt: skip
    assert settled(counts, 0) == [c is not None for c in counts]


def test_a_late_scaler_overload_is_not_taken_for_capacity() -> None:
    """A scaler that holds 40 per unit but adds units 3 steps late: around each step up of the
    load, units carry far more than 40. Over every step the p90 takes that overload for
    capacity; over the settled steps it is the level the scaler kept."""
    load = [float(x) for x in [80] * 20 + [200] * 20 + [80] * 20 + [200] * 20]
    held = [math.ceil(x / 40) for x in load]
    running: list[float | None] = [float(held[max(0, i - 3)]) for i in range(len(load))]
    every = carried_stats(carried(load, running))
    calm = [i for i, ok in enumerate(settled(running, 3)) if ok]
    kept = carried_stats(carried([load[i] for i in calm], [running[i] for i in calm]))
    assert every is not None and kept is not None
    assert every.max == 100.0  # 200 on the 2 units of before: the overload
    assert kept.p90 == 40.0 and kept.max == 40.0


def test_carried_stats_and_the_suggestion() -> None:
    assert carried_stats([]) is None
    stats = carried_stats([float(v) for v in range(1, 101)])  # 1..100
    assert stats is not None
    assert (stats.steps, stats.p50, round(stats.p90, 9), stats.max) == (100, 50.5, 90.1, 100.0)
    assert suggested_per_unit(stats) == 90.1
    assert suggested_per_unit(CarriedStats(3, 1234.5, 1234.5, 1300.0)) == 1230.0  # 3 figures
    assert suggested_per_unit(CarriedStats(3, 0.0, 0.0, 0.0)) is None  # nothing carried
    assert suggested_per_unit(None) is None


def test_quantile_rows_turn_the_sweep_into_unit_hours_and_minutes() -> None:
    # 100 scored steps of 5 min, 300 need-steps: cost 1.5 is 450 unit-steps = 37.5 unit-hours.
    rows = quantile_rows([Point(0.95, 1.5, 0.0), Point(0.6, 1.1, 0.03)], 300, 100, 300)
    assert [r.quantile for r in rows] == [0.6, 0.95]
    assert [round(r.unit_hours, 9) for r in rows] == [27.5, 37.5]
    assert [r.under_minutes for r in rows] == [15.0, 0.0]  # 3 % of 100 steps of 5 min
    assert rows[1] == QuantileRow(0.95, 1.5, 37.5, 0.0, 0.0)


def row(q: float, cost: float, under: float) -> QuantileRow:
    return QuantileRow(q, cost, cost, under, under)


def test_the_cheapest_quantile_within_one_percent_else_the_least_short() -> None:
    rows = [row(0.8, 1.1, 0.02), row(0.9, 1.3, 0.01), row(0.95, 1.5, 0.0), row(0.99, 1.2, 0.005)]
    assert choose_quantile(rows) == (rows[3], True)  # 1 % exactly counts; cheapest wins
    rows = [row(0.8, 1.1, 0.05), row(0.9, 1.3, 0.02), row(0.95, 1.2, 0.02)]
    assert choose_quantile(rows) == (rows[2], False)  # least short, cheapest among equals
    assert not alike(rows) and alike([row(0.8, 1.1, 0.0), row(0.9, 1.1, 0.0)])


def wrow(window: int, cost: float, met: bool, changes: float = 10.0) -> WindowRow:
    return WindowRow(window, 0.9, cost, 0.005 if met else 0.02, met, changes)


def test_the_window_whose_quantile_is_cheapest_within_one_percent_else_the_current() -> None:
    rows = [
        wrow(300, 1.2, False),
        wrow(900, 1.4, True),
        wrow(1800, 1.3, True),
        wrow(3600, 1.5, True),
    ]
    assert choose_window(rows, 900) == rows[2]  # a cheaper window that is too short loses
    tie = [wrow(300, 1.3, True, 40.0), wrow(1800, 1.3, True, 12.0)]
    assert choose_window(tie, 300) == tie[1]  # the longer on a tie: fewer changes
    none = [wrow(300, 1.1, False), wrow(900, 1.4, False)]
    assert choose_window(none, 900) == none[1]  # none reaches 1 %: the current stays
    assert window_choices(900) == [300, 900, 1800, 3600]
    assert window_choices(1200) == [300, 900, 1200, 1800, 3600]


def test_yaml_and_the_insights_metric() -> None:
    assert yaml_lines("web", 52.5, 0.93) == [
        "# target web: keep the rest of its forecast settings",
        "capacity_per_unit: 52.5",
        "forecast:",
        "  quantile: 0.93",
    ]
    assert "capacity_per_unit" not in "\n".join(yaml_lines("web", None, 0.9))
    assert yaml_lines("web", None, 0.9, 300)[1] == "scale_in_stabilisation_seconds: 300"
    arn = "arn:aws:ecs:eu-west-1:123456789012:service/prod/web"
    (q,) = insights_metric(make_target(resource={"cluster": "prod", "service": arn})).to_api()
    assert q["MetricStat"]["Metric"] == {
        "Namespace": "ECS/ContainerInsights",
        "MetricName": "RunningTaskCount",
        "Dimensions": [
            {"Name": "ClusterName", "Value": "prod"},
            {"Name": "ServiceName", "Value": "web"},
        ],
    }
    assert q["MetricStat"]["Period"] == 60 and q["MetricStat"]["Stat"] == "Average"


# --- the command on moto ------------------------------------------------------------------------

HOURS = 3
STAMPS = [NOW - 60 * i for i in range(HOURS * 60, 0, -1)]  # oldest first
DAY = 86400


def tasks(t: float) -> int:
    """2 to 6 tasks, changing every half hour."""
    return 2 + int((NOW - t) // 1800) % 5


def daily_tasks(t: float) -> int:
    """3 to 9 tasks over a daily cycle: a forecast has something to learn."""
    return 6 + round(3 * math.sin(2 * math.pi * t / DAY))


def decision(before: int) -> DecisionRecord:
    return DecisionRecord(
        Source.WORKER,
        Action.NONE,
        False,
        Reason.AT_DESIRED,
        "",
        before=before,
        after=before,
        desired=before,
        inputs=TickInputs(),
    )


DIMS = [{"Name": "ClusterName", "Value": "prod"}, {"Name": "ServiceName", "Value": "web"}]


def test_suggest_text_prefers_container_insights(
    aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two days of 5-minute load, exactly 50 per running task; Container Insights has the
    # running count, and the last half hour's decisions say 10 tasks: Container Insights wins.
    period = 300
    stamps = [NOW - period * i for i in range(2 * DAY // period, 0, -1)]
    aws.apply(
        make_target(
            capacity_per_unit=100.0,
            load_metric={**target_dict()["load_metric"], "period_seconds": period},
        )
    )
    aws.put_load([(t, 50.0 * daily_tasks(t)) for t in stamps])
    running = [(t, float(daily_tasks(t))) for t in stamps]
    put_series(aws.cloudwatch, "ECS/ContainerInsights", "RunningTaskCount", DIMS, running)
    for t in stamps[-6:]:
        aws.rt.store.record_decision("web", t + 5, decision(10))
    calls: list[str] = []
    real: Any = BaseClient.__dict__["_make_api_call"]  # not in the stubs

    def counted(self: BaseClient, operation: str, params: Any) -> Any:
        calls.append(operation)
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counted)
    assert main(["suggest", "web", "--days", "2"]) == 0
    # The target, the load and Container Insights (one page each here), the decisions.
    assert sorted(calls) == ["GetItem", "GetMetricData", "GetMetricData", "Query"]
    out = capsys.readouterr().out
    n = len(stamps)
    assert f"web (ecs): {n} steps of 5 min of load, 2.0 days of the last 2 read" in out
    assert "capacity_per_unit (now 100): the load one task carried" in out
    assert (
        f"running count on {n} steps: {n} from Container Insights, 0 "
        "from scaleahead's decisions (6 read)"
    ) in out
    settled_line = r"over the \d+ settled steps \(\d+ min: no change of the count within 5 min"
    assert re.search(settled_line, out)
    assert "p50 50 · p90 50 · max 50" in out
    assert "suggested: 50 (the p90)" in out
    assert "lower bound on what it can carry" in out and "raise it" in out
    assert f"with capacity_per_unit 50, {n - n // 3} steps scored" in out
    table = [line.split() for line in out.splitlines() if re.match(r" +0\.\d+ +\d", line)]
    assert [float(r[0]) for r in table] == list(SWEEP_KNOBS["scaleahead"])
    (chosen,) = [r for r in table if "<" in r]
    assert float(chosen[4]) <= 0.01 * (n - n // 3) * 5  # at most 1 % of the minutes short
    # No cheaper row is within 1 %; the quantiles do differ over a day of forecasts.
    assert all(float(r[1]) >= float(chosen[1]) for r in table if float(r[3][:-1]) <= 1)
    assert len({(r[1], r[3]) for r in table}) > 1 and "every quantile gave" not in out
    assert out.endswith(f"  capacity_per_unit: 50\n  forecast:\n    quantile: {chosen[0]}\n")
    # The scale-in window: each replayed, the suggested one the cheapest within 1 % short.
    assert "scale-in stabilisation window (now 10 min)" in out
    windows = [line.split() for line in out.splitlines() if re.match(r" +\d+ min +0\.", line)]
    assert [int(w[0]) for w in windows] == [5, 10, 15, 30, 60]
    (picked,) = [w for w in windows if "<" in w]
    within = [w for w in windows if float(w[4][:-1]) <= 1]
    assert float(picked[3]) == min(float(w[3]) for w in within)
    assert f"(scale-in window {picked[0]} min)" in out  # the quantile table's window
    line = f"  scale_in_stabilisation_seconds: {int(picked[0]) * 60}\n"
    assert (line in out) == (picked[0] != "10")  # pasted only when it changes
    # Against AWS's own scaling for ECS, on the same load and terms: both policies replayed,
    # the verdict read off the rows at 1 %.
    section = out.split("against AWS's own scaling for this kind")[1].split("paste into")[0]
    rows = {
        m[1]: (float(m[2]), float(m[3]))
        for m in re.finditer(
            r"^  (target tracking|predictive scaling with target tracking) +"
            r"(0\.\d+) +(\d+\.\d+) +\d+\.\d+%",
            section,
            re.M,
        )
    }
    assert set(rows) == {"target tracking", "predictive scaling with target tracking"}
    assert re.search(
        rf"^  scaleahead \(suggested above\) +q{chosen[0]} +{chosen[1]} ", section, re.M
    )
    best = min(rows, key=lambda p: rows[p][1])
    saving = 1 - float(chosen[1]) / rows[best][1]
    assert f"{best} at a target of {rows[best][0]:g}" in " ".join(section.split())
    # A daily cycle is what a forecast learns: it holds less than either policy for no more short.
    assert saving >= 0.02 and f"scaleahead holds {100 * saving:.0f} % less capacity" in section


def world(aws: Aws, *, decisions: int) -> None:
    """web with a load of exactly 50 per running task each minute for HOURS hours, and the
    running count in the last ``decisions`` minutes' decisions only."""
    aws.apply(make_target(capacity_per_unit=100.0))
    aws.put_load([(t, 50.0 * tasks(t)) for t in STAMPS])
    for t in STAMPS[len(STAMPS) - decisions :] if decisions else []:
        aws.rt.store.record_decision("web", t + 5, decision(tasks(t)))


def test_suggest_json_from_decisions_alone(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    world(aws, decisions=60)
    assert main(["suggest", "web", "--days", "1", "--output", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["target"] == "web" and data["kind"] == "ecs"
    assert data["start"] == "2026-11-27T09:05:00Z" and data["end"] == "2026-11-27T12:05:00Z"
    assert data["load"] == {"steps": HOURS * 60, "step_seconds": 60, "filled": 0}
    per_unit = data["capacity_per_unit"]
    assert per_unit["running_steps"] == {INSIGHTS: 0, DECISIONS: 60}
    assert per_unit["carried"] == {"steps": 60, "p50": 50.0, "p90": 50.0, "max": 50.0}
    assert per_unit["suggested"] == 50.0 and per_unit["carried_minutes"] == 60
    q = data["quantile"]
    assert q["current"] == 0.9 and q["per_unit_replayed"] == 50.0
    assert q["scored_steps"] == HOURS * 60 - HOURS * 20  # a third is history
    rows = [QuantileRow(**r) for r in q["rows"]]
    assert len(rows) == len(SWEEP_KNOBS["scaleahead"])
    for r in rows:
        assert r.under_minutes == round(r.under_time * q["scored_steps"])
    # Three hours are no day of history: no forecast, every quantile alike, the current stays.
    assert q["alike"] is True and alike(rows)
    assert q["suggested"] == 0.9
    # ... nor the window: each is replayed and shown, the current one stays.
    stab = data["stabilisation"]
    assert stab["current_seconds"] == stab["suggested_seconds"] == 600
    assert [r["window_seconds"] for r in stab["rows"]] == [300, 600, 900, 1800, 3600]
    assert all(r["changes_per_day"] >= 0 for r in stab["rows"])
    assert data["against_aws"] is None  # no forecast to weigh against AWS's policies
    assert data["yaml"].splitlines()[1:] == [
        "capacity_per_unit: 50",
        "forecast:",
        "  quantile: 0.9",
    ]


def test_no_running_count_and_unknown_target(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    world(aws, decisions=0)
    assert main(["suggest", "wbe"]) == 2
    assert "no target 'wbe'; did you mean 'web'?" in capsys.readouterr().err
    assert main(["suggest", "web", "--days", "30"]) == 2
    assert "CloudWatch keeps 15 days" in capsys.readouterr().err
    assert main(["suggest", "web", "--days", "1"]) == 0
    out = capsys.readouterr().out
    assert NO_RUNNING in out
    assert "with capacity_per_unit 100," in out  # the current one, for the quantile
    assert "every quantile gave the same figures" in out  # 3 hours: no forecast
    assert "not compared: every quantile gave the same figures (under a day" in out
    assert "capacity_per_unit:" not in out.split("paste into the target file:")[1]
