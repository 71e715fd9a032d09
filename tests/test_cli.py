"""`scaleahead targets ...` against moto: validation, diff, dry run, alarms, prune."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaleahead.cli.main import main
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
    aws.rt.store.record_decision(
        "web", 1000.0, {"source": "worker", "reason": "plan", "message": "scale out 2 -> 3: plan 3"}
    )
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
