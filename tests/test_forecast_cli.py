"""`scaleahead forecast` against moto: the chart, its JSON, and a target without a forecast."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from scaleahead.domain.events import PlannedEvent
from scaleahead.domain.plan import units_needed
from scaleahead.domain.series import Forecast
from scaleahead.domain.target import TargetError
from scaleahead.service.worker import process_target
from scaleahead_tools.cli import forecast_chart
from scaleahead_tools.cli.main import build_parser
from tests.conftest import NOW, Aws
from tests.test_worker import DAY, PEAK_END, PEAK_START, history, target

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def parse(*argv: str) -> argparse.Namespace:
    """The real top-level parser (global --output, --table), with `forecast` added to it unless
    main.py already wires it in."""
    p = build_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    if "forecast" not in sub.choices:
        forecast_chart.add_parser(sub)
    args = p.parse_args(list(argv))
    assert args.func is forecast_chart.cmd_forecast
    return args


def _epochs(data: Any) -> Any:
    """The JSON with its ISO 8601 times (``...Z``) back as epoch seconds, for arithmetic."""
    if isinstance(data, dict):
        return {k: _epochs(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_epochs(v) for v in data]
    if isinstance(data, str) and data.endswith("Z") and data[:4].isdigit() and "T" in data:
        return datetime.fromisoformat(data).timestamp()
    return data


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert forecast_chart.cmd_forecast(parse("--output", "json", "forecast", *argv)) == 0
    raw: dict[str, Any] = json.loads(capsys.readouterr().out)
    # Every time is ISO 8601 UTC, never an epoch number.
    assert isinstance(raw["now"], str) and raw["now"].endswith("Z")
    assert all(isinstance(p["t"], str) for p in raw["history"] + raw["plans"] + raw["planned"])
    out: dict[str, Any] = _epochs(raw)
    return out


def fitted(aws: Aws) -> float:
    """Three days of the daily-peak trace, a forecast fitted at 11:55 and two decisions: 11:55
    holds 4 tasks (the peak is beyond the warm-up), 12:11 scales out for the 12:15 peak."""
    history(aws, 3, until=NOW + 600)
    aws.apply(target())
    process_target(aws.rt, "web", NOW - 600)
    process_target(aws.rt, "web", NOW + 360)
    aws.clock.t = NOW + 420
    return aws.clock.t


def test_chart_and_series_of_a_fitted_target(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One fit for the PNG and the JSON: moto's CloudWatch makes each fit slow.
    now = fitted(aws)
    png = tmp_path / "charts" / "web.png"
    assert forecast_chart.cmd_forecast(parse("forecast", "web", "--png", str(png))) == 0
    image = png.read_bytes()
    assert image[:8] == PNG_MAGIC
    assert 20_000 < len(image) < 2_000_000
    out = capsys.readouterr().out
    assert f"wrote {png}" in out and "no forecast band" not in out

    data = run_json(capsys, "web")
    assert data["target"] == "web" and data["kind"] == "ecs" and data["png"] is None
    assert data["forecast_status"] == "ok" and data["why"] is None
    assert data["now"] == now and data["start"] == now - DAY  # 24 h back by default

    hist = data["history"]
    assert 280 <= len(hist) <= 290  # 24 h at 5 min
    assert all(now - DAY <= p["t"] <= now for p in hist)
    assert {p["load"] for p in hist} == {200.0, 1000.0}  # yesterday's peak and today's

    band = data["forecast"]
    assert band["quantile"] == 0.9 and band["generated_at"] == NOW - 600
    ahead = [p for p in band["points"] if p["t"] > now]
    assert len(ahead) >= 60  # at least the 6 h horizon at 5 min
    assert all(p["upper"] >= p["mean"] for p in ahead)
    # Default ahead: the forecast's horizon.
    stored = aws.rt.store.get_forecast("web")
    assert stored is not None and stored.forecast is not None
    f = Forecast.from_item(stored.forecast)
    assert data["end"] == f.end

    # Both decisions, their plans and the capacity they left are on the chart.
    assert [p["t"] for p in data["plans"]] == [NOW - 600, NOW + 360]
    low, high = (p["units"] for p in data["plans"])
    assert low < 4 < high  # held at 11:55, scaled out at 12:11
    assert data["capacity"] == [
        {"t": NOW - 600, "before": 4, "after": 4},
        {"t": NOW + 360, "before": 4, "after": high},
    ]
    assert aws.desired() == high

    planned = data["planned"]
    assert planned[0]["t"] == now
    assert all(2 <= p["units"] <= 20 for p in planned)
    warmup = data["warmup_seconds"]
    assert warmup == 300  # the ECS default
    for p in planned:
        # the tick's window: one warm-up and one evaluation interval (a minute) ahead
        peak = max(f.window(p["t"], p["t"] + warmup + 60, upper=True))
        assert p["load"] == peak
        assert p["units"] == max(2, min(20, units_needed(peak, 100.0)))

    def during(lo: float, hi: float) -> list[int]:
        return [p["units"] for p in planned if lo <= p["t"] % DAY < hi]

    peak_units, trough_units = during(PEAK_START + 1800, PEAK_END - 1800), during(16 * 3600, DAY)
    assert peak_units and trough_units
    assert min(peak_units) >= 10 > 4 >= max(trough_units)

    # --hours-back/--hours-ahead narrow every series to the window asked for.
    data = run_json(capsys, "web", "--hours-back", "1", "--hours-ahead", "2")
    assert (data["start"], data["end"]) == (now - 3600, now + 7200)
    assert len(data["history"]) in (11, 12, 13)
    assert max(p["t"] for p in data["planned"]) <= now + 7200
    assert max(p["t"] for p in data["forecast"]["points"]) <= now + 7200


def test_unknown_target_names_the_fix(aws: Aws) -> None:
    with pytest.raises(TargetError, match=r"no target 'nope'; `scaleahead targets list`"):
        forecast_chart.cmd_forecast(parse("forecast", "nope", "--png", "x.png"))


def test_png_is_required_without_json(aws: Aws) -> None:
    aws.apply(target())
    with pytest.raises(TargetError, match="--png FILE"):
        forecast_chart.cmd_forecast(parse("forecast", "web"))
    with pytest.raises(TargetError, match="--hours-back must be a positive"):
        forecast_chart.cmd_forecast(parse("forecast", "web", "--png", "x", "--hours-back", "0"))


def test_never_fitted_target_still_charts_its_history(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history(aws, 2 / 24, until=NOW)
    aws.apply(target())
    png = tmp_path / "web.png"
    data = run_json(capsys, "web", "--png", str(png))
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert data["png"] == str(png)
    assert data["forecast"] is None and data["planned"] == []
    assert data["forecast_status"] == "missing" and "worker has not run" in data["why"]
    assert len(data["history"]) >= 20
    assert data["end"] == NOW + 6 * 3600  # no horizon to take: six hours


def test_reactive_only_target_says_why(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history(aws, 4 / 24, until=NOW)
    aws.apply(target())
    process_target(aws.rt, "web", NOW - 60)  # too little history: stores reactive-only
    png = tmp_path / "web.png"
    assert forecast_chart.cmd_forecast(parse("forecast", "web", "--png", str(png))) == 0
    assert png.read_bytes()[:8] == PNG_MAGIC
    out = capsys.readouterr().out
    assert "no forecast band: only" in out and "reactive-only" in out
    data = run_json(capsys, "web")
    assert data["forecast"] is None and data["forecast_status"] == "reactive-only"
    assert "h of load history" in data["why"]
    # The reactive-only worker still planned on the observed load, and that is shown.
    assert data["plans"] and data["plans"][-1]["units"] >= 2


def test_implied_plan_reads_the_upper_band_one_warm_up_ahead_within_the_bounds() -> None:
    t = target(min_capacity=2, max_capacity=6)
    upper = (50.0, 80.0, 900.0, 900.0, 310.0, 100.0)
    f = Forecast(1000.0, 300, (10.0,) * 6, upper, 0.9, 1000.0, DAY, "test")
    # Fitted just after "now": the plan starts at the forecast's first slot, and stops before
    # the last, whose window runs past the forecast's end (the planner would go reactive).
    plan = forecast_chart.implied_plan(t, f, 300, 900.0, 10_000.0, 60)
    assert [p[0] for p in plan] == [1000.0, 1300.0, 1600.0, 1900.0, 2200.0]
    # The window [t, t + 360] spans two slots; 9 units are capped at max 6, 1 raised to min 2.
    assert [p[1] for p in plan] == [2, 6, 6, 6, 4]
    assert [p[2] for p in plan] == [80.0, 900.0, 900.0, 900.0, 310.0]
    # The chart's end bounds it too.
    assert [p[0] for p in forecast_chart.implied_plan(t, f, 300, 900.0, 1300.0, 60)] == [
        1000,
        1300,
    ]
    # A planned event's floor shows from one warm-up before it opens.
    launch = PlannedEvent("web", "launch", 2500.0, 2800.0, min_capacity=5)
    held = forecast_chart.implied_plan(t, f, 300, 900.0, 10_000.0, 60, [launch])
    # ...and holds past the forecast's reach, where the planner has nothing else to plan on.
    assert [p[1] for p in held] == [2, 6, 6, 6, 5, 5]
