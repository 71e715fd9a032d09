"""`scaleahead targets ...` against moto: validation, diff, dry run, alarms, prune."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from scaleahead.aws import clients
from scaleahead.domain.decision import Action, Reason
from scaleahead.domain.record import DecisionRecord, Source
from scaleahead.domain.target import TargetError
from scaleahead_tools.cli.main import main
from tests.conftest import Aws, make_target, target_dict


def write(tmp_path: Path, *targets: dict[str, Any]) -> str:
    p = tmp_path / "targets.yaml"
    p.write_text(yaml.safe_dump({"targets": list(targets)}))
    return str(p)


def alarms(aws: Aws) -> dict[str, float]:
    out = aws.cloudwatch.describe_alarms(AlarmNamePrefix="scaleahead-")["MetricAlarms"]
    return {a["AlarmName"]: a["Threshold"] for a in out}


def test_dry_run_shows_the_diff_and_writes_nothing(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write(tmp_path, target_dict())
    assert main(["targets", "apply", f, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "add" in out and "web" in out and "dry run" in out
    assert aws.rt.store.list_targets() == [] and alarms(aws) == {}


def test_apply_writes_the_target_and_its_alarm(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["targets", "apply", write(tmp_path, target_dict())]) == 0
    assert [t.id for t in aws.rt.store.list_targets()] == ["web"]
    # 4 tasks running x 100 per task
    assert alarms(aws) == {"scaleahead-web-high-load": 400.0}
    alarm = aws.cloudwatch.describe_alarms(AlarmNames=["scaleahead-web-high-load"])
    [m] = alarm["MetricAlarms"][0]["Metrics"]
    assert m["MetricStat"]["Metric"]["MetricName"] == "RequestCount"
    capsys.readouterr()
    # a change is shown field by field
    f = write(tmp_path, target_dict(max_capacity=30))
    assert main(["targets", "apply", f, "--dry-run"]) == 0
    assert "change web (max_capacity)" in capsys.readouterr().out


def test_prune_removes_the_target_and_its_alarm(aws: Aws, tmp_path: Path) -> None:
    aws.add_service("api", 2)
    api = target_dict(id="api", resource={"cluster": "prod", "service": "api"})
    assert main(["targets", "apply", write(tmp_path, target_dict(), api)]) == 0
    assert set(alarms(aws)) == {"scaleahead-web-high-load", "scaleahead-api-high-load"}
    assert main(["targets", "apply", write(tmp_path, target_dict()), "--prune"]) == 0
    assert [t.id for t in aws.rt.store.list_targets()] == ["web"]
    assert set(alarms(aws)) == {"scaleahead-web-high-load"}
    assert main(["targets", "remove", "web"]) == 0
    assert aws.rt.store.list_targets() == [] and alarms(aws) == {}


def test_list_as_json(aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["targets", "apply", write(tmp_path, target_dict())])
    capsys.readouterr()
    assert main(["--output", "json", "targets", "list"]) == 0
    [t] = json.loads(capsys.readouterr().out)
    assert t["id"] == "web" and t["load_metric"]["queries"][0]["Id"] == "load"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("targets: [{id: web}]", "targets.0.kind"),
        ("targets: [", "not valid YAML"),
    ],
)
def test_bad_files_exit_2_naming_the_problem(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, needle: str
) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(content)
    assert main(["targets", "apply", str(p)]) == 2
    assert needle in capsys.readouterr().err
    assert aws.rt.store.list_targets() == []


def test_a_missing_service_is_refused_before_anything_is_written(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = target_dict(resource={"cluster": "prod", "service": "nope"})
    assert main(["targets", "apply", write(tmp_path, bad)]) == 2
    assert "nope" in capsys.readouterr().err
    assert aws.rt.store.list_targets() == [] and alarms(aws) == {}


def test_decisions_read_back(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    record = DecisionRecord(
        Source.WORKER, Action.SCALE_OUT, True, Reason.PLAN, "scale out 2 -> 3: plan 3"
    )
    aws.rt.store.record_decision("web", 1000.0, record)
    assert main(["decisions", "web"]) == 0
    assert "scale out 2 -> 3" in capsys.readouterr().out


def test_output_json_is_accepted_after_the_command_too(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.apply(make_target())
    assert main(["--output", "json", "targets", "list"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert main(["targets", "list", "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == before and before[0]["id"] == "web"
    assert main(["pause", "web", "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["paused"] == "web"
    # the text default still holds when neither place says json
    assert main(["resume", "web"]) == 0
    assert capsys.readouterr().out.startswith("resumed web")


# -- all or nothing (issue 12, item 8) ----------------------------------------------------------


def _services(aws: Aws, *names: str) -> list[dict[str, Any]]:
    for name in names:
        aws.add_service(name, 2)
    return [target_dict(id=n, resource={"cluster": "prod", "service": n}) for n in names]


def _fail_nth_call(client: Any, event: str, n: int, code: str = "InternalFailure") -> list[int]:
    """Make the nth call of one API fail, at botocore's level, as AWS would refuse it."""
    calls: list[int] = []

    def refuse(**_: Any) -> None:
        calls.append(1)
        if len(calls) == n:
            op = event.rsplit(".", 1)[-1]
            raise ClientError({"Error": {"Code": code, "Message": "injected failure"}}, op)

    client.meta.events.register(f"before-call.{event}", refuse, unique_id="test-fail-nth")
    return calls


