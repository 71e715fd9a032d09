"""Stand up, on moto, the pieces of the stack that the handlers talk to.

The DynamoDB tables are created from ``template.yaml`` itself, not from a copy, so the demo,
the tests and ``make sam-local`` exercise exactly the keys, TTL and billing the deployed stack
has.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from scaleahead.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
REGION = "us-east-1"

# Logical id in the template -> the Settings field that names the table locally.
TABLES = {"StateTable": "state_table"}

LOCAL_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "STATE_TABLE": "scaleahead-state",
    "ALARM_PREFIX": "scaleahead-",
    "MODE": "ForecastAndScale",
    "TICK_MINUTES": "1",
    "POWERTOOLS_SERVICE_NAME": "scaleahead",
    "POWERTOOLS_METRICS_NAMESPACE": "Scaleahead",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
}


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that keeps CloudFormation short-form tags (!Ref, !Sub...) as plain dicts."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if name == "Fn::GetAtt" and isinstance(value, str):
        value = value.split(".", 1)  # the long form: [LogicalId, Attribute]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open() as fh:
        data: dict[str, Any] = yaml.load(fh, Loader=_CfnLoader)
    return data


def table_definitions(path: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    resources = load_template(path)["Resources"]
    return {
        name: res["Properties"]
        for name, res in resources.items()
        if res.get("Type") == "AWS::DynamoDB::Table"
    }


def create_tables(dynamodb: Any, settings: Settings, path: Path = TEMPLATE) -> list[str]:
    """Create every table the template defines, under the names the settings give them."""
    created = []
    for logical, props in table_definitions(path).items():
        if logical not in TABLES:
            raise KeyError(f"template table {logical} has no local name in TABLES")
        name = getattr(settings, TABLES[logical])
        dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
            SSESpecification={"Enabled": bool(props.get("SSESpecification", {}).get("SSEEnabled"))},
        )
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        created.append(name)
    return created


@contextmanager
def local_env(extra: dict[str, str] | None = None) -> Iterator[dict[str, str]]:
    """Set the variables the functions read (and fake credentials) for the duration."""
    env = {**LOCAL_ENV, **(extra or {})}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def create_ecs(ecs: Any, cluster: str, services: dict[str, int], *, tagged: bool = True) -> None:
    """An ECS cluster with one nginx task definition and ``services`` (name -> desired count),
    tagged ``scaleahead:managed=true`` unless ``tagged`` is False."""
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(
        family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 512}]
    )
    for name, desired in services.items():
        ecs.create_service(
            cluster=cluster,
            serviceName=name,
            taskDefinition="web",
            desiredCount=desired,
            tags=[{"key": "scaleahead:managed", "value": "true"}] if tagged else [],
        )


def put_series(
    cloudwatch: Any,
    namespace: str,
    metric: str,
    dimensions: list[dict[str, str]],
    points: Sequence[tuple[float, float]],
) -> None:
    """PutMetricData in the API's batches of 1,000 datapoints."""
    for i in range(0, len(points), 1000):
        cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": dimensions,
                    "Timestamp": datetime.fromtimestamp(t, UTC),
                    "Value": float(v),
                }
                for t, v in points[i : i + 1000]
            ],
        )
