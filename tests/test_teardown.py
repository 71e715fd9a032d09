"""`scaleahead targets remove --all`: the teardown `sam delete` cannot do, since the alarms and
what `--take-over` suspended were never CloudFormation's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Aws, make_target, target_dict
from tests.test_cli import alarms, write
from tests.test_takeover import NONE_SUSPENDED, add_policy, register, run, suspended


def test_remove_all_removes_every_target_alarm_and_takeover(
    aws: Aws, aas: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.add_service("api", 2)
    rid, dim = "service/prod/web", "ecs:service:DesiredCount"
    register(aas, "ecs", rid, dim)
    add_policy(aas, "ecs", rid, dim, "cpu50", "ECSServiceAverageCPUUtilization")
    api = target_dict(id="api", resource={"cluster": "prod", "service": "api"})
    f = write(tmp_path, target_dict(), api)
    assert run(capsys, "targets", "apply", f, "--take-over")[0] == 0
    # an alarm whose definition was deleted by hand: a stray the teardown also finds
    ghost = make_target(id="ghost")
    aws.rt.metrics.put_high_load_alarm(ghost, aws.settings.alarm_prefix, 100.0)
    assert set(alarms(aws)) == {
        "scaleahead-web-high-load",
        "scaleahead-api-high-load",
        "scaleahead-ghost-high-load",
    }
    assert suspended(aas, "ecs", rid) != NONE_SUSPENDED

    rc, out, _ = run(capsys, "--output", "json", "targets", "remove", "--all")
    assert rc == 0
    report = json.loads(out)
    assert sorted(report["removed"]) == ["api", "web"]
    assert report["stray_alarms_deleted"] == ["scaleahead-ghost-high-load"]
    assert len(report["restored"]) == 1 and "service/prod/web" in report["restored"][0]
    assert aws.rt.store.list_targets() == [] and alarms(aws) == {}
    assert suspended(aas, "ecs", rid) == NONE_SUSPENDED
    assert aws.rt.store.get_takeover("web") is None
    # nothing left: a second teardown is a no-op, said plainly
    rc, out, _ = run(capsys, "targets", "remove", "--all")
    assert rc == 0 and "removed 0 target(s)" in out


def test_remove_takes_one_target_or_all(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "targets", "remove")
    assert rc == 2 and "name one target or give --all" in err
    rc, _, err = run(capsys, "targets", "remove", "web", "--all")
    assert rc == 2 and "name one target or give --all" in err
