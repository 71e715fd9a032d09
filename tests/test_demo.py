"""The demo's own parts: alarm evaluation as CloudWatch does it, the service model, a short run."""

from __future__ import annotations

import json
from pathlib import Path

from scaleahead.demo.alarms import evaluate, state_change_event
from scaleahead.demo.run import ServiceModel, main
from scaleahead.domain.alarm_events import parse_alarm_event

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


def test_a_short_run_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    rc = main(["--history-days", "1.1", "--days", "0.1", "--quiet", "--out", str(out)])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["scores"]) == {"web-ahead", "web-reactive"}
    assert (out / "demo.png").stat().st_size > 10_000
    log = (out / "functions.log").read_text()
    assert '"message":"decision"' in log and '"target":"web-ahead"' in log
