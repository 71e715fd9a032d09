"""The environment, read and checked by scaleahead.settings, gives the same Settings as before."""

from __future__ import annotations

import dataclasses

import pytest

from scaleahead.settings import VARIABLES, Mode, Settings


def test_unset_variables_take_their_defaults() -> None:
    assert Settings.from_env({}) == Settings(
        state_table="scaleahead-state",
        work_queue_url="",
        alarm_prefix="scaleahead-",
        mode=Mode.FORECAST_AND_SCALE,
        tick_seconds=60,
        decision_ttl_days=30,
    )


def test_every_variable_is_read() -> None:
    env = {
        "STATE_TABLE": "t",
        "WORK_QUEUE_URL": "https://sqs/q",
        "ALARM_PREFIX": "p-",
        "MODE": "ForecastOnly",
        "TICK_MINUTES": "5",
        "DECISION_TTL_DAYS": "7",
        "AWS_REGION": "us-east-1",  # not ours: ignored
    }
    assert set(env) - VARIABLES == {"AWS_REGION"}
    s = Settings.from_env(env)
    assert (s.state_table, s.work_queue_url, s.alarm_prefix) == ("t", "https://sqs/q", "p-")
    assert s.mode is Mode.FORECAST_ONLY and s.tick_seconds == 300 and s.decision_ttl_days == 7


def test_the_process_environment_is_read_and_a_given_mapping_replaces_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODE", "ForecastOnly")
    monkeypatch.setenv("TICK_MINUTES", "2")
    monkeypatch.setenv("mode", "ForecastAndScale")  # names are case-sensitive, as Lambda's
    assert Settings.from_env().mode is Mode.FORECAST_ONLY
    assert Settings.from_env().tick_seconds == 120
    assert Settings.from_env({}).mode is Mode.FORECAST_AND_SCALE
    assert Settings.from_env({}).tick_seconds == 60


@pytest.mark.parametrize(
    ("env", "needles"),
    [
        ({"MODE": "Sometimes"}, ["MODE='Sometimes'", "'ForecastOnly' or 'ForecastAndScale'"]),
        ({"TICK_MINUTES": "five"}, ["TICK_MINUTES='five'", "valid integer"]),
        ({"TICK_MINUTES": "0"}, ["TICK_MINUTES='0'", "greater than or equal to 1"]),
        ({"DECISION_TTL_DAYS": ""}, ["DECISION_TTL_DAYS=''"]),
        ({"MODE": "x", "TICK_MINUTES": "x"}, ["MODE='x'", "TICK_MINUTES='x'"]),
    ],
)
def test_a_wrong_variable_is_named_with_what_it_may_be(
    env: dict[str, str], needles: list[str]
) -> None:
    with pytest.raises(ValueError, match="invalid environment") as err:
        Settings.from_env(env)
    for needle in needles:
        assert needle in str(err.value)


def test_settings_stay_a_dataclass_the_cli_can_vary() -> None:
    s = dataclasses.replace(Settings.from_env({}), state_table="other")
    assert s.state_table == "other" and s.alarm_prefix == "scaleahead-"
