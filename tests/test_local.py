"""`scaleahead local`: the real template deployed into a moto server through moto's
CloudFormation, and a user's first day walked through the CLI against it, by `--stack` alone.

The server is the one `scaleahead local` starts (127.0.0.1, a free port); the CLI reaches it
over HTTP with the `export` lines the command prints, as a second shell would.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient

from scaleahead.aws import clients
from scaleahead.handlers import common
from scaleahead_testkit import moto_cfn
from scaleahead_tools.cli.main import main
from scaleahead_tools.local import run as local_run
from scaleahead_tools.local.run import Local
from scaleahead_tools.local.sample import CLUSTER, POLICY, SERVICE

# Enough history for the worker to fit a forecast (it needs 24 h), and little more: moto's
# CloudWatch is slow.
DAYS = 1.1
TARGETS = "examples/targets.yaml"
STACK_VARIABLES = ("STATE_TABLE", "ALARM_PREFIX", "MODE", "WORK_QUEUE_URL", "TICK_MINUTES")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reset(endpoint: str) -> None:
    """Whatever earlier tests left in moto's in-process backends, which the server shares."""
    req = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=10):
        pass


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    port = _free_port()
    log = tmp_path_factory.mktemp("local") / "functions.log"
    with local_run.start(port, days=DAYS, log_path=log) as running:
        yield running
        _reset(running.endpoint)
    clients.reset()
    common.reset()


@pytest.fixture
def shell(local: Local, monkeypatch: pytest.MonkeyPatch) -> Local:
    """A second shell after the printed `export` lines: nothing else about the stack."""
    for k in STACK_VARIABLES:
        monkeypatch.delenv(k, raising=False)
    for k, v in local.client_env.items():
        monkeypatch.setenv(k, v)
    clients.reset()
    common.reset()
    return local


