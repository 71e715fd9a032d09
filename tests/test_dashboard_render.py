"""The dashboard as the demo draws it (``scaleahead_tools.demo.dashboard``), on hand-made
decisions: each decision becomes the log line the functions write, the template's Logs Insights
queries are evaluated over those lines by a strict interpreter of the subset they use (anything
else is refused), the fleet counts aggregate as CloudWatch would, and the PNG is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scaleahead.domain.decision import Action, Reason
from scaleahead.domain.record import (
    AlarmInputs,
    DecisionRecord,
    Source,
    TickInputs,
    decision_line,
)
from scaleahead.handlers.common import ACTIONS_METRIC, NOT_SCALED_METRIC
from scaleahead_tools.demo.dashboard import (
    FOOTNOTE,
    MetricStore,
    TemplateDashboard,
    UnsupportedQuery,
    aggregate,
    decision_events,
    drawable,
    fleet_datapoints,
    log_series,
    log_table,
    metric_series,
    parse_query,
    render_dashboard,
    run_query,
    select,
    template_dashboard,
)

T0 = 1_700_000_100.0 - 1_700_000_100.0 % 300  # on a 5-minute boundary


def tick(at: float, executed: bool, reason: Reason, before: int, after: int) -> DecisionRecord:
    action = Action.NONE if before == after else Action.SCALE_OUT
    return DecisionRecord(
        Source.WORKER,
        action,
        executed,
        reason,
        "",
        kind="ecs",
        before=before,
        after=after,
        inputs=TickInputs(
            plan=after,
            observed_load=10.0 * before,
            forecast_now=10.0 * after,
            forecast_upper_now=12.0 * after,
            forecast_error=0.25,
        ),
        at=at,
    )


def alarm(at: float, before: int, after: int) -> DecisionRecord:
    return DecisionRecord(
        Source.ALARM,
        Action.SCALE_OUT,
        True,
        Reason.REACTIVE_FLOOR,
        "",
        before=before,
        after=after,
        inputs=AlarmInputs(alarm="scaleahead-web-high-load", observed_load=99.0),
        at=at,
    )


# web: three executed changes and one hold in the first 5 minutes, one change and a hold next.
WEB = [
    tick(T0 + 0, True, Reason.PLAN, 2, 3),
    tick(T0 + 30, False, Reason.AT_DESIRED, 3, 3),
    alarm(T0 + 60, 3, 5),
    tick(T0 + 240, True, Reason.PLAN, 5, 6),
    tick(T0 + 300, True, Reason.PLAN, 6, 7),
    tick(T0 + 420, False, Reason.STABILISING, 7, 7),
]
DB = [tick(T0 + 0, False, Reason.AT_DESIRED, 2, 2), tick(T0 + 600, True, Reason.PLAN, 2, 3)]
DECISIONS = {"web": WEB, "db": DB}


@pytest.fixture(scope="module")
def dashboard() -> TemplateDashboard:
    return template_dashboard()


@pytest.fixture(scope="module")
def events(dashboard: TemplateDashboard) -> list[dict[str, object]]:
    return decision_events(DECISIONS, dashboard.log_groups)


def _web(dashboard: TemplateDashboard) -> dict[str, Any]:
    return select(dashboard.body, {"target": "web"})


def _widget(body: dict[str, Any], title: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        w for w in body["widgets"] if w["properties"].get("title") == title
    ]
    (w,) = found
    return w


def test_log_groups_are_the_templates(dashboard: TemplateDashboard) -> None:
    assert dashboard.log_groups == {
        Source.WORKER: "/aws/lambda/scaleahead-demo/WorkerFunction",
        Source.ALARM: "/aws/lambda/scaleahead-demo/AlarmFunction",
    }
    # The body's queries name them (the Ref resolved as CloudFormation resolves it).
    queries = [w["properties"]["query"] for w in dashboard.body["widgets"] if w["type"] == "log"]
    assert queries and all(
        all(f"SOURCE '{g}'" in q for g in dashboard.log_groups.values()) for q in queries
    )


def test_events_are_the_decision_lines(dashboard: TemplateDashboard) -> None:
    worker, by_alarm = decision_events({"web": [WEB[0], WEB[2]]}, dashboard.log_groups)
    assert worker == {
        "@timestamp": T0,
        "@log": dashboard.log_groups[Source.WORKER],
        "message": "decision",
        "target": "web",
        "kind": "ecs",
        **decision_line(WEB[0]),
    }
    assert worker["ForecastErrorPercent"] == 25  # x 100, as logged
    assert by_alarm["@log"] == dashboard.log_groups[Source.ALARM]
    assert "kind" not in by_alarm  # the record does not say: the line is built from it alone
    with pytest.raises(ValueError, match="without its time"):
        decision_events(
            {"web": [DecisionRecord(Source.WORKER, Action.NONE, False, Reason.PLAN, "")]},
            dashboard.log_groups,
        )


def test_parse_query() -> None:
    q = parse_query(
        "SOURCE 'a' | SOURCE 'b' | filter message = 'decision' and target = \"w|eb\" "
        "and n = 3 | stats avg(X) as x, count(*), latest(Y) by bin(5m), reason "
        "| sort x desc | limit 10"
    )
    assert q.sources == ("a", "b")
    assert q.filters == (("message", "decision"), ("target", "w|eb"), ("n", 3.0))
    assert [(a.function, a.field, a.name) for a in q.aggregations] == [
        ("avg", "X", "x"),
        ("count", "*", "count(*)"),
        ("latest", "Y", "latest(Y)"),
    ]
    assert (q.bin_column, q.bin_seconds, q.by) == ("bin(5m)", 300, ("reason",))
    assert (q.sort, q.limit) == (("x", True), 10)
    assert q.fields == {"message", "target", "n", "X", "Y", "reason"}
    assert q.columns == ["bin(5m)", "reason", "x", "count(*)", "latest(Y)"]


@pytest.mark.parametrize(
    "query",
    [
        "filter a = 'b' | stats count(*)",  # no SOURCE
        "SOURCE 'a' | fields @timestamp | stats count(*)",
        "SOURCE 'a' | filter a like /b/ | stats count(*)",
        "SOURCE 'a' | filter a != 'b' | stats count(*)",
        "SOURCE 'a' | filter a = 'b' or c = 'd' | stats count(*)",
        "SOURCE 'a' | stats max(x)",
        "SOURCE 'a' | stats avg(*)",
        "SOURCE 'a' | stats count(*) by bin(5m), bin(1m)",
        "SOURCE 'a' | stats count(*) by floor(x)",
        "SOURCE 'a' | stats count(*) | filter a = 'b'",
        "SOURCE 'a' | stats count(*) | sort nothing desc",
        "SOURCE 'a' | stats count(*) as n | sort n",
        "SOURCE 'a' | stats count(*) | stats count(*)",
        "SOURCE 'a' | filter a = 'b'",  # no stats
        "SOURCE 'a' | parse @message 'x=*' as x | stats count(*)",
        "SOURCE 'a | stats count(*)",
    ],
)
def test_parse_refuses_what_it_does_not_know(query: str) -> None:
    with pytest.raises(UnsupportedQuery):
        parse_query(query)


def test_run_query() -> None:
    events: list[dict[str, object]] = [
        {"@log": "g", "@timestamp": 0.0, "m": "d", "t": "a", "x": 1, "ok": True},
        {"@log": "g", "@timestamp": 59.0, "m": "d", "t": "a", "x": 3, "ok": False},
        {"@log": "g", "@timestamp": 60.0, "m": "d", "t": "b", "ok": True},
        {"@log": "g", "@timestamp": 61.0, "m": "other", "t": "b", "x": 100},
        {"@log": "elsewhere", "@timestamp": 0.0, "m": "d", "t": "a", "x": 100},
    ]
    q = parse_query("SOURCE 'g' | filter m = 'd' | stats avg(x) as x, count(*) as n by bin(1m)")
    assert run_query(q, events) == [
        {"bin(1m)": 0.0, "x": 2.0, "n": 2},
        {"bin(1m)": 60.0, "x": None, "n": 1},  # avg of no value: empty, as Logs Insights shows
    ]
    q = parse_query(
        "SOURCE 'g' | filter m = 'd' | stats latest(x) as x, sum(ok) as ok, count(x) as has_x "
        "by t | sort t desc | limit 5"
    )
    assert run_query(q, events) == [
        {"t": "b", "x": None, "ok": 1.0, "has_x": 0},
        {"t": "a", "x": 3, "ok": 1.0, "has_x": 2},  # latest: the value of the latest event
    ]
    by_count = parse_query("SOURCE 'g' | stats count(*) as n by t | sort n asc | limit 1")
    assert run_query(by_count, events) == [{"t": "a", "n": 2}]


def test_every_log_widget_parses_and_is_drawn(dashboard: TemplateDashboard) -> None:
    store = MetricStore(DECISIONS, dashboard.namespace, dashboard.service)
    body = _web(dashboard)
    drawn = [
        w["properties"]["title"]
        for w in body["widgets"]
        if drawable(w, dashboard.log_groups.values(), store)
    ]
    logs = [w["properties"]["title"] for w in body["widgets"] if w["type"] == "log"]
    assert len(logs) == 7, logs  # five per target, two for all targets
    assert drawn == [*logs, _fleet(body)["properties"]["title"]]
    assert "Invocations" not in drawn and "Function metrics per 5 min" not in drawn


def _fleet(body: dict[str, Any]) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        w
        for w in body["widgets"]
        if w["type"] == "metric"
        and any(ACTIONS_METRIC in row for row in w["properties"]["metrics"])
    ]
    (w,) = found
    return w


def test_load_and_capacity_per_minute(
    dashboard: TemplateDashboard, events: list[dict[str, object]]
) -> None:
    body = _web(dashboard)
    capacity = {
        s.label: s for s in log_series(_widget(body, "Capacity: planned vs actual"), events)
    }
    actual = capacity["actual_before"]
    assert (actual.period, actual.stat) == (60, "avg")
    # T0 and T0+30 share a minute: the average of 2 and 3; the alarm's line at T0+60 counts.
    assert actual.points[:3] == [(T0, 2.5), (T0 + 60, 3.0), (T0 + 240, 5.0)]
    assert capacity["planned"].points[1] != (T0 + 60, 5.0)  # the alarm has no plan: no point
    assert set(capacity) == {"planned", "actual_before", "desired_after"}
    load = {s.label: s for s in log_series(_widget(body, "Load: forecast vs observed"), events)}
    assert load["observed"].points[1] == (T0 + 60, 99.0)  # the alarm's observed load
    assert load["forecast"].points[0] == (T0, 30.0)
    error = log_series(_widget(body, "Forecast error (weighted MAPE, %)"), events)
    assert {v for _, v in error[0].points} == {25.0}


def test_decisions_by_reason(dashboard: TemplateDashboard, events: list[dict[str, object]]) -> None:
    body = _web(dashboard)
    series = {
        s.label: s for s in log_series(_widget(body, "Decisions per 5 min by reason"), events)
    }
    assert series["plan"].points == [(T0, 2.0), (T0 + 300, 1.0)]  # db's are not web's
    assert series["at_desired"].points == [(T0, 1.0)]
    assert series["reactive_floor"].points == [(T0, 1.0)]
    assert series["stabilising"].points == [(T0 + 300, 1.0)]
    columns, rows = log_table(_widget(body, "Decisions: actions and not scaled by reason"), events)
    assert columns == ["reason", "decisions", "actions"]
    assert rows[0] == ["plan", "3", "3"]
    assert sorted(rows[1:]) == [
        ["at_desired", "1", "0"],
        ["reactive_floor", "1", "1"],
        ["stabilising", "1", "0"],
    ]


def test_all_targets(dashboard: TemplateDashboard, events: list[dict[str, object]]) -> None:
    body = _web(dashboard)  # the box does not change these
    columns, rows = log_table(
        _widget(body, "All targets: latest capacity, forecast error and actions"), events
    )
    assert columns[0] == "target"
    table = {r[0]: dict(zip(columns, r, strict=True)) for r in rows}
    assert list(table) == ["db", "web"]
    assert table["web"] | {} == {
        "target": "web",
        "actual": "7",
        "desired": "7",
        "planned": "7",
        "error_percent": "25",
        "actions": "4",
        "decisions": "6",
    }
    assert (table["db"]["actual"], table["db"]["actions"]) == ("2", "1")
    everyone = log_series(_widget(body, "All targets: actual capacity"), events)
    assert [s.label for s in everyone] == ["db", "web"]
    assert everyone[0].points == [(T0, 2.0), (T0 + 600, 2.0)]
    assert {s.period for s in everyone} == {300}


def test_fleet_counts(dashboard: TemplateDashboard) -> None:
    assert fleet_datapoints(WEB[0]) == [(ACTIONS_METRIC, 1.0)]
    assert fleet_datapoints(WEB[1]) == [(NOT_SCALED_METRIC, 1.0)]
    store = MetricStore(DECISIONS, dashboard.namespace, dashboard.service)
    series = {s.label: s for s in metric_series(_fleet(_web(dashboard)), store)}
    actions = series["Actions (capacity changed)"]
    assert (actions.period, actions.stat) == (300, "Sum")
    assert actions.points == [(T0, 3.0), (T0 + 300, 1.0), (T0 + 600, 1.0)]  # db's too
    assert series["Not scaled"].points == [(T0, 2.0), (T0 + 300, 1.0)]
    # Only the fleet dimension set is fed: a per-target or other service's row reads nothing.
    assert store.get(dashboard.namespace, ACTIONS_METRIC, {"service": "x"}) == []
    assert not store.feeds(
        dashboard.namespace, ACTIONS_METRIC, {"service": dashboard.service, "Target": "web"}
    )


def test_aggregate_statistics() -> None:
    points = [(0.0, 1.0), (59.0, 3.0), (60.0, 10.0), (600.0, 4.0)]
    assert aggregate(points, 60, "Average") == [(0.0, 2.0), (60.0, 10.0), (600.0, 4.0)]
    assert aggregate(points, 300, "Sum") == [(0.0, 14.0), (600.0, 4.0)]
    assert aggregate(points, 300, "Maximum") == [(0.0, 10.0), (600.0, 4.0)]
    assert aggregate(points, 300, "SampleCount") == [(0.0, 3.0), (600.0, 1.0)]


def test_a_query_outside_the_subset_is_refused(dashboard: TemplateDashboard) -> None:
    body = _web(dashboard)
    widget = _widget(body, "Load: forecast vs observed")
    widget["properties"]["query"] = widget["properties"]["query"].replace("avg(", "pct(", 1)
    store = MetricStore(DECISIONS, dashboard.namespace, dashboard.service)
    with pytest.raises(UnsupportedQuery):
        drawable(widget, dashboard.log_groups.values(), store)


def test_the_png_is_written(dashboard: TemplateDashboard, tmp_path: Path) -> None:
    out = render_dashboard(
        DECISIONS,
        dashboard.body,
        "web",
        tmp_path / "sub" / "dashboard.png",
        namespace=dashboard.namespace,
        service=dashboard.service,
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 10_000 < out.stat().st_size < 250_000
    assert "AWS/Lambda" in FOOTNOTE


def test_records_need_their_time() -> None:
    with pytest.raises(ValueError, match="without its time"):
        MetricStore({"web": [DecisionRecord(Source.WORKER, Action.NONE, False, Reason.PLAN, "")]})
