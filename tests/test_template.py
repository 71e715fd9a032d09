"""Static checks of template.yaml, samconfig.toml and the layer's build files.

Each test states one rule of the deployment (least privilege, data safety, event filtering,
retries...) so that breaking the rule breaks a test. cfn-lint and ``sam validate --lint`` run as
subprocesses; everything else reads the template as data.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from scaleahead.domain.kinds import KINDS, Kind
from scaleahead.settings import MetricsLevel, Settings
from scaleahead_testkit import template_eval
from scaleahead_tools.demo import sam_local

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = ROOT / "template.yaml"
SAMCONFIG_PATH = ROOT / "samconfig.toml"
LAYER_DIR = ROOT / "layers" / "scaleahead"
PACKAGE_DIR = LAYER_DIR / "scaleahead"
BIN_DIR = Path(sys.executable).parent

SUBPROCESS_ENV = {
    **os.environ,
    "AWS_DEFAULT_REGION": "us-east-1",
    "SAM_CLI_TELEMETRY": "0",
}


def _load_template() -> dict[str, Any]:
    # The same loader the demo and the tests use to create the tables from the template.
    from scaleahead_testkit.local_aws import load_template

    return load_template(TEMPLATE_PATH)


TEMPLATE = _load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {
    name: res["Properties"]
    for name, res in RESOURCES.items()
    if res["Type"] == "AWS::Serverless::Function"
}
GLOBAL_ENV = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]


def _statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM statement anywhere in the template (role, queue, key policies...)."""
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield node
        for value in node.values():
            yield from _statements(value)
    elif isinstance(node, list):
        for item in node:
            yield from _statements(item)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _actions(statement: dict[str, Any]) -> list[str]:
    return [str(a) for a in _as_list(statement.get("Action", []))]


def _function_statements(name: str) -> list[dict[str, Any]]:
    return list(_statements(FUNCTIONS[name]["Policies"]))


def _grants(name: str, resource: Any) -> set[str]:
    """Actions function ``name`` is granted on exactly ``resource``."""
    return {
        action
        for st in _function_statements(name)
        if resource in _as_list(st["Resource"])
        for action in _actions(st)
    }


def _events(name: str, event_type: str) -> list[dict[str, Any]]:
    return [
        ev["Properties"]
        for ev in FUNCTIONS[name].get("Events", {}).values()
        if ev["Type"] == event_type
    ]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=ROOT, env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=300
    )


def _tool(name: str) -> str | None:
    local = BIN_DIR / name
    return str(local) if local.exists() else shutil.which(name)


SAM = _tool("sam")


# ------------------------------------------------------------------ linters


def test_template_parses() -> None:
    assert TEMPLATE["Transform"] == "AWS::Serverless-2016-10-31"
    assert set(FUNCTIONS) == {"AlarmFunction", "TickFunction", "WorkerFunction"}


def test_cfn_lint_reports_nothing() -> None:
    cfn_lint = _tool("cfn-lint")
    run_module = [sys.executable, "-c", "from cfnlint.runner import main; main()"]
    args = [cfn_lint] if cfn_lint else run_module
    out = _run([*args, str(TEMPLATE_PATH)])
    assert (out.returncode, out.stdout + out.stderr) == (0, "")


@pytest.fixture(scope="module")
def sam_validate() -> subprocess.CompletedProcess[str]:
    assert SAM is not None
    return _run([SAM, "validate", "--lint", "-t", str(TEMPLATE_PATH), "--region", "us-east-1"])


@pytest.mark.skipif(SAM is None, reason="aws-sam-cli is not installed")
def test_sam_validate_lint(sam_validate: subprocess.CompletedProcess[str]) -> None:
    assert sam_validate.returncode == 0, sam_validate.stdout + sam_validate.stderr
    assert "is a valid SAM Template" in sam_validate.stdout


# ------------------------------------------------------------------ functions and runtime


def test_runtime_is_set_only_in_globals() -> None:
    assert TEMPLATE["Globals"]["Function"]["Runtime"] == "python3.11"
    for name, res in RESOURCES.items():
        assert "Runtime" not in res.get("Properties", {}), name
    layer = RESOURCES["ScaleaheadLayer"]["Properties"]
    assert layer["CompatibleRuntimes"] == ["python3.11"]


def test_globals_share_layer_tracing_and_architecture() -> None:
    fn = TEMPLATE["Globals"]["Function"]
    assert fn["Layers"] == [{"Ref": "ScaleaheadLayer"}]
    assert fn["Architectures"] == ["x86_64"]
    # Only the worker adds a layer of its own (numpy): tests/test_layer_build.py.
    for name, props in FUNCTIONS.items():
        assert "Layers" not in props or name == "WorkerFunction", name


def function_config(name: str, **params: object) -> tuple[str, dict[str, str]]:
    """A function's tracing mode and environment at ``params`` (Globals merged as SAM does)."""
    values = template_eval.parameters(TEMPLATE, **params)
    tracing = template_eval.function_property(TEMPLATE, name, "Tracing", values)
    env = template_eval.function_environment(TEMPLATE, name, values, placeholder=str)
    names = ("METRICS_LEVEL", "POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_TRACE_DISABLED")
    return tracing, {k: env[k] for k in names}


