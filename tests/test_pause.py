"""The kill switch: `scaleahead pause/resume`, stored in DynamoDB and honoured by the worker and
the alarm function, which keep recording what they would have done."""

from __future__ import annotations

import json

import pytest

from scaleahead.domain.state import Pause
from scaleahead.service.worker import process_target
from scaleahead.store import ALL_TARGETS
from scaleahead_testkit.lambda_context import LocalContext
from scaleahead_tools.cli.main import main
from tests.conftest import NOW, Aws, make_target, target_dict
from tests.records import decision, tick_inputs
from tests.test_handlers import EVENTS, resolve_handler
from tests.test_worker import history, target


def _paused(aws: Aws, target_id: str) -> Pause:
    pause = aws.rt.store.pause_of(target_id)
    assert pause is not None, target_id
    return pause


def test_store_pauses_one_target_or_all_and_all_wins(aws: Aws) -> None:
    store = aws.rt.store
    assert store.pauses() == [] and store.pause_of("web") is None
    store.pause("web", "ana", "migration", NOW)
    assert _paused(aws, "web").describe() == "web paused by ana: migration"
    assert store.pause_of("api") is None
    store.pause(ALL_TARGETS, "bo", "incident 42", NOW + 1)
    assert _paused(aws, "api").describe() == "all targets paused by bo: incident 42"
    assert _paused(aws, "web").by == "bo"
    assert store.resume(ALL_TARGETS) and not store.resume(ALL_TARGETS)
    assert [p.target for p in store.pauses()] == ["web"]
    assert [t.id for t in store.list_targets()] == []  # pauses are not targets


def test_a_paused_worker_records_what_it_would_do_and_changes_nothing(aws: Aws) -> None:
    history(aws, 3)
    aws.apply(target(warmup_seconds=900))
    aws.rt.store.pause("web", "ana", "load test", NOW - 60)
    rec = decision(process_target(aws.rt, "web", NOW))
    assert rec.reason == "paused" and rec.executed is False
    assert rec.message.startswith("would scale out 4 -> ")
    assert "web paused by ana: load test" in rec.message
    assert tick_inputs(rec).paused == "web paused by ana: load test"
    assert aws.desired() == 4
    stored = aws.rt.store.decisions("web", limit=5)
    assert stored[0].reason == "paused"
    # Resumed: the next tick acts on the same plan.
    aws.rt.store.resume("web")
    rec = decision(process_target(aws.rt, "web", NOW + 60))
    assert rec.executed is True and aws.desired() >= 10


def test_a_paused_alarm_function_raises_no_capacity(aws: Aws) -> None:
    aws.put_load([(NOW - 60 * i, 150.0) for i in range(1, 20)])
    aws.apply(make_target())
    aws.rt.store.pause(ALL_TARGETS, "oncall", "", NOW - 60)
    alarm = json.loads((EVENTS / "alarm-eventbridge-alarm.json").read_text())
    out = resolve_handler("AlarmFunction")(alarm, LocalContext())
    assert aws.desired() == 4, out
    [rec] = aws.rt.store.decisions("web", limit=1)
    assert rec.source == "alarm" and rec.reason == "paused"
    assert "would scale out 4 -> 6" in rec.message and "all targets paused by oncall" in (
        rec.message
    )


def test_cli_pause_list_and_resume(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.apply(make_target())
    assert main(["pause", "web", "--reason", "deploy freeze", "--by", "ana"]) == 0
    assert "paused web" in capsys.readouterr().out
    assert _paused(aws, "web").reason == "deploy freeze"
    assert main(["--output", "json", "targets", "list"]) == 0
    capsys.readouterr()
    assert main(["targets", "list"]) == 0
    assert "ana" in capsys.readouterr().out
    assert main(["pause", "--all", "--by", "bo"]) == 0
    capsys.readouterr()
    assert main(["resume", "web"]) == 0
    out = capsys.readouterr().out
    assert "resumed web" in out and "warning: all targets paused by bo still holds" in out
    assert main(["pause", "web"]) == 0
    assert main(["resume", "--all"]) == 0
    assert aws.rt.store.pauses() == []
    assert "resumed every target" in capsys.readouterr().out
    assert main(["--output", "json", "resume", "web"]) == 0
    assert json.loads(capsys.readouterr().out) == {"resumed": [], "still_paused": []}


def test_cli_pause_refuses_what_it_cannot_do(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.apply(make_target(**{k: v for k, v in target_dict().items() if k == "id"}))
    assert main(["pause", "ghost"]) == 2
    assert "no target 'ghost'" in capsys.readouterr().err
    assert main(["pause"]) == 2
    assert main(["pause", "web", "--all"]) == 2
    assert "name one target or give --all" in capsys.readouterr().err
    assert aws.rt.store.pauses() == []
