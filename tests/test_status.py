"""`scaleahead status` against moto: capacity, plans, mode, forecast error, warm-up."""

from __future__ import annotations

import json

import pytest

from scaleahead.domain.series import Forecast, forecast_error
from scaleahead.domain.warmup import WarmupLog
from scaleahead.service.worker import process_target
from scaleahead_tools.cli.main import main
from tests.conftest import NOW, Aws
from tests.test_worker import history, target


def test_forecast_error_is_relative_to_the_load() -> None:
    f = Forecast(0.0, 300, (100.0,) * 4, (150.0,) * 4, 0.9, 0.0, 86400.0, "test")
    assert forecast_error(f, [(0.0, 100.0), (300.0, 50.0), (600.0, 150.0)]) == pytest.approx(
        100 / 300
    )
    assert forecast_error(f, [(5000.0, 100.0)]) is None  # outside the forecast
    assert forecast_error(f, []) is None


def test_status_shows_every_target(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    history(aws, 3, until=NOW + 600)
    aws.apply(target())
    process_target(aws.rt, "web", NOW - 600)
    lease = aws.rt.store.acquire_lease("web", "test", NOW - 590)
    lease.warmups = WarmupLog(observed=(400.0,) * 5)
    aws.rt.store.commit_state(lease, "test")
    process_target(aws.rt, "web", NOW + 360)
    aws.rt.store.pause("web", "ana", "", NOW + 400)
    aws.clock.t = NOW + 420
    assert main(["--output", "json", "status"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["target"] == "web" and row["kind"] == "ecs"
    assert row["desired"] == aws.desired() and row["desired"] > 4  # scaled for the peak
    assert row["planned_now"] == row["desired"]
    assert row["planned_in_1h"] >= 10  # 13:07 is inside the three-hour peak
    assert row["mode"] == "ForecastAndScale (paused)"
    assert (
        row["last_action"] == "scale_out" and row["last_action_at"] == "2026-11-27T12:11:00Z"
    )  # NOW + 6 min
    assert row["warmup_seconds"] == 420 and row["warmup_source"].startswith("learned")
    # The daily profile is smoothed over five steps, so the forecast rises ten minutes before
    # the 12:15 step (360 at 12:05) while the load stayed at 200. At 12:12 the closed periods
    # since the fit are 11:55, 12:00 and 12:05 (12:10's is still open): 160 / (3 x 200) off.
    assert row["forecast_error"] == pytest.approx(160 / 600)
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "web" in out and "(learned)" in out and "paused" in out