# Every AWS action the CLI called in this module, as IAM names it ("ecs:DescribeServices").
CLI_ACTIONS: set[str] = set()


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    original: Any = BaseClient.__dict__["_make_api_call"]  # not in the stubs

    def recorded(self: Any, operation: str, params: Any) -> Any:
        CLI_ACTIONS.add(f"{self.meta.service_model.service_name}:{operation}")
        return original(self, operation, params)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BaseClient, "_make_api_call", recorded)
        rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_the_template_is_created_through_moto_cloudformation(local: Local) -> None:
    d = local.deployed
    cfn = local.client("cloudformation")
    stack = cfn.describe_stacks(StackName=d.stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"] for o in stack["Outputs"]}
    assert {"StateTableName", "WorkQueueUrl", "AlarmTopicArn", "DashboardUrl"} <= outputs
    # The transform made the functions, the schedule and the queue mapping.
    assert d.resource_types["AWS::Lambda::Function"] == 3
    assert d.resource_types["AWS::Events::Rule"] == 2
    # What moto lacks is named, and every one of those is created, none left out.
    assert d.supplied == moto_cfn.lacking(set(d.resource_types))
    assert "AWS::CloudWatch::Alarm" in d.supplied
    assert d.skipped == []
    alarms = local.client("cloudwatch").describe_alarms(AlarmNamePrefix="Scaleahead-")
    assert {a["AlarmName"] for a in alarms["MetricAlarms"]} == {
        f"Scaleahead-{d.stack_name}-WorkDLQ-not-empty",
        f"Scaleahead-{d.stack_name}-EventDLQ-not-empty",
    }
    policy = local.client("sqs").get_queue_attributes(
        QueueUrl=d.outputs["EventDLQUrl"], AttributeNames=["Policy"]
    )["Attributes"]["Policy"]
    assert json.loads(policy)["Statement"]
    subs = local.client("sns").list_subscriptions_by_topic(TopicArn=d.outputs["AlarmTopicArn"])
    assert [s["Protocol"] for s in subs["Subscriptions"]] == ["lambda"]
    table = local.client("dynamodb").describe_table(TableName=d.outputs["StateTableName"])
    assert table["Table"]["TableStatus"] == "ACTIVE"
    # moto would run the worker in Docker on each message: the mapping is off, this polls.
    mappings = local.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert [m["State"] for m in mappings] == ["Disabled"]


def test_a_first_day_through_the_cli_by_stack_alone(
    shell: Local, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    aas = shell.client("application-autoscaling")
    rid = f"service/{CLUSTER}/{SERVICE}"

    rc, out, _ = cli(capsys, "targets", "list")
    assert rc == 0
    assert out.startswith(f"no targets in {shell.deployed.outputs['StateTableName']} yet")

    # The sample is as a team would find it: untagged, and driven by a scaling policy.
    rc, _, err = cli(capsys, "targets", "apply", TARGETS)
    assert rc == 2
    assert "lacks the tag scaleahead:managed=true" in err
    assert POLICY in err

    rc, out, err = cli(capsys, "targets", "apply", TARGETS, "--tag", "--take-over")
    assert rc == 0, err
    assert "suspended Application Auto Scaling" in out
    [st] = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])[
        "ScalableTargets"
    ]
    assert st["SuspendedState"]["DynamicScalingOutSuspended"] is True

    # The stack's functions, run as the schedule runs them, record a ForecastOnly decision.
    assert shell.tick() == 1
    rc, out, err = cli(capsys, "status", "--output", "json")
    assert rc == 0, err
    [row] = json.loads(out)
    assert row["target"] == "web"
    assert row["mode"] == "ForecastOnly"

    rc, out, _ = cli(capsys, "decisions", "web", "--output", "json")
    assert rc == 0
    [decision] = json.loads(out)
    assert decision["executed"] is False
    assert decision["inputs"]["mode"] == "ForecastOnly"
    # More than a day of history: the forecast was fitted, not reactive-only.
    assert decision["inputs"]["forecast_now"] > 0
    assert decision["at"].endswith("Z") or "+00:00" in decision["at"]  # ISO 8601

    rc, _, err = cli(capsys, "decisions", "wbe")
    assert rc == 2
    assert "did you mean 'web'?" in err

    rc, out, err = cli(capsys, "report", "--since", "1h", "--output", "json")
    assert rc == 0, err
    assert [r["target"] for r in json.loads(out)["targets"]] == ["web"]

    # The sample's own history: Container Insights' task count gives the load per task; the
    # settled steps hold what its target tracking policy keeps (0.75 x 600 = 450 per task).
    rc, out, err = cli(capsys, "suggest", "web", "--days", "2", "--output", "json")
    assert rc == 0, err
    advice = json.loads(out)["capacity_per_unit"]
    assert advice["running_steps"]["Container Insights"] > 1000
    assert advice["settled_only"] is True
    assert 400 < advice["suggested"] < 540

    rc, out, err = cli(
        capsys, "backtest", "--from-target", "web", "--days", "1", "--out", str(tmp_path)
    )
    assert rc == 0, err
    assert json.loads((tmp_path / "summary.json").read_text())["trace"].startswith("web")

    # Teardown gives the service back to its scaling policy.
    rc, out, err = cli(capsys, "targets", "remove", "--all")
    assert rc == 0, err
    [st] = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])[
        "ScalableTargets"
    ]
    assert st["SuspendedState"]["DynamicScalingOutSuspended"] is False
    alarms = shell.client("cloudwatch").describe_alarms(AlarmNamePrefix="scaleahead-")
    assert alarms["MetricAlarms"] == []


def test_a_wrong_stack_name_is_one_line(
    shell: Local, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rc, out, err = cli(capsys, "--stack", "nope", "targets", "list")
    assert rc == 2
    assert out == ""
    assert "nope" in err
    assert len(err.strip().splitlines()) == 1


def test_the_operator_policy_allows_every_call_the_cli_made(local: Local) -> None:
    """The stack's OperatorPolicyArn output, read back from IAM, grants each action the CLI
    called above (the walk through a first day and a wrong --stack)."""
    assert len(CLI_ACTIONS) > 10, CLI_ACTIONS  # the walk above ran first
    iam = local.client("iam")
    arn = local.deployed.outputs["OperatorPolicyArn"]
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    doc = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    allowed = {
        a
        for st in doc["Statement"]
        for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    assert sorted(CLI_ACTIONS - allowed) == []


def test_deleting_the_stack_deletes_what_was_supplied(local: Local) -> None:
    """Last: the stack is gone afterwards. The DLQ alarms moto's CloudFormation could not
    create go with the stack, as in AWS; the table stays (DeletionPolicy: Retain)."""
    cfn: Any = local.client("cloudformation")
    cfn.delete_stack(StackName=local.deployed.stack_name)
    alarms = local.client("cloudwatch").describe_alarms(AlarmNamePrefix="Scaleahead-")
    assert alarms["MetricAlarms"] == []
    tables = local.client("dynamodb").list_tables()["TableNames"]
    assert local.deployed.outputs["StateTableName"] in tables