@pytest.mark.parametrize(
    ("level", "traced"),
    [
        ("alarm", {"AlarmFunction"}),
        ("all", {"AlarmFunction", "TickFunction", "WorkerFunction"}),
        ("none", set()),
    ],
)
def test_tracing_parameter_picks_the_traced_functions(level: str, traced: set[str]) -> None:
    """X-Ray records every invocation of a function called once a minute: by default only the
    alarm path is traced, and an untraced function turns Powertools' tracer off (no SDK)."""
    assert TEMPLATE["Parameters"]["Tracing"]["Default"] == "alarm"
    for name in FUNCTIONS:
        mode, env = function_config(name, Tracing=level)
        on = name in traced
        assert mode == ("Active" if on else "PassThrough"), (name, level)
        assert env["POWERTOOLS_TRACE_DISABLED"] == ("false" if on else "true"), (name, level)


@pytest.mark.parametrize("level", ["none", "fleet", "per-target"])
def test_metrics_level_reaches_every_function(level: str) -> None:
    assert TEMPLATE["Parameters"]["MetricsLevel"]["Default"] == "fleet"
    assert set(TEMPLATE["Parameters"]["MetricsLevel"]["AllowedValues"]) == {
        m.value for m in MetricsLevel
    }
    for name in FUNCTIONS:
        _, env = function_config(name, MetricsLevel=level)
        assert Settings.from_env(env).metrics_level == MetricsLevel(level)
        # none: Powertools' own metrics (cold starts, work items) are off as well
        assert env["POWERTOOLS_METRICS_DISABLED"] == ("true" if level == "none" else "false")


