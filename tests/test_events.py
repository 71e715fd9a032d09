"""Planned events: the rules (pure), the plan they raise, the worker on moto, and the CLI."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from scaleahead.domain.controller import Observation, plan_tick
from scaleahead.domain.events import (
    EventError,
    PlannedEvent,
    floor_in,
    outside_events,
    uplifted,
)
from scaleahead.domain.series import Forecast
from scaleahead.service import worker
from scaleahead.service.worker import process_target
from scaleahead.store import EVENT_RETENTION_SECONDS
from scaleahead.store.keys import EVENTS_PK, event_sk
from scaleahead_tools.cli.main import main
from tests.conftest import NOW, Aws, make_target
from tests.records import decision, tick_inputs
from tests.test_drivers import slow_and_fast
from tests.test_worker import history, target

HOUR = 3600


def ev(**over: Any) -> PlannedEvent:
    base: dict[str, Any] = {"target": "web", "id": "launch", "start": NOW, "end": NOW + HOUR}
    base.update(over)
    if "uplift" not in over and "min_capacity" not in over:
        base["uplift"] = 2.0
    return PlannedEvent(**base)


@pytest.mark.parametrize(
    ("over", "says"),
    [
        ({"end": NOW}, "--end must be after --start"),
        ({"end": NOW + 8 * 86400}, "at most 7"),
        ({"uplift": 0.5}, "never lowers"),
        ({"uplift": 1.0}, "above 1"),
        ({"uplift": 2.0, "min_capacity": 4}, "exactly one"),
        ({"min_capacity": 0}, "at least 1"),
        ({"id": "Launch Day"}, "lower-case"),
    ],
)
def test_an_event_that_cannot_be_honoured_is_refused(over: dict[str, Any], says: str) -> None:
    with pytest.raises(EventError, match=says):
        ev(**over)


def flat(value: float = 100.0, slots: int = 48) -> Forecast:
    """A forecast from NOW, 5-minute slots, mean ``value`` and upper 1.2 times it."""
    return Forecast(NOW, 300, (value,) * slots, (1.2 * value,) * slots, 0.9, NOW, 86400.0, "t")


def test_uplift_multiplies_only_the_slots_inside_the_window() -> None:
    f = uplifted(flat(), [ev(start=NOW + 600, end=NOW + 1200, uplift=1.5)])
    assert f.mean[:2] == (100.0, 100.0)
    assert f.mean[2:4] == (150.0, 150.0) and f.upper[2] == pytest.approx(180.0)
    assert f.mean[4] == 100.0
    # overlapping events: the larger uplift wins, they do not compound
    both = uplifted(flat(), [ev(uplift=1.5), ev(id="b", uplift=3.0)])
    assert both.mean[0] == 300.0
    assert uplifted(flat(), [ev(min_capacity=5)]) is not None
    assert uplifted(flat(), [ev(min_capacity=5)]).mean == flat().mean


def test_the_floor_and_the_learning_window() -> None:
    events = [
        ev(min_capacity=8),
        ev(id="b", min_capacity=12, start=NOW + 2 * HOUR, end=NOW + 3 * HOUR),
    ]
    held = floor_in(events, NOW + 30 * 60, NOW + 90 * 60)
    assert held is not None and held.min_capacity == 8
    assert floor_in(events, NOW + HOUR, NOW + 2 * HOUR) is None  # half-open windows
    points = [(NOW - 60.0, 1.0), (NOW, 2.0), (NOW + HOUR - 1, 3.0), (NOW + HOUR, 4.0)]
    assert outside_events(points, events) == [(NOW - 60.0, 1.0), (NOW + HOUR, 4.0)]


def _plan(events: list[PlannedEvent], forecast: Forecast | None = None) -> Any:
    t = make_target(warmup_seconds=300)
    obs = Observation([(NOW - 60, 100.0)], 100.0, "")
    plan, _, _ = plan_tick(t, forecast or flat(), obs, NOW, 60, "", 300, events)
    return plan


def test_events_raise_the_plan_one_warmup_ahead() -> None:
    base = _plan([])
    assert base.desired == 2  # 120 (upper) / 100 per task
    # an uplift starting within warm-up + tick (6 min) is planned for now
    up = _plan([ev(start=NOW + 300, end=NOW + HOUR, uplift=2.5)])
    assert up.desired == 3 and "planned event launch (forecast x2.5" in up.basis
    # a floor too; one that starts later is not planned yet
    held = _plan([ev(start=NOW + 240, end=NOW + HOUR, min_capacity=9)])
    assert held.desired == 9 and held.basis.startswith("planned event launch (at least 9")
    assert _plan([ev(start=NOW + 900, end=NOW + HOUR, min_capacity=9)]).desired == 2
    # a floor below what the forecast wants changes nothing
    assert _plan([ev(min_capacity=1)]).desired == 2


def test_the_worker_holds_the_events_floor(aws: Aws) -> None:
    aws.put_load([(NOW - 60 * i, 200.0) for i in range(1, 20)])
    aws.apply(make_target(warmup_seconds=300))
    assert main(["events", "add", "web", "--start", "+4m", "--end", "+1h", "--min", "15"]) == 0
    rec = decision(process_target(aws.rt, "web", NOW))
    assert rec.executed is True and aws.desired() == 15
    assert "planned event event-1127-1209 (at least 15" in tick_inputs(rec).plan_basis
    assert tick_inputs(rec).events == [aws.rt.store.planned_events("web")[0].describe()]
    # once removed, the next plans no longer hold it (scale-in waits for the window as usual)
    assert main(["events", "remove", "web", "event-1127-1209"]) == 0
    later = tick_inputs(decision(process_target(aws.rt, "web", NOW + 60)))
    assert later.plan == 2 and later.events is None


def spy_on_fits(monkeypatch: pytest.MonkeyPatch) -> list[list[float]]:
    """The times of every history the worker fits from, in order, so a test can see what was
    left out."""
    seen: list[list[float]] = []
    fit = worker.fit_forecast  # type: ignore[attr-defined]

    def spy(times: list[float], values: list[float], **kw: Any) -> Any:
        seen.append(times)
        return fit(times, values, **kw)

    monkeypatch.setattr(worker, "fit_forecast", spy)
    return seen


def test_a_past_events_window_is_left_out_of_the_fit(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    history(aws, 3)
    aws.apply(target())
    aws.rt.store.put_event(ev(start=NOW - 86400, end=NOW - 86400 + 2 * HOUR, uplift=3.0))
    aws.rt.store.put_event(ev(id="later", start=NOW + HOUR, end=NOW + 2 * HOUR, uplift=3.0))
    seen = spy_on_fits(monkeypatch)
    process_target(aws.rt, "web", NOW)
    [times] = seen
    assert not [t for t in times if NOW - 86400 <= t < NOW - 86400 + 2 * HOUR]
    assert NOW - 86400 - 300 in times and NOW - 86400 + 2 * HOUR in times  # the edges stay
    assert len(times) == 3 * 288 - 24  # three days of 5-minute points less two hours


def test_an_event_on_one_target_of_a_driver_is_left_out_of_the_shared_fit(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_and_fast(aws)  # two targets planning from one driver's forecast
    day_before = "2026-11-26T12:05"  # NOW less a day
    assert main(["events", "add", "fast", "--start", day_before, "--end", "+2h", "--min", "3"]) == 0
    [event] = aws.rt.store.planned_events("fast")
    assert event.forecast_key == "DRIVER#front-door"
    seen = spy_on_fits(monkeypatch)
    process_target(aws.rt, "slow", NOW)  # the other target refits the driver's forecast
    [times] = seen
    assert not [t for t in times if event.start <= t < event.end]
    assert len(times) == 3 * 288 - 24


def test_events_cli(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.apply(make_target())
    args = ["events", "add", "web", "--start", "2026-11-28T09:00", "--end", "+3h"]
    assert main([*args, "--uplift", "1.8", "--id", "sale", "--note", "black friday"]) == 0
    assert (
        "added planned event sale (forecast x1.8, 2026-11-28 09:00Z to" in capsys.readouterr().out
    )
    assert main(["--output", "json", "events", "list"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["id"] == "sale" and row["uplift"] == 1.8 and row["phase"] == "upcoming"
    # Times in ISO 8601 UTC: 09:00 to 12:00 on the 28th.
    assert (row["start"], row["end"]) == ("2026-11-28T09:00:00Z", "2026-11-28T12:00:00Z")
    end = datetime.fromisoformat(row["end"]).timestamp()
    item = aws.dynamodb.get_item(
        TableName=aws.settings.state_table,
        Key={"pk": {"S": EVENTS_PK}, "sk": {"S": event_sk("web", "sale")}},
    )["Item"]
    assert int(item["expires_at"]["N"]) == int(end + EVENT_RETENTION_SECONDS)
    assert main(["events", "list", "web"]) == 0
    listed = capsys.readouterr().out
    assert "2026-11-28 09:00-12:00" in listed and "black" in listed and "upcoming" in listed
    # the same id again replaces it
    assert main([*args, "--min", "6", "--id", "sale"]) == 0
    assert capsys.readouterr().out.startswith("replaced")
    assert [e.min_capacity for e in aws.rt.store.planned_events("web")] == [6]
    assert main(["events", "remove", "web", "sale"]) == 0
    assert aws.rt.store.planned_events() == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["events", "add", "nope", "--start", "+1h", "--end", "+1h", "--min", "3"], "no target"),
        (["events", "add", "web", "--start", "+1h", "--end", "+1h", "--min", "99"], "max_capacity"),
        (["events", "add", "web", "--start", "soon", "--end", "+1h", "--min", "3"], "--start"),
        (["events", "add", "web", "--start", "+1h", "--end", "+0m", "--min", "3"], "after --start"),
        (["events", "remove", "web", "nope"], "no event 'nope'"),
    ],
)
def test_events_cli_refuses_with_what_to_fix(
    aws: Aws, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    aws.apply(make_target())
    assert main(args) == 2
    assert says in capsys.readouterr().err
    assert aws.rt.store.planned_events() == []


def test_uplift_needs_a_forecast_and_past_windows_warn(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.apply(make_target(forecast={"enabled": False}))
    assert main(["events", "add", "web", "--start", "+1h", "--end", "+1h", "--uplift", "2"]) == 2
    assert "give --min instead" in capsys.readouterr().err
    assert (
        main(["events", "add", "web", "--start", "2026-11-20T10:00", "--end", "+2h", "--min", "3"])
        == 0
    )
    assert "only keeps its load out of what the model learns" in capsys.readouterr().out
