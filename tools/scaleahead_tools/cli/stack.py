"""The deployed stack the CLI works on: its name (``--stack``, ``$SCALEAHEAD_STACK`` or
samconfig.toml) and the settings its CloudFormation outputs and parameters give.

``template.yaml`` publishes the state table (``StateTableName``) and the work queue
(``WorkQueueUrl``) as outputs; the mode, the alarm prefix, the tick and the decisions' lifetime
are parameters, which ``DescribeStacks`` returns beside the outputs. The CLI is a tool, not a
function, so it calls CloudFormation with boto3 directly.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from scaleahead.domain.mode import Mode
from scaleahead.settings import Settings

SAMCONFIG = "samconfig.toml"
# tools/scaleahead_tools/cli/stack.py -> the repository's root.
REPO_ROOT = Path(__file__).resolve().parents[3]
ENV_STACK = "SCALEAHEAD_STACK"


class ConfigError(Exception):
    """A configuration mistake (unknown stack, missing table, bad environment value): one line
    naming what was not found and what to do; the CLI exits 2 without a traceback."""


def samconfig_path(cwd: Path | None = None) -> Path | None:
    """samconfig.toml in the current directory, else in the repository's root; or None."""
    for base in (cwd or Path.cwd(), REPO_ROOT):
        path = base / SAMCONFIG
        if path.is_file():
            return path
    return None


def samconfig_default(path: Path | None) -> tuple[str | None, str | None]:
    """(stack name, region) of samconfig.toml's default environment: its global parameters,
    then its deploy parameters; (None, None) without a file or a name."""
    if path is None:
        return None, None
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"cannot read {path}: {err}; fix it, or pass --stack NAME") from None
    default = data.get("default", {})
    name = region = None
    for section in ("global", "deploy"):
        params = default.get(section, {}).get("parameters", {})
        name = name or params.get("stack_name")
        region = region or params.get("region")
    return (str(name) if name else None), (str(region) if region else None)


def stack_name(args: argparse.Namespace) -> tuple[str | None, str]:
    """(the stack to read, what named it). samconfig.toml's stack is the default only when no
    table is named otherwise (``--table``, ``$STATE_TABLE``). A stack from samconfig.toml
    brings its region when none is set."""
    if getattr(args, "stack", None):
        return str(args.stack), "--stack"
    if os.environ.get(ENV_STACK):
        return os.environ[ENV_STACK], f"${ENV_STACK}"
    if getattr(args, "table", None) or "STATE_TABLE" in os.environ:
        return None, ""
    path = samconfig_path()
    name, region = samconfig_default(path)
    if name is None:
        return None, ""
    if region and not (getattr(args, "region", None) or os.environ.get("AWS_DEFAULT_REGION")):
        os.environ["AWS_DEFAULT_REGION"] = region
    return name, str(path)


def describe(name: str, source: str) -> tuple[dict[str, Any], str]:
    """The stack as ``DescribeStacks`` gives it, and the region asked."""
    session = boto3.session.Session()
    region = session.region_name or "(none)"
    cfn = session.client("cloudformation")
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        text = str(err.response.get("Error", {}).get("Message", ""))
        if code == "ValidationError" and "does not exist" in text:
            raise ConfigError(
                f"stack {name!r} (from {source}) not found in region {region}: check the name "
                "(`aws cloudformation list-stacks`), pass --region or set AWS_DEFAULT_REGION, "
                "or name the table with --table"
            ) from None
        raise
    stack: dict[str, Any] = dict(stacks[0])
    return stack, region


def settings_from_stack(name: str, base: Settings, source: str = "--stack") -> Settings:
    """``base`` with the stack's table, queue, mode, alarm prefix, tick and decision lifetime."""
    stack, region = describe(name, source)
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    params = {
        p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", ""))
        for p in stack.get("Parameters", [])
    }
    table = outputs.get("StateTableName")
    if not table:
        status = stack.get("StackStatus", "?")
        raise ConfigError(
            f"stack {name!r} in region {region} ({status}) has no StateTableName output: is it "
            "a scaleahead stack (`sam deploy` of template.yaml)? Pass --stack NAME or --table"
        )
    settings = replace(base, state_table=table)
    if outputs.get("WorkQueueUrl"):
        settings = replace(settings, work_queue_url=outputs["WorkQueueUrl"])
    # A parameter not returned took the template's default.
    mode = params.get("Mode") or Mode.FORECAST_ONLY.value
    try:
        settings = replace(settings, mode=Mode(mode))
    except ValueError:
        raise ConfigError(
            f"stack {name!r} has Mode={mode!r}, which this CLI does not know "
            f"({', '.join(m.value for m in Mode)}): upgrade the CLI"
        ) from None
    if params.get("AlarmPrefix"):
        settings = replace(settings, alarm_prefix=params["AlarmPrefix"])
    tick = params.get("TickMinutes", "").strip()
    if tick.isdigit():
        settings = replace(settings, tick_seconds=60 * int(tick))
    ttl = params.get("DecisionTtlDays", "").strip()
    if ttl.isdigit():
        settings = replace(settings, decision_ttl_days=int(ttl))
    return settings
