"""`scaleahead explain`: the decision log in plain words, holds collapsed, against moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from scaleahead.domain.state import StoredForecast
from scaleahead.service.worker import process_target
from scaleahead.store.records import record_from_dict
from scaleahead_tools.cli.explain import entries, forecast_line, parse_since, render
from scaleahead_tools.cli.main import main
from tests.conftest import NOW, Aws
from tests.test_worker import history, target


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_a_change_held_short_of_the_decision_says_by_what() -> None:
    row = {
        "at": 60.0,
        "executed": True,
        "reason": "plan",
        "source": "worker",
        "before": 3,
        "after": 2,
        "desired": 1,
        "message": "scale in 3 -> 1: plan stayed at or below 1 for the whole stabilisation window",
        "detail": "ModifyCacheCluster NumCacheNodes 3 -> 2, removing node 0003 (newest first) "
        "(decision 1; 1 node removed per action)",
    }
    [e] = entries([record_from_dict(row)])
    assert render(e).endswith(
        "scaled in 3 -> 2 (the forecast plan): plan stayed at or below 1 for the whole "
        "stabilisation window; held at 2 by the resource's rules: ModifyCacheCluster "
        "NumCacheNodes 3 -> 2, removing node 0003 (newest first) (decision 1; 1 node removed "
        "per action)"
    )
    # a change made as decided says nothing more
    [plain] = entries([record_from_dict({**row, "after": 1, "desired": 1})])
    assert plain.held is None and "held" not in render(plain)


def test_since_takes_durations_and_times() -> None:
    assert parse_since("90m", now=10_000.0) == 10_000.0 - 5400
    assert parse_since("1d", now=100_000.0) == 100_000.0 - 86400
    assert parse_since("2026-11-28T09:00") == datetime(2026, 11, 28, 9, tzinfo=UTC).timestamp()
    with pytest.raises(ValueError, match="give a duration"):
        parse_since("yesterday")


def test_holds_with_one_reason_become_one_line() -> None:
    rows = [
        {
            "at": 60.0 * i,
            "executed": False,
            "reason": "at_desired",
            "source": "worker",
            "before": 5,
            "after": 5,
            "message": f"already at 5: plan 5 ({i})",
        }
        for i in range(4)
    ]
    rows.append(
        {
            "at": 300.0,
            "executed": True,
            "reason": "plan",
            "source": "worker",
            "before": 5,
            "after": 8,
            "message": "scale out 5 -> 8: plan 8",
        }
    )
    rows.append(
        {
            "at": 360.0,
            "executed": False,
            "reason": "at_desired",
            "source": "alarm",
            "before": 8,
            "after": 8,
            "message": "already at 8",
        }
    )
    found = entries([record_from_dict(r) for r in reversed(rows)])  # the store: newest first
    assert [(e.changed, e.count) for e in found] == [(False, 4), (True, 1), (False, 1)]
    assert "no change at 5 (4 decisions): already where the plan wants it" in render(found[0])
    assert "Last: already at 5: plan 5 (3)" in render(found[0])
    assert render(found[1]).endswith("[worker] scaled out 5 -> 8 (the forecast plan): plan 8")


def test_cli_explains_a_real_decision_log(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    history(aws, 3, until=NOW + 600)
    aws.apply(target(warmup_seconds=60))
    for minutes in range(-8, 8, 2):
        process_target(aws.rt, "web", NOW + 60 * minutes)
    assert main(["explain", "web", "--since", _iso(NOW - 3600)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    # the forecast the decisions stood on comes first, with how well its band held lately
    assert out[0].startswith("forecast fitted "), out
    assert "band covered" in out[0] and "of the last 6 h" in out[0], out
    assert any("scaled out" in line for line in out), out
    assert any("decisions)" in line for line in out), out  # a run of holds, collapsed
    assert len(out) < 8
    assert main(["--output", "json", "explain", "web", "--since", _iso(NOW - 3600)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sum(e["count"] for e in data) == 8
    assert main(["explain", "web", "--since", _iso(NOW + 3600)]) == 0
    assert "no decision for web since" in capsys.readouterr().out
    assert main(["explain", "ghost"]) == 2
    assert main(["explain", "web", "--since", "soon"]) == 2
    assert "give a duration" in capsys.readouterr().err


def test_the_forecast_line_says_what_the_fit_chose_and_how_its_band_held() -> None:
    ok = StoredForecast(
        "ok",
        NOW,
        "seasonal daily, level x0.86 (60 min window, fading over 12 h), q0.9 headroom +62%, "
        "band covered 87% of the last 6 h (357 points), step 5 min",
        {"start": NOW},
    )
    line = forecast_line(ok)
    assert line.startswith("forecast fitted ") and "band covered 87% of the last 6 h" in line
    reactive = StoredForecast("reactive-only", NOW, "only 3.0 h of load history", None)
    assert forecast_line(reactive).endswith(": only 3.0 h of load history")
