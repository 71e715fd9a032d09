"""`scaleahead report`: the shadow figures worked out by hand, then the command on moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scaleahead.domain.decision import Action, Reason
from scaleahead.domain.record import AlarmInputs, DecisionRecord, Source, TickInputs
from scaleahead_tools.cli.main import main
from scaleahead_tools.cli.shadow import (
    ACTING_NOTE,
    MODEL_NOTE,
    Side,
    runs,
    shadow_figures,
)
from tests.conftest import NOW, Aws, make_target

T0 = 1_800_000_000.0


def rec(
    at: float,
    before: int | None,
    desired: int | None,
    load: float | None,
    *,
    source: Source = Source.WORKER,
) -> DecisionRecord:
    acts = desired is not None and before is not None and desired != before
    return DecisionRecord(
        source,
        Action.SCALE_OUT if acts else Action.NONE,
        False,
        Reason.FORECAST_ONLY if acts else Reason.AT_DESIRED,
        f"{before} -> {desired}",
        before=before,
        after=before,
        desired=desired,
        inputs=TickInputs(observed_load=load) if source is Source.WORKER else AlarmInputs(),
        at=at,
    )


def figures(side: Side) -> tuple[float, float, int]:
    """unit-hours (to 9 decimals: float sums), minutes short, actions."""
    return (round(side.unit_hours, 9), side.short_minutes, side.actions)


# --- pure: the figures, by hand ----------------------------------------------------------


def test_scaleahead_ahead_of_a_late_scale_out() -> None:
    # per unit 100, a tick a minute. What ran stays at 4 for two minutes the load needs 6;
    # scaleahead would have had 6 from the second tick. Given newest first, as the store does.
    records = [
        rec(T0 + 180, 6, 6, 500.0),  # needs 5
        rec(T0 + 120, 4, 6, 550.0),  # needs 6: what ran is short
        rec(T0 + 60, 4, 6, 550.0),  # needs 6: what ran is short
        rec(T0, 4, 4, 350.0),  # needs 4
    ]
    fig = shadow_figures(records, 100.0, 60)
    assert fig.decisions == 4
    assert (fig.start, fig.end) == (T0, T0 + 240)  # the newest holds one interval
    assert fig.counted_minutes == 4.0
    # (4 + 4 + 4 + 6) units x 1 minute = 18/60 h; (4 + 6 + 6 + 6) = 22/60 h.
    assert figures(fig.actual) == (round(18 / 60, 9), 2.0, 1)
    assert figures(fig.would_have) == (round(22 / 60, 9), 0.0, 1)
    assert fig.disagreed == 2
    assert fig.load_unknown_minutes == 0.0
    assert [(p.actual, p.would_have) for p in fig.points] == [(4, 4), (4, 6), (4, 6), (6, 6)]


def test_gaps_are_capped_and_unknown_load_is_never_short() -> None:
    # A ten-minute gap counts as two intervals (2 x 60 s); the newest holds 60 s: 3 minutes.
    records = [rec(T0 + 600, 2, 3, None), rec(T0, 2, 3, None)]
    fig = shadow_figures(records, 100.0, 60)
    assert fig.counted_minutes == 3.0
    assert fig.load_unknown_minutes == 3.0
    assert figures(fig.actual) == (round(2 * 3 / 60, 9), 0.0, 0)
    # Its first value differs from what ran: one action to get there, none after.
    assert figures(fig.would_have) == (round(3 * 3 / 60, 9), 0.0, 1)
    assert fig.disagreed == 2


def test_only_worker_decisions_with_a_capacity_count() -> None:
    records = [
        rec(T0 + 120, 4, None, 401.0),  # needs 5 > 4: short both ways; no desired: holds 4
        rec(T0 + 90, 9, 9, 900.0, source=Source.ALARM),  # the alarm path: not read
        rec(T0 + 60, None, None, 900.0),  # capacity never read: not counted
        rec(T0, 4, 4, 400.0000001),  # the planner's tolerance: 4 units serve it
    ]
    fig = shadow_figures(records, 100.0, 60)
    assert fig.decisions == 2
    # T0 holds until T0 + 120 (the 120 s cap), the newest 60 s: 4 units x 3 minutes.
    assert figures(fig.actual) == (round(4 * 3 / 60, 9), 1.0, 0)
    assert figures(fig.would_have) == (round(4 * 3 / 60, 9), 1.0, 0)
    assert fig.disagreed == 0


def test_scale_in_and_back_counts_each_change() -> None:
    # What ran: 5 5 5 5. Would have: 3 3 5 5, in to 3 then out to 5 again: 2 actions.
    records = [rec(T0 + 60 * i, 5, d, 250.0) for i, d in enumerate([3, 3, 5, 5])]
    fig = shadow_figures(records, 100.0, 60)
    assert figures(fig.actual) == (round(20 / 60, 9), 0.0, 0)
    assert figures(fig.would_have) == (round(16 / 60, 9), 0.0, 2)
    assert fig.disagreed == 2


def test_the_chart_breaks_its_lines_at_gaps() -> None:
    fig = shadow_figures([rec(T0 + t, 2, 2, 100.0) for t in (0, 60, 180, 900)], 100.0, 60)
    assert [[p.at - T0 for p in run] for run in runs(fig.points, 60)] == [[0, 60, 180], [900]]


def test_no_decision_gives_zeros() -> None:
    fig = shadow_figures([], 100.0, 60)
    assert (fig.decisions, fig.start, fig.end, fig.points) == (0, None, None, [])
    assert fig.actual == fig.would_have == Side(0.0, 0.0, 0)


# --- the command on moto -------------------------------------------------------------------


@pytest.fixture
def shadow(aws: Aws) -> Aws:
    """web in ForecastOnly with the four decisions of the first test an hour ago (and one
    from before --since), api acting (the stack's mode)."""
    aws.apply(make_target(mode="ForecastOnly"))
    aws.rt.store.put_target(
        make_target(id="api", resource={"cluster": "prod", "service": "api"}), NOW
    )
    start = NOW - 3600
    store = aws.rt.store
    store.record_decision("web", NOW - 3 * 86400, rec(0.0, 20, 2, 100.0))  # outside --since 2d
    for i, (before, desired, load) in enumerate(
        [(4, 4, 350.0), (4, 6, 550.0), (4, 6, 550.0), (6, 6, 500.0)]
    ):
        store.record_decision("web", start + 60 * i, rec(0.0, before, desired, load))
    return aws


def test_report_text_json_and_chart(
    shadow: Aws, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    png = tmp_path / "shadow.png"
    assert main(["report", "--since", "2d", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "shadow report 2026-11-25 12:05Z -> 2026-11-27 12:05Z (UTC)"
    assert "api (ForecastAndScale): acting: compare with `explain`" in out
    assert "web (ForecastOnly) · 4 decisions, 2026-11-27 11:05Z -> 2026-11-27 11:09Z" in out
    row = {line.split()[0]: line.split() for line in lines if line.strip()}
    assert row["unit-hours"][-3:] == ["0.30", "0.37", "+0.07"]
    assert row["minutes"][-3:] == ["2", "0", "-2"]
    assert row["actions"][-3:] == ["1", "1", "+0"]
    assert "2 decisions disagreed with what ran" in out
    assert MODEL_NOTE[:40] in out
    assert f"wrote {png}: 1 target(s)" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000

    assert main(["--output", "json", "report", "--since", "2d", "--target", "web"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["since"] == "2026-11-25T12:05:00Z" and data["png"] is None
    assert data["note"] == MODEL_NOTE
    (web,) = data["targets"]
    assert web["target"] == "web" and web["mode"] == "ForecastOnly"
    assert (web["start"], web["end"]) == ("2026-11-27T11:05:00Z", "2026-11-27T11:09:00Z")
    # 18/60 and 22/60 unit-hours, to 4 decimals.
    assert web["actual"] == {"unit_hours": 0.3, "short_minutes": 2.0, "actions": 1}
    assert web["would_have"] == {"unit_hours": 0.3667, "short_minutes": 0.0, "actions": 1}

    # The older decision (20 running) counts once --since reaches it; a gap of days is capped.
    assert main(["--output", "json", "report", "--since", "7d", "--target", "web"]) == 0
    (web,) = json.loads(capsys.readouterr().out)["targets"]
    assert web["decisions"] == 5 and web["actual"]["actions"] == 2
    assert web["actual"]["unit_hours"] == round(0.3 + 20 * 2 / 60, 4)
    assert web["would_have"] == {"unit_hours": 0.4333, "short_minutes": 0.0, "actions": 3}

    assert main(["--output", "json", "report", "--target", "api"]) == 0
    (api,) = json.loads(capsys.readouterr().out)["targets"]
    assert api["mode"] == "ForecastAndScale" and api["note"] == ACTING_NOTE
    assert "actual" not in api


def test_unknown_target_and_since_exit_2(shadow: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--target", "wbe"]) == 2
    assert "no target 'wbe'; did you mean 'web'?" in capsys.readouterr().err
    assert main(["report", "--since", "last week"]) == 2
    assert "give a duration" in capsys.readouterr().err