def _stop_failing(client: Any, event: str) -> None:
    client.meta.events.unregister(f"before-call.{event}", unique_id="test-fail-nth")


def test_every_missing_resource_is_named_before_anything_is_written(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _services(aws, "api")
    gone = [
        target_dict(id=f"gone-{i}", resource={"cluster": "prod", "service": f"gone-{i}"})
        for i in (1, 2)
    ]
    f = write(tmp_path, target_dict(), gone[0], *good, gone[1])
    for extra in (["--dry-run"], [], ["--prune"]):
        assert main(["targets", "apply", f, *extra]) == 2
        err = capsys.readouterr().err
        assert "2 targets cannot be applied; nothing was written" in err
        assert "target gone-1: resource: ECS service gone-1" in err
        assert "target gone-2: resource: ECS service gone-2" in err
    assert aws.rt.store.list_targets() == [] and alarms(aws) == {}


def test_a_definition_write_failing_midway_is_reported_and_a_rerun_finishes(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write(tmp_path, *_services(aws, "a", "b", "c"))
    ddb = clients.resource("dynamodb").meta.client
    calls = _fail_nth_call(ddb, "dynamodb.PutItem", 2)
    assert main(["targets", "apply", f]) == 1
    err = capsys.readouterr().err
    assert len(calls) == 2
    assert "for b failed" in err and "injected failure" in err
    assert "added a; alarm scaleahead-a-high-load" in err
    assert "b: alarm scaleahead-b-high-load written; definition NOT written" in err
    assert "not written: c" in err
    assert "run the same `scaleahead targets apply` again" in err
    # exactly what the report says: a complete, b's alarm only, c nothing
    assert [t.id for t in aws.rt.store.list_targets()] == ["a"]
    assert set(alarms(aws)) == {"scaleahead-a-high-load", "scaleahead-b-high-load"}
    _stop_failing(ddb, "dynamodb.PutItem")
    assert main(["targets", "apply", f, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "same a" in out and "add b" in out and "add c" in out
    assert main(["targets", "apply", f]) == 0
    assert [t.id for t in aws.rt.store.list_targets()] == ["a", "b", "c"]
    assert set(alarms(aws)) == {f"scaleahead-{x}-high-load" for x in "abc"}


def test_an_alarm_write_failing_leaves_no_definition_without_its_alarm(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write(tmp_path, *_services(aws, "a", "b", "c"))
    cw = clients.client("cloudwatch")
    _fail_nth_call(cw, "cloudwatch.PutMetricAlarm", 2)
    assert main(["targets", "apply", f]) == 1
    err = capsys.readouterr().err
    assert "writing the alarm for b failed" in err
    assert "b: nothing written; definition NOT written (not on record)" in err
    assert "not written: c" in err
    on_record = [t.id for t in aws.rt.store.list_targets()]
    assert on_record == ["a"]
    assert set(alarms(aws)) == {f"scaleahead-{t}-high-load" for t in on_record}
    _stop_failing(cw, "cloudwatch.PutMetricAlarm")
    assert main(["targets", "apply", f]) == 0
    assert len(alarms(aws)) == 3 and len(aws.rt.store.list_targets()) == 3


def test_a_change_failing_midway_keeps_the_previous_definition(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write(tmp_path, *_services(aws, "a", "b"))
    assert main(["targets", "apply", f]) == 0
    wider = [
        target_dict(id=n, resource={"cluster": "prod", "service": n}, max_capacity=30) for n in "ab"
    ]
    f = write(tmp_path, *wider)
    ddb = clients.resource("dynamodb").meta.client
    _fail_nth_call(ddb, "dynamodb.PutItem", 1)
    capsys.readouterr()
    assert main(["targets", "apply", f]) == 1
    err = capsys.readouterr().err
    assert "written: nothing" in err
    assert "a: alarm scaleahead-a-high-load written; definition NOT written (the previous" in err
    assert "not written: b" in err
    assert {t.id: t.max_capacity for t in aws.rt.store.list_targets()} == {"a": 20, "b": 20}
    _stop_failing(ddb, "dynamodb.PutItem")
    assert main(["targets", "apply", f]) == 0
    assert {t.id: t.max_capacity for t in aws.rt.store.list_targets()} == {"a": 30, "b": 30}


def test_a_removal_failing_midway_is_finished_by_rerunning(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write(tmp_path, target_dict(), *_services(aws, "x", "y"))
    assert main(["targets", "apply", f]) == 0
    ddb = clients.resource("dynamodb").meta.client
    _fail_nth_call(ddb, "dynamodb.DeleteItem", 1)
    only_web = write(tmp_path, target_dict())
    assert main(["targets", "apply", only_web, "--prune"]) == 1
    err = capsys.readouterr().err
    assert "deleting the definition for x failed" in err
    assert "unchanged web" in err
    assert "x: alarm deleted; still on record, its removal unfinished" in err
    assert "not removed: y" in err
    _stop_failing(ddb, "dynamodb.DeleteItem")
    assert main(["targets", "apply", only_web, "--prune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "remove x" in out and "remove y" in out
    # x's alarm is already gone, and AWS answers DeleteAlarms for it with ResourceNotFound
    # (moto does not): the rerun deletes what is left without tripping on it
    cw = clients.client("cloudwatch")
    gone = _fail_nth_call(cw, "cloudwatch.DeleteAlarms", 1, code="ResourceNotFound")
    assert main(["targets", "apply", only_web, "--prune"]) == 0
    assert len(gone) == 2
    _stop_failing(cw, "cloudwatch.DeleteAlarms")
    assert [t.id for t in aws.rt.store.list_targets()] == ["web"]
    assert set(alarms(aws)) == {"scaleahead-web-high-load"}


def test_apply_itself_looks_everything_up_before_writing(aws: Aws) -> None:
    """`targets.apply` (the demo's and the tests' entry) is all or nothing too."""
    from scaleahead_tools.cli import targets as tg

    defs = [make_target(id=f"t-{i}") for i in range(3)]
    defs.append(make_target(id="t-3", resource={"cluster": "prod", "service": "nope"}))
    with pytest.raises(TargetError, match="target t-3: resource: ECS service nope"):
        tg.apply(aws.rt, defs, tg.diff(aws.rt, defs, prune=False), aws.clock.t)
    assert aws.rt.store.list_targets() == [] and alarms(aws) == {}
