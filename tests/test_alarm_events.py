"""The three alarm payload shapes reduce to the same signal; anything else is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scaleahead.domain.alarm_events import (
    AlarmEventError,
    AlarmSignal,
    alarm_name,
    parse_alarm_event,
    parse_deliveries,
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


# --- plain dict access: where an object is missing or is not an object -----------------------


@pytest.mark.parametrize(
    ("spoil", "needle"),
    [
        (lambda e: e.update(detail=None), "eventbridge: missing alarmName"),
        (lambda e: e.update(detail=["x"]), "eventbridge: missing alarmName"),
        (lambda e: e.pop("detail"), "eventbridge: missing alarmName"),
        (lambda e: e["detail"].update(state="ALARM"), "eventbridge: missing state"),
        (lambda e: e["detail"].pop("state"), "eventbridge: missing state"),
        (lambda e: e["detail"]["state"].pop("value"), r"state None is not one of"),
        (lambda e: e["detail"].update(alarmName="x" * 256), "alarm name of 256 characters"),
    ],
)
def test_an_eventbridge_detail_that_is_not_an_alarm_is_refused(spoil: Any, needle: str) -> None:
    event = load("alarm-eventbridge-alarm.json")
    spoil(event)
    with pytest.raises(AlarmEventError, match=needle):
        parse_alarm_event(event)


@pytest.mark.parametrize("previous", [None, "OK", ["OK"], {}, {"value": 3}])
def test_a_previous_state_that_is_not_an_object_with_text_is_none(previous: Any) -> None:
    event = load("alarm-lambda-action.json")
    event["alarmData"]["previousState"] = previous
    [s] = parse_alarm_event(event)
    assert s.previous_state is None and s.state == "ALARM"


def test_a_lambda_action_without_state_or_arn_is_refused_or_keyed_by_what_it_has() -> None:
    event = load("alarm-lambda-action.json")
    event["alarmData"] = "scaleahead-web-high-load"
    with pytest.raises(AlarmEventError, match="lambda-action: missing alarmName"):
        parse_alarm_event(event)
    event = load("alarm-lambda-action.json")
    del event["alarmArn"], event["alarmData"]["state"]["timestamp"]
    [s] = parse_alarm_event(event)
    assert s.event_id == "#" and s.timestamp is None
    assert (s.account, s.region) == ("123456789012", "us-east-1")


def test_unreadable_reason_data_leaves_observed_and_threshold_unknown() -> None:
    for reason_data in ("{not json", "[1, 2]", "", None, {"recentDatapoints": [7.0]}):
        event = load("alarm-eventbridge-alarm.json")
        event["detail"]["state"]["reasonData"] = reason_data
        [s] = parse_alarm_event(event)
        expected = 7.0 if isinstance(reason_data, dict) else None
        assert (s.observed, s.threshold) == (expected, None), reason_data


def test_sns_records_without_a_message_are_refused_one_by_one() -> None:
    good = load("alarm-sns.json")["Records"][0]
    no_sns = {"EventSource": "aws:sns"}
    sns_not_object = {"EventSource": "aws:sns", "Sns": "hi"}
    not_a_record = "aws:sns"
    out = parse_deliveries({"Records": [no_sns, good, sns_not_object, not_a_record]})
    assert [type(x).__name__ for x in out] == [
        "AlarmEventError",
        "AlarmSignal",
        "AlarmEventError",
        "AlarmEventError",
    ]
    assert "no text" in str(out[0]) and "no text" in str(out[2])
    assert "only SNS records" in str(out[3])
    assert isinstance(out[1], AlarmSignal) and out[1].event_id == good["Sns"]["MessageId"]
