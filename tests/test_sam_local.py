"""The parts of `make sam-local` that need no Docker: its plan covers every sample event, the
variables it hands the containers are ones the template declares, and the worker events it
stamps are what the worker will take as fresh."""

from __future__ import annotations

import json

import pytest

from scaleahead.domain.alarm_events import parse_alarm_event
from scaleahead.domain.timing import untrusted_time
from scaleahead.handlers.worker import parse_work
from scaleahead.settings import Settings
from scaleahead_testkit.local_aws import LOCAL_ENV, load_template
from scaleahead_tools.demo import sam_local
from tests.conftest import NOW

FUNCTIONS = {"alarm": "AlarmFunction", "tick": "TickFunction", "worker": "WorkerFunction"}


def test_every_sample_event_is_invoked_by_its_own_function(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sam_local, "OUT", tmp_path)
    steps = sam_local.plan(int(NOW))
    assert sam_local.unplanned_events(steps) == []
    for function, path, _ in steps:
        assert FUNCTIONS[path.name.split("-")[0]] == function, path.name
    assert len({path.name for _, path, _ in steps}) == len(steps)  # each once


def test_the_containers_get_only_variables_the_template_declares() -> None:
    declared = set(load_template()["Globals"]["Function"]["Environment"]["Variables"])
    queue = "http://localhost:4599/123456789012/scaleahead-work"
    settings = Settings.from_env({**LOCAL_ENV, "WORK_QUEUE_URL": queue})
    world = sam_local.World("http://127.0.0.1:4599", settings, queue)
    env = sam_local.container_env(world, 4599)["Parameters"]
    # sam local invoke --env-vars silently ignores a variable the template does not declare
    assert set(env) <= declared, set(env) - declared
    assert env["AWS_ENDPOINT_URL"] == "http://host.docker.internal:4599"
    assert env["WORK_QUEUE_URL"].startswith("http://host.docker.internal:4599/")


def test_worker_events_are_stamped_fresh_and_the_malformed_item_stays_malformed(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(sam_local, "OUT", tmp_path)
    tick = int(NOW) + 86400
    event = json.loads(sam_local.stamped("worker-sqs-malformed.json", tick).read_text())
    good, bad = (r["body"] for r in event["Records"])
    assert parse_work(good) == {"target_id": "web", "tick": tick}
    # what the worker in the container sees: stamped with its present, so not refused as old
    assert parse_work(good, now=tick + 30) == {"target_id": "web", "tick": tick}
    assert (
        bad
        == json.loads((sam_local.EVENTS / "worker-sqs-malformed.json").read_text())["Records"][1][
            "body"
        ]
    )


def test_alarm_events_are_shifted_to_the_present_in_order(tmp_path, monkeypatch) -> None:
    """The alarm function refuses changes stamped over an hour ago: the copies are shifted as a
    whole, so ALARM still precedes OK, and the Lambda action's copy is 300 ms later (AWS's
    per-channel jitter) without becoming another change."""
    monkeypatch.setattr(sam_local, "OUT", tmp_path)
    tick = int(NOW) + 8 * 86400
    at = {}
    for name in ("alarm-eventbridge-alarm.json", "alarm-lambda-action.json", "alarm-sns.json"):
        [s] = parse_alarm_event(json.loads(sam_local.stamped(name, tick).read_text()))
        assert s.timestamp is not None and untrusted_time(s.timestamp, tick, "x") == ""
        # the account `sam local` runs the function in, and a load this world's target beats
        assert s.account == sam_local.SAM_LOCAL_ACCOUNT
        assert s.observed == 2 * sam_local.RECENT_LOAD
        at[name] = s.timestamp
    [ok] = parse_alarm_event(
        json.loads(sam_local.stamped("alarm-eventbridge-ok.json", tick).read_text())
    )
    assert ok.timestamp == tick - 10
    assert at["alarm-eventbridge-alarm.json"] == at["alarm-sns.json"] < ok.timestamp
    assert at["alarm-lambda-action.json"] - at["alarm-sns.json"] == pytest.approx(0.3)
