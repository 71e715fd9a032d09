"""The CLI finds its stack (``--stack``, ``$SCALEAHEAD_STACK``, samconfig.toml) through moto's
CloudFormation, and says in one line what is wrong when it cannot: stack, table, environment,
target names (exit 2, "did you mean"); ``--output json`` everywhere, times in ISO 8601."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import boto3
import pytest

from scaleahead.domain.mode import Mode
from scaleahead_testkit.local_aws import create_tables, load_template
from scaleahead_tools.cli.common import STACK_DEFAULT_MODE, iso, with_iso_times
from scaleahead_tools.cli.main import main
from tests.conftest import Aws, target_dict
from tests.test_cli import write

TABLE = "scaleahead-dev-StateTable-1X2Y3Z"


def make_stack(aws: Aws, name: str = "scaleahead-dev", **params: str) -> None:
    """A stack with the real template's outputs and parameters that the CLI reads: its table
    (created under the generated name), its queue; Mode and AlarmPrefix as parameters."""
    create_tables(aws.dynamodb, replace(aws.settings, state_table=TABLE))
    body = {
        "Parameters": {
            "Mode": {"Type": "String", "Default": "ForecastOnly"},
            "AlarmPrefix": {"Type": "String", "Default": "scaleahead-"},
        },
        "Resources": {"WorkQueue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "StateTableName": {"Value": TABLE},
            "WorkQueueUrl": {"Value": {"Ref": "WorkQueue"}},
        },
    }
    boto3.client("cloudformation").create_stack(
        StackName=name,
        TemplateBody=json.dumps(body),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    rc, out, err = run(capsys, *argv, "--output", "json")
    assert rc == 0, err
    return json.loads(out)


# -- 1. the CLI finds its stack ----------------------------------------------------------------


def test_stack_gives_the_table_prefix_and_mode(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich's table, not cut
    make_stack(aws, AlarmPrefix="dev-sa-")
    f = write(tmp_path, target_dict())
    # The environment says ForecastAndScale and table scaleahead-state: the stack wins.
    applied = run_json(capsys, "--stack", "scaleahead-dev", "targets", "apply", f)
    assert applied["dry_run"] is False
    assert applied["changes"] == [{"target_id": "web", "kind": "add", "fields": []}]
    assert applied["done"][0].startswith("added web; alarm dev-sa-web")
    assert aws.rt.store.list_targets() == []  # nothing in the environment's table
    names = [a["AlarmName"] for a in aws.cloudwatch.describe_alarms()["MetricAlarms"]]
    assert names == ["dev-sa-web-high-load"]  # the stack's AlarmPrefix
    [row] = run_json(capsys, "status", "--stack", "scaleahead-dev")
    assert row["target"] == "web" and row["mode"] == "ForecastOnly"
    rc, out, _ = run(capsys, "--stack", "scaleahead-dev", "targets", "list")
    assert rc == 0 and "ForecastOnly" in out and "ForecastAndScale" not in out


def test_the_stack_mode_parameter_is_shown(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_stack(aws, "scaleahead-prod", Mode="ForecastAndScale")
    monkeypatch.setenv("MODE", "ForecastOnly")
    monkeypatch.setenv("SCALEAHEAD_STACK", "scaleahead-prod")
    assert main(["targets", "apply", write(tmp_path, target_dict())]) == 0
    capsys.readouterr()
    [row] = run_json(capsys, "status")
    assert row["mode"] == "ForecastAndScale"


def test_explicit_table_wins_over_the_stack(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_stack(aws)
    f = write(tmp_path, target_dict())
    assert (
        main(["targets", "apply", f, "--stack", "scaleahead-dev", "--table", "scaleahead-state"])
        == 0
    )
    assert [t.id for t in aws.rt.store.list_targets()] == ["web"]


def test_samconfig_names_the_default_stack(
    aws: Aws,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_stack(aws, "from-samconfig")
    (tmp_path / "samconfig.toml").write_text(
        'version = 0.1\n[default.global.parameters]\nstack_name = "from-samconfig"\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STATE_TABLE")
    assert run_json(capsys, "targets", "list") == []
    rc, _, err = run(capsys, "decisions", "web")
    # The stack's table was read: no target there.
    assert rc == 2 and err.strip() == "error: no target 'web'; `scaleahead targets list` shows them"


def test_without_mode_or_stack_the_stack_default_is_shown(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert load_template()["Parameters"]["Mode"]["Default"] == STACK_DEFAULT_MODE.value
    assert main(["targets", "apply", write(tmp_path, target_dict())]) == 0
    monkeypatch.delenv("MODE")
    capsys.readouterr()
    [row] = run_json(capsys, "status")
    assert row["mode"] == Mode.FORECAST_ONLY.value
    rc, out, _ = run(capsys, "targets", "list")
    assert rc == 0 and "ForecastOnly" in out and "ForecastAndScale" not in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"scaleahead {version('scaleahead')}"


# -- 2. errors a person can act on -------------------------------------------------------------


def test_an_unknown_stack_is_one_line(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "--stack", "nope", "status")
    assert rc == 2 and out == ""
    assert err == (
        "error: stack 'nope' (from --stack) not found in region us-east-1: check the name "
        "(`aws cloudformation list-stacks`), pass --region or set AWS_DEFAULT_REGION, or name "
        "the table with --table\n"
    )


def test_region_flag_is_used(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    make_stack(aws)
    rc, _, err = run(capsys, "--stack", "scaleahead-dev", "--region", "eu-west-1", "status")
    assert rc == 2 and "not found in region eu-west-1" in err
    # Put back: the next command is in the environment's region again.
    assert run_json(capsys, "--stack", "scaleahead-dev", "status") == []


def test_a_missing_table_is_one_line(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "--table", "nope", "status")
    assert rc == 2 and out == ""
    assert err == (
        "error: table 'nope' not found in region us-east-1: pass --stack or --table (or "
        "--region / AWS_DEFAULT_REGION if the stack is in another region)\n"
    )


def test_an_unknown_profile_is_one_line(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "--profile", "no-such-profile", "status")
    assert rc == 2 and len(err.splitlines()) == 1
    assert "no-such-profile" in err and "--profile" in err


@pytest.mark.parametrize(("variable", "value"), [("MODE", "forecastonly"), ("TICK_MINUTES", "5m")])
def test_a_bad_environment_value_is_one_line(
    aws: Aws,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    rc, _, err = run(capsys, "status")
    assert rc == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("error: invalid environment: ") and f"{variable}={value!r}" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["decisions", "wbe"],
        ["explain", "wbe"],
        ["status", "wbe"],
        ["forecast", "wbe", "--output", "json"],
        ["events", "list", "wbe"],
        ["events", "remove", "wbe", "sale"],
        ["events", "add", "wbe", "--start", "+1h", "--end", "+2h", "--min", "3"],
        ["targets", "remove", "wbe"],
        ["pause", "wbe"],
    ],
)
def test_an_unknown_target_exits_2_with_did_you_mean(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main(["targets", "apply", write(tmp_path, target_dict())]) == 0
    capsys.readouterr()
    rc, _, err = run(capsys, *argv)
    assert rc == 2
    assert (
        err == "error: no target 'wbe'; did you mean 'web'? `scaleahead targets list` shows them\n"
    )


def test_targets_remove_as_json(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write(tmp_path, target_dict())
    assert run_json(capsys, "targets", "apply", f, "--dry-run") == {
        "dry_run": True,
        "changes": [{"target_id": "web", "kind": "add", "fields": []}],
        "done": [],
    }
    assert main(["targets", "apply", f]) == 0
    capsys.readouterr()
    assert run_json(capsys, "targets", "remove", "web") == {"removed": "web", "alarm_deleted": True}
    assert aws.rt.store.list_targets() == []


def test_json_times_are_iso_8601() -> None:
    assert iso(1796532000.0) == "2026-12-06T04:40:00Z"
    assert iso(1796532000.25) == "2026-12-06T04:40:00.250000Z"
    data = {
        "at": 1796532000.0,
        "last_action_at": 1796532000,
        "points": [{"t": 1796532000.0, "load": 1796532000.0}],
        "start": 5,  # not an epoch time (a count under a time key)
        "flag": True,
    }
    assert with_iso_times(data) == {
        "at": "2026-12-06T04:40:00Z",
        "last_action_at": "2026-12-06T04:40:00Z",
        "points": [{"t": "2026-12-06T04:40:00Z", "load": 1796532000.0}],
        "start": 5,
        "flag": True,
    }


def test_decisions_json_times(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    from scaleahead.domain.decision import Action, Reason
    from scaleahead.domain.record import DecisionRecord, Source

    record = DecisionRecord(Source.WORKER, Action.SCALE_OUT, True, Reason.PLAN, "scale out")
    aws.rt.store.record_decision("web", 1796532000.0, record)
    [row] = run_json(capsys, "decisions", "web")
    assert row["at"] == "2026-12-06T04:40:00Z"
