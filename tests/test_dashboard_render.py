"""The dashboard as the demo draws it (``scaleahead_tools.demo.dashboard``), on hand-made
decisions: every per-target line it draws is a metric ``published()`` (or ``observe_decision``)
emits, each line aggregates as CloudWatch would, and the PNG is written."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from scaleahead.domain.decision import Action, Reason
from scaleahead.domain.record import AlarmInputs, DecisionRecord, Source, TickInputs, published
from scaleahead.handlers.common import ACTIONS_METRIC, NOT_SCALED_METRIC
from scaleahead_tools.demo.dashboard import (
    FOOTNOTE,
    MetricStore,
    TemplateDashboard,
    aggregate,
    decision_datapoints,
    drawable,
    parse_search,
    render_dashboard,
    select,
    template_dashboard,
    widget_series,
)
from tests.records import alarm_inputs, tick_inputs

T0 = 1_700_000_100.0 - 1_700_000_100.0 % 300  # on a 5-minute boundary


def tick(at: float, executed: bool, reason: Reason, before: int, after: int) -> DecisionRecord:
    action = Action.NONE if before == after else Action.SCALE_OUT
    return DecisionRecord(
        Source.WORKER,
        action,
        executed,
        reason,
        "",
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


# web: three executed changes and one hold in the first 5 minutes, one change in the next.
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


def _web(dashboard: TemplateDashboard) -> dict[str, Any]:
    return select(dashboard.body, {"target": "web"})


def _widget(body: dict[str, Any], title: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        w for w in body["widgets"] if w["properties"].get("title") == title
    ]
    (w,) = found
    return w


def _per_target_names(body: dict[str, Any], namespace: str) -> set[str]:
    """The metric names the drawn widgets plot, plain rows and searches alike."""
    names = set()
    for w in body["widgets"]:
        if not drawable(w, namespace):
            continue
        for row in w["properties"]["metrics"]:
            strings = [p for p in row if isinstance(p, str)]
            if strings:
                names.add(strings[1])
            else:
                search = parse_search(row[-1]["expression"])
                assert search is not None
                names.add(search.name)
    return names


def test_every_drawn_metric_is_one_a_decision_publishes(dashboard: TemplateDashboard) -> None:
    # Every figure of both kinds of record set, so published() names all it can.
    full_tick, full_alarm = WEB[0], WEB[2]
    assert tick_inputs(full_tick).forecast_error is not None
    assert alarm_inputs(full_alarm).observed_load is not None
    emitted = {name for r in (full_tick, full_alarm) for name, _, _ in published(r)}
    emitted |= {ACTIONS_METRIC, NOT_SCALED_METRIC}  # what observe_decision counts besides
    drawn = _per_target_names(_web(dashboard), dashboard.namespace)
    assert drawn, "no per-target widget found"
    assert drawn <= emitted, sorted(drawn - emitted)
    # ... and every one of them is drawn: a metric the dashboard forgot shows here too.
    assert emitted <= drawn, sorted(emitted - drawn)


def test_a_renamed_metric_is_caught(dashboard: TemplateDashboard) -> None:
    body = copy.deepcopy(_web(dashboard))
    for w in body["widgets"]:
        for row in w["properties"].get("metrics", []):
            row[:] = ["ForecastUpperBound" if p == "ForecastUpperLoad" else p for p in row]
    emitted = {name for name, _, _ in published(WEB[0])} | {ACTIONS_METRIC, NOT_SCALED_METRIC}
    assert _per_target_names(body, dashboard.namespace) - emitted == {"ForecastUpperBound"}


def test_datapoints_mirror_observe_decision() -> None:
    points = decision_datapoints("web", WEB[1])  # a hold: its figures, then NotScaled by reason
    assert (NOT_SCALED_METRIC, (("Reason", "at_desired"), ("Target", "web")), 1.0) in points
    assert ("ForecastErrorPercent", (("Target", "web"),), 25.0) in points  # x 100, as sent
    assert all(name != ACTIONS_METRIC for name, _, _ in points)
    executed = decision_datapoints("web", WEB[0])
    assert (ACTIONS_METRIC, (("Target", "web"),), 1.0) in executed
    assert all(name != NOT_SCALED_METRIC for name, _, _ in executed)


def test_decisions_widget_sums_per_300_s(dashboard: TemplateDashboard) -> None:
    body = _web(dashboard)
    widget = _widget(body, "Decisions per 5 min: actions, and not scaled by reason")
    series = {s.label: s for s in widget_series(widget, MetricStore(DECISIONS))}
    actions = series["Actions (capacity changed)"]
    assert (actions.period, actions.stat) == (300, "Sum")
    assert actions.points == [(T0, 3.0), (T0 + 300, 1.0)]  # db's action is not web's
    assert series["Not scaled: at_desired"].points == [(T0, 1.0)]
    assert series["Not scaled: stabilising"].points == [(T0 + 300, 1.0)]
    assert len(series) == 3


def test_average_per_60_s_and_the_all_targets_search(dashboard: TemplateDashboard) -> None:
    body = _web(dashboard)
    store = MetricStore(DECISIONS)
    capacity = widget_series(_widget(body, "Capacity: planned vs actual"), store)
    actual = next(s for s in capacity if s.label.startswith("Actual"))
    # T0 and T0+30 share a minute: the average of 2 and 3.
    assert actual.points[:2] == [(T0, 2.5), (T0 + 60, 3.0)]
    everyone = widget_series(_widget(body, "All targets: actual capacity"), store)
    assert {s.label: s.points for s in everyone}["db"] == [(T0, 2.0), (T0 + 600, 2.0)]
    assert [s.label for s in everyone] == ["db", "web"]
    assert {s.period for s in everyone} == {300}


def test_aggregate_statistics() -> None:
    points = [(0.0, 1.0), (59.0, 3.0), (60.0, 10.0), (600.0, 4.0)]
    assert aggregate(points, 60, "Average") == [(0.0, 2.0), (60.0, 10.0), (600.0, 4.0)]
    assert aggregate(points, 300, "Sum") == [(0.0, 14.0), (600.0, 4.0)]
    assert aggregate(points, 300, "Maximum") == [(0.0, 10.0), (600.0, 4.0)]
    assert aggregate(points, 300, "SampleCount") == [(0.0, 3.0), (600.0, 1.0)]


def test_only_decision_fed_widgets_are_drawn(dashboard: TemplateDashboard) -> None:
    drawn = [
        w["properties"]["title"]
        for w in _web(dashboard)["widgets"]
        if drawable(w, dashboard.namespace)
    ]
    assert len(drawn) == 7, drawn  # four per-target widgets, three for all targets
    assert all("Lambda" not in t for t in drawn)
    assert "Invocations" not in drawn and "Function metrics per 5 min" not in drawn


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
