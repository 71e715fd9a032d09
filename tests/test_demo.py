"""The demo's own parts: alarm evaluation as CloudWatch does it, the world's warm-ups, the
report's arithmetic, and a short run of the three tiers end to end."""

from __future__ import annotations

import json
from pathlib import Path

from scaleahead.domain.alarm_events import parse_alarm_event
from scaleahead.domain.decision import Action, Reason
from scaleahead.domain.record import DecisionRecord, Source
from scaleahead_testkit.world import ServiceModel
from scaleahead_tools.demo.report import (
    Crossing,
    ahead,
    crossings,
    gave_back,
    score,
    sustained_loads,
)
from scaleahead_tools.demo.run import main
from scaleahead_tools.sim.alarms import evaluate, state_change_event

ALARM = {
    "AlarmName": "scaleahead-web-high-load",
    "EvaluationPeriods": 3,
    "DatapointsToAlarm": 2,
    "ComparisonOperator": "GreaterThanThreshold",
    "Threshold": 100.0,
    "TreatMissingData": "notBreaching",
}


def test_m_out_of_n_and_missing_data() -> None:
    assert evaluate(ALARM, [50, 150, 90]).state == "OK"
    assert evaluate(ALARM, [150, 90, 150]).state == "ALARM"
    assert evaluate(ALARM, [150, None, None]).state == "OK"
    assert evaluate({**ALARM, "TreatMissingData": "breaching"}, [150, None, 1]).state == "ALARM"
    assert evaluate({**ALARM, "TreatMissingData": "missing"}, [None, None, None]).state == (
        "INSUFFICIENT_DATA"
    )


def test_the_emitted_event_is_what_the_alarm_function_parses() -> None:
    ev = evaluate(ALARM, [150.0, 90.0, 170.0])
    [s] = parse_alarm_event(state_change_event(ALARM, ev, "OK", 1_795_781_100.0))
    assert (s.state, s.observed, s.threshold) == ("ALARM", 170.0, 100.0)


def test_service_model_warm_up_and_removal() -> None:
    m = ServiceModel(warmup=300, ready=2)
    assert m.step(0, 5) == 2  # asked for 3 more: not ready yet
    assert m.step(299, 5) == 2
    assert m.step(300, 5) == 5
    assert m.step(360, 3) == 3  # removal is immediate
    m.step(400, 6)
    assert m.step(450, 4) == 3  # cancels pending first; one more is still warming up
    assert m.step(700, 4) == 4


def test_score_counts_short_minutes_unserved_load_and_capacity() -> None:
    load = [100.0, 250.0, 300.0, 50.0]
    ready = [1, 2, 2, 1]  # 100 per unit: short at the 2nd (250 > 200) and 3rd (300 > 200)

    def made(executed: bool, source: Source) -> DecisionRecord:
        return DecisionRecord(source, Action.NONE, executed, Reason.PLAN, "")

    decisions = [made(True, Source.ALARM), made(True, Source.WORKER), made(False, Source.WORKER)]
    s = score(load, ready, 100.0, 60.0, decisions)
    assert (s.under_minutes, s.actions, s.alarm_actions) == (2, 2, 1)
    assert s.unserved_share == (50 + 100) / 700
    assert s.unit_hours == 6 / 60


def test_sustained_load_is_a_centred_mean() -> None:
    assert sustained_loads([0, 0, 9, 0, 0], window=3) == [0, 3, 3, 3, 0]


def test_crossings_and_the_order_of_the_tiers() -> None:
    # a day of 10 steps: low, ramp through 100 at step 4, peak at 6, back under 100 at step 8
    load = [50.0, 50, 60, 80, 120, 150, 200, 150, 90, 60]
    [c] = crossings(load, [100.0], day=10)
    assert c == Crossing(level=100.0, start=0, up=4, peak=6, down=8)
    slow = [1, 2, 2, 2, 2, 2, 2, 2, 2, 2]  # asked for 2 units at step 1: 3 steps ahead
    fast = [1, 1, 1, 1, 1, 2, 2, 2, 1, 1]  # at step 5 (one late), gave back at step 8
    assert (ahead(slow, 2, c), ahead(fast, 2, c)) == (3, -1)
    assert (gave_back(slow, 2, c), gave_back(fast, 2, c)) == (None, 0)
    assert ahead([2] * 10, 2, c) is None  # had it all night: not a move of this ramp


def test_a_short_run_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    rc = main(["--history-days", "1.1", "--days", "0.1", "--quiet", "--out", str(out)])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["tiers"]) == {"web", "db", "cache", "web-reactive"}
    assert summary["decisions"] > 0
    assert (out / "demo.png").stat().st_size > 10_000
    assert (out / "dashboard.png").stat().st_size > 10_000
    steps = (out / "steps.csv").read_text().splitlines()
    assert steps[0].startswith("timestamp,load,web_asked,db_asked,cache_asked")
    assert len(steps) == 1 + summary["minutes"]
    log = (out / "functions.log").read_text()
    assert '"message":"decision"' in log and '"target":"cache"' in log
    assert '"target":"web-reactive"' in (out / "functions-reactive.log").read_text()