def _names_handler(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "handler":
            return True
        if isinstance(node, ast.ImportFrom) and any(
            (alias.asname or alias.name) == "handler" for alias in node.names
        ):
            return True
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "handler" for t in node.targets
        ):
            return True
    return False


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_handler_resolves(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    props = FUNCTIONS[name]
    module_name, attr = props["Handler"].rsplit(".", 1)
    path = ROOT / props["CodeUri"] / f"{module_name.replace('.', '/')}.py"
    assert path.is_file(), path
    assert attr == "handler"
    assert _names_handler(path), f"{path} defines or imports no `handler`"

    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    spec = importlib.util.spec_from_file_location(f"_template_check_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as err:
        # The layer's handler modules may not be written yet: the file checks above must do.
        if (err.name or "").split(".")[0] != "scaleahead":
            raise
        return
    assert callable(getattr(module, attr))


def test_environment_covers_settings() -> None:
    """Every variable settings.py reads is set by the template, plus Powertools' own."""
    from scaleahead.settings import VARIABLES

    read = set(VARIABLES)
    assert read, "settings.py reads no variable: has its shape changed?"
    assert read <= set(GLOBAL_ENV)
    assert GLOBAL_ENV["POWERTOOLS_SERVICE_NAME"] == "scaleahead"
    assert GLOBAL_ENV["POWERTOOLS_METRICS_NAMESPACE"] == "Scaleahead"
    assert GLOBAL_ENV["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    assert GLOBAL_ENV["MODE"] == {"Ref": "Mode"}
    assert GLOBAL_ENV["AWS_ENDPOINT_URL"] == ""
    for name, props in FUNCTIONS.items():
        # declared once, in Globals; the alarm function only says whether it is traced
        own = set(props.get("Environment", {}).get("Variables", {}))
        assert own <= ({"POWERTOOLS_TRACE_DISABLED"} if name == "AlarmFunction" else set())


def test_tick_minutes_reaches_the_functions_and_the_settings() -> None:
    from scaleahead.settings import Settings

    assert GLOBAL_ENV["TICK_MINUTES"] == {"Ref": "TickMinutes"}
    assert Settings.from_env({"TICK_MINUTES": "5"}).tick_seconds == 300


# ------------------------------------------------------------------ IAM


def test_no_action_contains_a_wildcard() -> None:
    statements = list(_statements(TEMPLATE))
    assert len(statements) >= 10
    for st in statements:
        assert "NotAction" not in st, st
        for action in _actions(st):
            assert "*" not in action, st


def test_policies_are_explicit_statements_only() -> None:
    for name, props in FUNCTIONS.items():
        policies = props["Policies"]
        assert isinstance(policies, list) and policies, name
        for policy in policies:
            # No SAM policy templates or managed policy names: they grant more than needed.
            assert isinstance(policy, dict) and set(policy) <= {"Version", "Statement"}, name


# Actions without resource-level permissions: the only ones allowed on Resource "*" (the
# Service Authorization Reference lists no resource type for either).
UNSCOPED_ACTIONS = {"cloudwatch:GetMetricData", "autoscaling:DescribeAutoScalingGroups"}


def test_only_unscoped_actions_use_a_wildcard_resource() -> None:
    for name in FUNCTIONS:
        for st in _function_statements(name):
            if "*" in _as_list(st["Resource"]):
                assert set(_actions(st)) <= UNSCOPED_ACTIONS, (name, st)


def test_update_service_requires_the_managed_tag() -> None:
    found = 0
    for st in _statements(TEMPLATE):
        if "ecs:UpdateService" in _actions(st):
            found += 1
            assert st["Condition"]["StringEquals"]["aws:ResourceTag/scaleahead:managed"] == "true"
    assert found == 2  # AlarmFunction and WorkerFunction


STATE = {"Fn::GetAtt": ["StateTable", "Arn"]}
READS = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}
WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"}


def test_table_grants() -> None:
    assert _grants("AlarmFunction", STATE) == {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    }
    assert _grants("WorkerFunction", STATE) == {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    }
    assert _grants("TickFunction", STATE) == {"dynamodb:Query", "dynamodb:PutItem"}
    # No function deletes, scans or batch-writes: none of those has a partition to scope.
    for name in FUNCTIONS:
        assert _grants(name, STATE) <= READS | WRITES, name


def _store_constant(name: str) -> str:
    for node in ast.parse((PACKAGE_DIR / "store" / "keys.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            assert isinstance(node.value, ast.Constant)
            return str(node.value.value)
    raise AssertionError(f"scaleahead/store/keys.py defines no {name}")


def _key_prefixes(path: Path, function: str) -> set[str]:
    """The constant heads of the f-strings function (or property) ``function`` builds keys with:
    ``f"TARGET#{target_id}"`` -> ``TARGET#``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return {
                str(s.values[0].value)
                for s in ast.walk(node)
                if isinstance(s, ast.JoinedStr)
                and s.values
                and isinstance(s.values[0], ast.Constant)
            }
    raise AssertionError(f"{path.name} defines no {function}")


# The state table's partitions, from the code that writes them (scaleahead/store/keys.py; a shared
# forecast's key comes from forecast_key, defined once in domain/target_record.py).
TARGETS_PK = _store_constant("TARGETS_PK")
PAUSE_PK = _store_constant("PAUSE_PK")
EVENTS_PK = _store_constant("EVENTS_PK")
REJECTED_PK = _store_constant("REJECTED_PK")
[TARGET_PREFIX] = _key_prefixes(PACKAGE_DIR / "store" / "keys.py", "target_pk")
[DRIVER_PREFIX] = _key_prefixes(PACKAGE_DIR / "domain" / "target_record.py", "forecast_key") - {
    TARGET_PREFIX
}
# Written only by the CLI (an operator): no function may ever write them.
CLI_ONLY = (TARGETS_PK, PAUSE_PK, EVENTS_PK)


def _leading_keys(name: str) -> dict[str, set[str]]:
    """Action -> the partition-key patterns function ``name`` may use it on (the union over its
    statements on the state table). Every such statement must be scoped, and guarded."""
    scopes: dict[str, set[str]] = {}
    for st in _function_statements(name):
        if STATE not in _as_list(st["Resource"]):
            continue
        cond = st["Condition"]
        [(operator, keys)] = [(k, v) for k, v in cond.items() if k.startswith("ForAllValues:")]
        assert operator in ("ForAllValues:StringEquals", "ForAllValues:StringLike"), st
        # ForAllValues holds for a request without the key: the Null guard closes that.
        assert cond["Null"] == {"dynamodb:LeadingKeys": "false"}, st
        patterns = set(_as_list(keys["dynamodb:LeadingKeys"]))
        if operator.endswith("StringEquals"):
            assert not any(c in p for p in patterns for c in "*?"), st
        for action in _actions(st):
            scopes.setdefault(action, set()).update(patterns)
    return scopes


def _matches(patterns: set[str], key: str) -> bool:
    """IAM StringLike: ``*`` and ``?`` are the only wildcards (no [] classes in these)."""
    assert not any(c in p for p in patterns for c in "[]"), patterns
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def test_store_partitions_are_what_the_template_assumes() -> None:
    assert (TARGETS_PK, PAUSE_PK, EVENTS_PK, REJECTED_PK) == (
        "TARGET",
        "PAUSE",
        "EVENT",
        "REJECTED",
    )
    assert (TARGET_PREFIX, DRIVER_PREFIX) == ("TARGET#", "DRIVER#")


def test_tick_state_access_is_limited_to_its_partitions() -> None:
    """The tick queries target definitions and records rejected ones, nothing else."""
    assert _leading_keys("TickFunction") == {
        "dynamodb:Query": {TARGETS_PK},
        "dynamodb:PutItem": {REJECTED_PK},
    }


@pytest.mark.parametrize(
    ("name", "reads", "writes"),
    [
        (
            "AlarmFunction",
            {TARGETS_PK, TARGET_PREFIX + "*", PAUSE_PK},
            {TARGET_PREFIX + "*", REJECTED_PK},
        ),
        (
            "WorkerFunction",
            {TARGETS_PK, TARGET_PREFIX + "*", DRIVER_PREFIX + "*", PAUSE_PK, EVENTS_PK},
            {TARGET_PREFIX + "*", DRIVER_PREFIX + "*", REJECTED_PK},
        ),
    ],
)
def test_state_access_is_limited_to_the_partitions(
    name: str, reads: set[str], writes: set[str]
) -> None:
    scopes = _leading_keys(name)
    assert scopes, name
    for action, patterns in scopes.items():
        assert patterns == (writes if action in WRITES else reads), (name, action)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_no_function_writes_a_definition_a_pause_or_an_event(name: str) -> None:
    for action, patterns in _leading_keys(name).items():
        if action not in WRITES:
            continue
        for key in CLI_ONLY:
            assert not _matches(patterns, key), (name, action, key)
        # ...while the keys it does write still match: a target's state, a refused input.
        assert _matches(patterns, REJECTED_PK), (name, action)
        if name != "TickFunction":
            assert _matches(patterns, TARGET_PREFIX + "web-api"), (name, action)
    if name == "WorkerFunction":
        assert _matches(_leading_keys(name)["dynamodb:PutItem"], DRIVER_PREFIX + "front-door")
    else:
        assert not any(
            _matches(p, DRIVER_PREFIX + "front-door")
            for a, p in _leading_keys(name).items()
            if a in WRITES
        )


def test_service_and_metric_grants() -> None:
    service_arn = {
        "Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/*"
    }
    alarm_arn = {
        "Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}"
        ":alarm:${AlarmPrefix}*"
    }
    for name in ("AlarmFunction", "WorkerFunction"):
        assert _grants(name, service_arn) == {"ecs:DescribeServices", "ecs:UpdateService"}
        assert _grants(name, alarm_arn) == {"cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"}
    assert _grants("WorkerFunction", "*") == UNSCOPED_ACTIONS
    assert _grants("TickFunction", {"Fn::GetAtt": ["WorkQueue", "Arn"]}) == {"sqs:SendMessage"}
    tick_actions = {a for st in _function_statements("TickFunction") for a in _actions(st)}
    assert not {a for a in tick_actions if a.startswith(("ecs:", "cloudwatch:"))}


# ------------------------------------------------------------------ data


def test_state_table_is_protected() -> None:
    table = RESOURCES["StateTable"]
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
        "pk": "S",
        "sk": "S",
    }


# ------------------------------------------------------------------ events


def test_alarm_rule_pattern_is_restricted() -> None:
    [rule] = _events("AlarmFunction", "EventBridgeRule")
    assert rule["Pattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "account": [{"Ref": "AWS::AccountId"}],
        "region": [{"Ref": "AWS::Region"}],
        "detail": {"alarmName": [{"prefix": {"Ref": "AlarmPrefix"}}]},
    }
    assert rule["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert rule["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["EventDLQ", "Arn"]}


def test_alarm_function_entry_points() -> None:
    [sns] = _events("AlarmFunction", "SNS")
    assert sns["Topic"] == {"Ref": "AlarmTopic"}
    topic_key = RESOURCES["AlarmTopic"]["Properties"]["KmsMasterKeyId"]
    if topic_key != "alias/aws/sns":
        # A customer managed key is only worth its cost if CloudWatch alarms may publish with it.
        key = RESOURCES[topic_key["Ref"]]["Properties"]["KeyPolicy"]
        assert any(
            st["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
            and {"kms:Decrypt", "kms:GenerateDataKey"} <= set(_actions(st))
            for st in _statements(key)
        )
    [permission] = [
        r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::Lambda::Permission"
        and r["Properties"]["Principal"] == "lambda.alarms.cloudwatch.amazonaws.com"
    ]
    assert permission["FunctionName"] == {"Fn::GetAtt": ["AlarmFunction", "Arn"]}
    assert permission["SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}"
        ":alarm:${AlarmPrefix}*"
    }


def test_tick_schedule_and_retries() -> None:
    [schedule] = _events("TickFunction", "Schedule")
    assert TEMPLATE["Conditions"]["TickEveryMinute"] == {"Fn::Equals": [{"Ref": "TickMinutes"}, 1]}
    assert schedule["Schedule"] == {
        "Fn::If": [
            "TickEveryMinute",
            "rate(1 minute)",
            {"Fn::Sub": "rate(${TickMinutes} minutes)"},
        ]
    }
    assert schedule["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert schedule["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["EventDLQ", "Arn"]}


def test_async_failures_are_kept() -> None:
    for name in ("AlarmFunction", "TickFunction"):
        on_failure = FUNCTIONS[name]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
        assert on_failure == {"Type": "SQS", "Destination": {"Fn::GetAtt": ["EventDLQ", "Arn"]}}


def test_eventbridge_may_dead_letter_only_from_the_stack_rules() -> None:
    # SAM names an event's rule <Function><EventName>.
    rules = [
        {"Fn::GetAtt": [f"{fn}{event}", "Arn"]}
        for fn, props in FUNCTIONS.items()
        for event, ev in props.get("Events", {}).items()
        if "DeadLetterConfig" in ev["Properties"]
    ]
    assert len(rules) == 2
    [st] = _statements(RESOURCES["EventDLQPolicy"]["Properties"]["PolicyDocument"])
    assert st["Principal"] == {"Service": "events.amazonaws.com"}
    assert _actions(st) == ["sqs:SendMessage"]
    assert sorted(map(json.dumps, st["Condition"]["ArnEquals"]["aws:SourceArn"])) == sorted(
        map(json.dumps, rules)
    )


def test_worker_reports_batch_item_failures() -> None:
    [sqs] = _events("WorkerFunction", "SQS")
    assert sqs["Queue"] == {"Fn::GetAtt": ["WorkQueue", "Arn"]}
    assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert sqs["BatchSize"] == 10
    assert 0 < sqs["MaximumBatchingWindowInSeconds"] <= 5


# ------------------------------------------------------------------ queues and alarms


def test_work_queue_redrive_and_visibility() -> None:
    queue = RESOURCES["WorkQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["WorkDLQ", "Arn"]},
        "maxReceiveCount": 3,
    }
    [sqs] = _events("WorkerFunction", "SQS")
    worker_timeout = FUNCTIONS["WorkerFunction"].get(
        "Timeout", TEMPLATE["Globals"]["Function"]["Timeout"]
    )
    window = sqs["MaximumBatchingWindowInSeconds"]
    assert queue["VisibilityTimeout"] >= 6 * worker_timeout + window


def test_deliveries_give_up_before_their_stamp_is_refused_as_too_old() -> None:
    """scaleahead/domain/timing.py refuses input stamped more than MAX_AGE_SECONDS ago: every
    retry and redelivery must end first, so failing work reaches a dead-letter queue instead."""
    from scaleahead.domain.timing import MAX_AGE_SECONDS

    ages = [
        props["EventInvokeConfig"]["MaximumEventAgeInSeconds"]
        for props in FUNCTIONS.values()
        if "EventInvokeConfig" in props
    ]
    ages += [
        ev["Properties"]["RetryPolicy"]["MaximumEventAgeInSeconds"]
        for props in FUNCTIONS.values()
        for ev in props.get("Events", {}).values()
        if "RetryPolicy" in ev["Properties"]
    ]
    assert len(ages) == 4
    assert max(ages) < MAX_AGE_SECONDS
    queue = RESOURCES["WorkQueue"]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] * queue["VisibilityTimeout"] < MAX_AGE_SECONDS


def test_every_queue_is_encrypted() -> None:
    for name, res in RESOURCES.items():
        if res["Type"] == "AWS::SQS::Queue":
            assert res["Properties"].get("SqsManagedSseEnabled") is True, name


def test_every_dlq_has_an_alarm_outside_the_managed_prefix() -> None:
    prefix = TEMPLATE["Parameters"]["AlarmPrefix"]
    alarms = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    watched = {a["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for a in alarms}
    assert watched == {"WorkDLQ", "EventDLQ"}
    for alarm in alarms:
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert alarm["AlarmActions"] == {
            "Fn::If": ["HasAlertTopic", [{"Ref": "AlertTopicArn"}], {"Ref": "AWS::NoValue"}]
        }
        # The name starts with a capital letter, and AlarmPrefix may not: no prefix matches it.
        name = alarm["AlarmName"]["Fn::Sub"]
        assert name[0].isupper() and not name.startswith(prefix["Default"])
        assert re.fullmatch(prefix["AllowedPattern"], name[:3]) is None
    assert re.fullmatch(prefix["AllowedPattern"], prefix["Default"])
    assert re.fullmatch(prefix["AllowedPattern"], "Scaleahead-") is None


# ------------------------------------------------------------------ parameters and outputs


def test_parameters() -> None:
    params = TEMPLATE["Parameters"]
    assert params["Mode"]["AllowedValues"] == ["ForecastOnly", "ForecastAndScale"]
    assert params["Mode"]["Default"] == "ForecastOnly"
    assert params["LogLevel"]["AllowedValues"] == ["DEBUG", "INFO", "WARNING", "ERROR"]
    assert (params["TickMinutes"]["MinValue"], params["TickMinutes"]["MaxValue"]) == (1, 60)
    assert params["AlertTopicArn"]["Default"] == ""
    assert params["DecisionTtlDays"]["Default"] == 30
    assert params["LogRetentionDays"]["Type"] == "Number"
    assert params["AlarmReservedConcurrency"]["Type"] == "Number"
    grouped = {
        p
        for group in TEMPLATE["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        for p in group["Parameters"]
    }
    assert grouped == set(params)


def test_outputs() -> None:
    assert {
        "StateTableName",
        "WorkQueueUrl",
        "WorkDLQUrl",
        "AlarmTopicArn",
        "AlarmFunctionName",
        "TickFunctionName",
        "WorkerFunctionName",
    } <= set(TEMPLATE["Outputs"])
    assert "IdempotencyTableName" not in TEMPLATE["Outputs"]


def test_no_idempotency_table() -> None:
    """The alarm path deduplicates by the alarm episode in the state table: one table only."""
    tables = [n for n, r in RESOURCES.items() if r["Type"] == "AWS::DynamoDB::Table"]
    assert tables == ["StateTable"]
    assert "IDEMPOTENCY_TABLE" not in GLOBAL_ENV


# ------------------------------------------------------------------ hardening (issue 12)

ALARM_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}"
    ":alarm:${AlarmPrefix}*"
}
READER_ARN = {"Fn::Sub": "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*-sa-*"}
ACCOUNT = "111122223333"
STACK_VALUES = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": ACCOUNT,
    "AlarmPrefix": "scaleahead-",
}


def _resolve(value: Any) -> Any:
    """A Ref or Sub of the stack's pseudo parameters and AlarmPrefix, as deployed."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return STACK_VALUES[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return re.sub(r"\$\{([^}]+)\}", lambda m: STACK_VALUES[m.group(1)], value["Fn::Sub"])
    return value


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    """IAM evaluation of the operators the topic and key policies use. A key absent from the
    request makes a positive operator false and a negated one true."""
    for operator, keys in condition.items():
        for key, wanted in keys.items():
            patterns = [str(_resolve(w)) for w in _as_list(wanted)]
            value = context.get(key)
            if operator in ("StringEquals", "ArnEquals"):
                ok = value is not None and value in patterns
            elif operator in ("StringLike", "ArnLike"):
                ok = value is not None and _matches(set(patterns), value)
            elif operator == "StringNotEquals":
                ok = value is None or value not in patterns
            elif operator == "ArnNotLike":
                ok = value is None or not _matches(set(patterns), value)
            else:
                raise AssertionError(f"operator {operator} not modelled")
            if not ok:
                return False
    return True


def _may_publish(statements: list[dict[str, Any]], principal: Any, context: dict[str, str]) -> bool:
    """Whether sns:Publish is allowed by the topic policy alone (an explicit Deny wins)."""
    allowed = False
    for st in statements:
        if "sns:Publish" not in _actions(st):
            continue
        if st["Principal"] not in ("*", {"AWS": "*"}, principal):
            continue
        if _condition_holds(st.get("Condition", {}), context):
            if st["Effect"] == "Deny":
                return False
            allowed = True
    return allowed


def test_alarm_topic_admits_only_the_managed_alarms_of_this_account() -> None:
    [policy] = [
        r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::SNS::TopicPolicy"
        and {"Ref": "AlarmTopic"} in r["Properties"]["Topics"]
    ]
    statements = list(_statements(policy["PolicyDocument"]))
    cloudwatch = {"Service": "cloudwatch.amazonaws.com"}
    [allow] = [st for st in statements if st["Effect"] == "Allow"]
    assert allow["Principal"] == cloudwatch
    assert _actions(allow) == ["sns:Publish"]
    assert allow["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnLike": {"aws:SourceArn": ALARM_ARN},
    }
    [deny] = [st for st in statements if st["Effect"] == "Deny"]
    # Only publishing is denied: the account still administers the topic.
    assert deny["Principal"] == "*" and _actions(deny) == ["sns:Publish"]
    assert deny["Condition"] == {"ArnNotLike": {"aws:SourceArn": ALARM_ARN}}

    ours = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:scaleahead-web-high"
    alarm = {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": ours}
    assert _may_publish(statements, cloudwatch, alarm)
    # Another alarm of the account, an alarm of another account, a forged account.
    other = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:Scaleahead-stack-WorkDLQ-not-empty"
    assert not _may_publish(statements, cloudwatch, {**alarm, "aws:SourceArn": other})
    foreign = ours.replace(ACCOUNT, "444455556666")
    assert not _may_publish(
        statements, cloudwatch, {"aws:SourceAccount": "444455556666", "aws:SourceArn": foreign}
    )
    assert not _may_publish(statements, cloudwatch, {**alarm, "aws:SourceAccount": "444455556666"})
    # An IAM principal of the account (its request carries no source keys), even one an
    # identity policy grants sns:Publish on "*": the explicit Deny applies to it.
    admin = {"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"}
    assert _condition_holds(deny["Condition"], {})
    assert not _may_publish(
        [*statements, {**allow, "Principal": admin, "Condition": {}}], admin, {}
    )


def test_alarm_topic_key_serves_only_this_accounts_managed_alarms() -> None:
    key = RESOURCES["AlarmTopicKey"]["Properties"]["KeyPolicy"]
    [st] = [s for s in _statements(key) if s.get("Sid") == "CloudWatchAlarmsPublish"]
    assert st["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert st["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert st["Condition"]["ArnLike"] == {"aws:SourceArn": ALARM_ARN}
    # Every service principal the key admits is held to this account.
    for s in _statements(key):
        if "Service" in s["Principal"]:
            assert "aws:SourceAccount" in s["Condition"]["StringEquals"], s


def _rds_statements(action: str) -> list[dict[str, Any]]:
    return [
        st
        for name in ("AlarmFunction", "WorkerFunction")
        for st in _function_statements(name)
        if action in _actions(st)
    ]


def test_rds_tags_only_readers_being_created_under_scaleahead_names() -> None:
    """No tag-then-delete: RDS has no condition key for "this AddTagsToResource is part of a
    create", so tagging is held to scaleahead's reader names, where creation is."""
    tagging = _rds_statements("rds:AddTagsToResource")
    assert len(tagging) == 2  # AlarmFunction and WorkerFunction, the same statement
    assert tagging[0] == tagging[1]
    for st in tagging:
        assert _actions(st) == ["rds:AddTagsToResource"]
        assert _as_list(st["Resource"]) == [READER_ARN]
        assert st["Condition"]["StringEquals"] == {"aws:RequestTag/scaleahead:managed": "true"}
        assert set(st["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]) == {
            "scaleahead:managed",
            "scaleahead:target",
        }
    # Tags can be written only where an instance can be created with them...
    create_db = [
        st
        for st in _rds_statements("rds:CreateDBInstance")
        if any(":db:" in str(r) for r in _as_list(st["Resource"]))
    ]
    assert len(create_db) == 2
    for st in create_db:
        assert _as_list(st["Resource"]) == [READER_ARN]
        assert st["Condition"]["StringEquals"] == {"aws:RequestTag/scaleahead:managed": "true"}
    # ...and instances are deleted only there, and only carrying the tag.
    deleting = _rds_statements("rds:DeleteDBInstance")
    assert len(deleting) == 2
    for st in deleting:
        assert _actions(st) == ["rds:DeleteDBInstance"]
        assert _as_list(st["Resource"]) == [READER_ARN]
        assert st["Condition"]["StringEquals"] == {"aws:ResourceTag/scaleahead:managed": "true"}


@pytest.mark.parametrize(
    ("cluster", "target"),
    [
        ("orders", "orders-readers"),
        ("a" * 46, "t"),
        ("prod-db", "x" * 63),
        ("c" * 63, "readers"),
        ("c" * 63, "r" * 63),
    ],
)
def test_reader_ids_fit_the_iam_name_pattern(cluster: str, target: str) -> None:
    from scaleahead.aws.aurora import reader_id_base

    pattern = _resolve(READER_ARN).rsplit(":", 1)[1]
    ident = f"{reader_id_base(cluster, target)}-15"
    assert len(ident) <= 63
    assert _matches({pattern}, ident), ident


# The values CloudWatch Logs accepts for RetentionInDays.
LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827]
LOG_RETENTION_DAYS += [2192, 2557, 2922, 3288, 3653]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_logs_to_its_group_with_the_retention_parameter(name: str) -> None:
    param = TEMPLATE["Parameters"]["LogRetentionDays"]
    assert (param["Default"], param["AllowedValues"]) == (30, LOG_RETENTION_DAYS)
    ref = FUNCTIONS[name]["LoggingConfig"]["LogGroup"]
    group = RESOURCES[ref["Ref"]]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    # Named by the stack: naming it by the function would be a circular dependency.
    assert group["Properties"]["LogGroupName"] == {
        "Fn::Sub": "/aws/lambda/${AWS::StackName}/" + name
    }


def test_alarm_function_has_reserved_concurrency() -> None:
    params = TEMPLATE["Parameters"]
    assert FUNCTIONS["AlarmFunction"]["ReservedConcurrentExecutions"] == {
        "Ref": "AlarmReservedConcurrency"
    }
    assert (
        params["AlarmReservedConcurrency"]["Default"],
        params["AlarmReservedConcurrency"]["MinValue"],
    ) == (5, 1)
    # The worker is bounded by its event source instead: excess messages wait in the queue
    # rather than being throttled into retries and the dead-letter queue.
    assert "ReservedConcurrentExecutions" not in FUNCTIONS["WorkerFunction"]
    [sqs] = _events("WorkerFunction", "SQS")
    assert sqs["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "WorkerMaxConcurrency"}}
    assert params["WorkerMaxConcurrency"]["MinValue"] == 2  # the least SQS accepts


def _checkov_skips() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, skip)
        for name, res in RESOURCES.items()
        for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]


def test_checkov_runs_offline_in_make_test_with_every_skip_justified_in_place() -> None:
    makefile = (ROOT / "Makefile").read_text()
    [test_deps] = re.findall(r"^test:(.*)$", makefile, re.M)
    assert "checkov" in test_deps.split()
    [recipe] = re.findall(r"^checkov:.*\n((?:\t.*\n)+)", makefile, re.M)
    for flag in (
        "BC_SKIP_MAPPING=TRUE",
        "CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE",
        "--skip-download",
        "-f template.yaml",
        "--framework cloudformation",
    ):
        assert flag in recipe, flag
    # No global skip list, no soft failure, no config file to hide one in.
    for hidden in ("--skip-check", "--soft-fail", "--config-file", "--baseline"):
        assert hidden not in recipe, hidden
    assert not list(ROOT.glob(".checkov.y*ml"))
    skips = _checkov_skips()
    assert skips
    for name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (name, skip)
        assert len(skip.get("comment", "")) >= 40, (name, skip)


# ------------------------------------------------------------------ samconfig and layer build


def _overrides(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split())


def _check_overrides(overrides: dict[str, str]) -> None:
    params = TEMPLATE["Parameters"]
    for key, value in overrides.items():
        spec = params[key]
        if "AllowedValues" in spec:
            assert value in spec["AllowedValues"], key
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), key
        if spec["Type"] == "Number":
            assert spec.get("MinValue", -1e18) <= float(value) <= spec.get("MaxValue", 1e18), key


def test_samconfig_environments() -> None:
    config = tomllib.loads(SAMCONFIG_PATH.read_text())
    assert config["version"] == 0.1
    for env in ("default", "prod"):
        assert config[env]["build"]["parameters"] == {"cached": True, "parallel": True}
        deploy = config[env]["deploy"]["parameters"]
        assert deploy["capabilities"] == "CAPABILITY_IAM"
        assert deploy["region"] == "us-east-1"
        assert deploy["resolve_s3"] is True
        _check_overrides(_overrides(deploy["parameter_overrides"]))
    # make sam-local's containers reach the host's moto server by this name
    assert config["default"]["local_invoke"]["parameters"] == {
        "skip_pull_image": True,
        "add_host": [f"{sam_local.CONTAINER_HOST}:host-gateway"],
    }
    dev = _overrides(config["default"]["deploy"]["parameters"]["parameter_overrides"])
    assert (dev["Mode"], dev["LogLevel"]) == ("ForecastOnly", "DEBUG")
    prod = config["prod"]
    assert prod["global"]["parameters"]["stack_name"] == "scaleahead-prod"
    assert prod["deploy"]["parameters"]["confirm_changeset"] is True
    prod_overrides = _overrides(prod["deploy"]["parameters"]["parameter_overrides"])
    assert (prod_overrides["Mode"], prod_overrides["LogLevel"]) == ("ForecastAndScale", "INFO")
    # Two stacks in one account: neither alarm prefix may match the other's alarms.
    dev_prefix, prod_prefix = dev["AlarmPrefix"], prod_overrides["AlarmPrefix"]
    assert not dev_prefix.startswith(prod_prefix) and not prod_prefix.startswith(dev_prefix)


def test_layer_build_files() -> None:
    # The allow-lists, the lock and what each function carries: tests/test_layer_build.py.
    makefile = (LAYER_DIR / "Makefile").read_text()
    for name in ("ScaleaheadLayer", "NumpyLayer"):
        layer = RESOURCES[name]
        assert layer["Properties"]["ContentUri"] == "layers/scaleahead"
        assert layer["Metadata"]["BuildMethod"] == "makefile"
        assert re.search(rf"^build-{name}:", makefile, re.M)
    for flag in (
        "--platform manylinux2014_x86_64",
        "--only-binary=:all:",
        "--python-version 3.11",
        "--implementation cp",
        "--require-hashes",
        "SITE = $(ARTIFACTS_DIR)/python",
        "$(PACKAGE_FILES)",
        "__pycache__",
    ):
        assert flag in makefile, flag
    requirements = {
        re.split(r"[\[<>=;]", line, maxsplit=1)[0].strip().lower()
        for line in (LAYER_DIR / "requirements.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert requirements == {"aws-lambda-powertools", "numpy", "pydantic", "pydantic-settings"}


@pytest.mark.parametrize(
    "action",
    [
        "elasticache:ModifyReplicationGroupShardConfiguration",
        "elasticache:ModifyCacheCluster",
        "autoscaling:SetDesiredCapacity",
    ],
)
def test_capacity_changes_are_limited_to_tagged_resources(action: str) -> None:
    found = 0
    for name in FUNCTIONS:
        for st in _function_statements(name):
            if action in _actions(st):
                found += 1
                cond = st["Condition"]["StringEquals"]
                assert cond["aws:ResourceTag/scaleahead:managed"] == "true", name
    assert found == 2  # AlarmFunction and WorkerFunction


def _adapter_calls(kind: Kind) -> set[str]:
    """IAM actions for the boto3 calls a kind's adapter makes (``self._x.op(...)`` and
    ``get_paginator("op")``, ``op`` an operation of the spec's ``iam_service`` in botocore's
    model), read from its source so a new call cannot go ungranted. Module-level functions
    (``resource_arn``) run in the CLI under the operator's credentials and are not counted."""
    spec = KINDS[kind]
    source = Path(importlib.import_module(spec.adapter_module).__file__ or "").read_text()
    model = botocore.session.get_session().get_service_model(spec.iam_service)
    names = {xform_name(op): op for op in model.operation_names}
    ops: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        if not (isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name)):
            continue
        if owner.value.id != "self":
            continue
        op = node.func.attr
        if op == "get_paginator":
            arg = node.args[0]
            assert isinstance(arg, ast.Constant)
            op = str(arg.value)
        if op in names:
            ops.add(f"{spec.iam_service}:{names[op]}")
    return ops


def test_functions_are_granted_exactly_what_the_adapters_call() -> None:
    calls = {c for kind in Kind for c in _adapter_calls(kind)}
    assert "elasticache:ModifyReplicationGroupShardConfiguration" in calls
    assert "rds:CreateDBInstance" in calls  # botocore's own names, capitals kept
    # CreateDBInstance with Tags is also authorized as AddTagsToResource.
    needed = calls | {"rds:AddTagsToResource"}
    for name in ("AlarmFunction", "WorkerFunction"):
        granted = {
            a
            for st in _function_statements(name)
            for a in _actions(st)
            if a.split(":")[0] in {spec.iam_service for spec in KINDS.values()}
        }
        assert granted == needed, name
