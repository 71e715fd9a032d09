"""The three alarm payload shapes reduce to the same signal; anything else is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scaleahead.domain.alarm_events import (
    AlarmEventError,
    alarm_name,
    parse_alarm_event,
    target_id_from_alarm,
)

EVENTS = Path(__file__).resolve().parents[1] / "events"


def load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("alarm-eventbridge-alarm.json", "eventbridge"),
        ("alarm-lambda-action.json", "lambda-action"),
        ("alarm-sns.json", "sns"),
    ],
)
def test_every_shape_gives_the_same_facts(name: str, source: str) -> None:
    [s] = parse_alarm_event(load(name))
    assert s.alarm_name == "scaleahead-web-high-load"
    assert s.state == "ALARM" and s.previous_state == "OK"
    assert s.observed == 520.0 and s.threshold == 400.0
    assert s.source == source and s.event_id
    assert s.timestamp == pytest.approx(1795780990.0)


def test_ok_event() -> None:
    [s] = parse_alarm_event(load("alarm-eventbridge-ok.json"))
    assert s.state == "OK" and s.threshold == 600.0


@pytest.mark.parametrize(
    ("event", "needle"),
    [
        ([], "JSON object"),
        ({"hello": "world"}, "not an alarm event"),
        ({"detail-type": "CloudWatch Alarm State Change", "source": "evil"}, "unexpected source"),
        (
            {"detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch"},
            "missing alarmName",
        ),
        ({"alarmData": {"alarmName": "x", "state": {"value": "MAYBE"}}}, "state 'MAYBE'"),
        ({"Records": [{"EventSource": "aws:s3"}]}, "only SNS"),
        ({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "hi"}}]}, "not JSON"),
    ],
)
def test_malformed_events_are_refused_with_a_reason(event: Any, needle: str) -> None:
    with pytest.raises(AlarmEventError, match=needle):
        parse_alarm_event(event)


def test_alarm_names_round_trip_and_foreign_alarms_are_not_ours() -> None:
    assert target_id_from_alarm("scaleahead-", alarm_name("scaleahead-", "web")) == "web"
    assert target_id_from_alarm("scaleahead-", "other-web-high-load") is None
    assert target_id_from_alarm("scaleahead-", "scaleahead-web-cpu") is None
    assert target_id_from_alarm("scaleahead-", "scaleahead--high-load") is None


def test_nan_datapoints_in_reason_data_are_ignored() -> None:
    event = load("alarm-eventbridge-alarm.json")
    rd = json.loads(event["detail"]["state"]["reasonData"])
    rd["recentDatapoints"] = ["NaN", 900.0]
    event["detail"]["state"]["reasonData"] = json.dumps(rd)
    [s] = parse_alarm_event(event)
    assert s.observed == 900.0
