"""Shared fixtures: moto standing in for AWS, set up exactly as the stack and the demo do."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

from scaleahead import clock
from scaleahead.domain.target import EcsTarget, Target, parse_targets
from scaleahead.handlers import common
from scaleahead.service.runtime import Runtime
from scaleahead.settings import Settings
from scaleahead.store import Store
from scaleahead_testkit import moto_extensions
from scaleahead_testkit.local_aws import LOCAL_ENV, create_ecs, local_env, put_series
from scaleahead_testkit.stack_tables import stand_up
from tests.faults import faults  # noqa: F401  (a fixture every test may ask for)

# 2026-11-27 12:05:00 UTC: the time of the sample events in events/.
NOW = 1795781100.0
NAMESPACE = "AWS/ApplicationELB"
METRIC = "RequestCount"
DIMENSIONS = [{"Name": "LoadBalancer", "Value": "app/web/0123456789abcdef"}]

os.environ.update({k: v for k, v in LOCAL_ENV.items() if k.startswith("AWS_")})
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


@pytest.fixture(autouse=True)
def _no_metrics_carried_over() -> Iterator[None]:
    """With metrics disabled Powertools keeps what it never flushed, and past 100 entries of a
    name it serialises them, which needs the namespace the Lambda environment sets: in one long
    test process that would fail an unrelated test. Each test starts from none."""
    common.metrics.clear_metrics()
    yield
    common.metrics.clear_metrics()


@pytest.fixture(autouse=True, scope="session")
def _one_botocore_loader() -> Iterator[None]:
    """Every boto3 session of the suite reads the same parsed service models.

    The runtime makes its clients from a new session each (as a cold start does), and each
    session would parse the DynamoDB, ECS, RDS, ElastiCache, CloudWatch and SQS models again:
    most of a moto test's set-up time. Sharing the loader changes nothing else."""
    loader = botocore.loaders.create_loader()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(botocore.session, "create_loader", lambda search_path_string=None: loader)
        yield


def target_dict(**over: Any) -> dict[str, Any]:
    t: dict[str, Any] = {
        "id": "web",
        "kind": "ecs",
        "resource": {"cluster": "prod", "service": "web"},
        "min_capacity": 2,
        "max_capacity": 20,
        "capacity_per_unit": 100.0,
        "scale_in_stabilisation_seconds": 600,
        "load_metric": {
            "period_seconds": 60,
            "queries": [
                {
                    "Id": "load",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": NAMESPACE,
                            "MetricName": METRIC,
                            "Dimensions": DIMENSIONS,
                        },
                        "Stat": "Sum",
                    },
                }
            ],
        },
    }
    t.update(over)
    return t


def make_target(**over: Any) -> EcsTarget:
    target = parse_targets({"targets": [target_dict(**over)]})[0]
    assert isinstance(target, EcsTarget)
    return target


class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class Aws:
    ecs: Any
    cloudwatch: Any
    sqs: Any
    dynamodb: Any
    queue_url: str
    clock: FakeClock
    settings: Settings

    @property
    def rt(self) -> Runtime[Store]:
        return common.runtime()

    def desired(self, service: str = "web", cluster: str = "prod") -> int:
        svc = self.ecs.describe_services(cluster=cluster, services=[service])["services"][0]
        return int(svc["desiredCount"])

    def add_service(self, name: str, desired: int, *, tagged: bool = True) -> None:
        tags = [{"key": "scaleahead:managed", "value": "true"}] if tagged else []
        self.ecs.create_service(
            cluster="prod", serviceName=name, taskDefinition="web", desiredCount=desired, tags=tags
        )

    def put_load(self, points: list[tuple[float, float]]) -> None:
        put_series(self.cloudwatch, NAMESPACE, METRIC, DIMENSIONS, points)

    def apply(self, target: Target) -> None:
        from scaleahead_tools.cli import targets as tg

        tg.apply(self.rt, (target,), tg.diff(self.rt, (target,), prune=False), self.clock.t)


@pytest.fixture
def aws() -> Iterator[Aws]:
    moto_extensions.install()
    fake = FakeClock(NOW)
    with local_env({"MODE": "ForecastAndScale"}), mock_aws():
        common.reset()
        ddb = boto3.client("dynamodb")
        sqs = boto3.client("sqs")
        stack = stand_up(ddb, sqs)
        settings, url = stack.settings, stack.queue_url
        ecs = boto3.client("ecs")
        create_ecs(ecs, "prod", {"web": 4})
        env = Aws(ecs, boto3.client("cloudwatch"), sqs, ddb, url, fake, settings)
        clock.set_clock(fake)
        try:
            yield env
        finally:
            clock.set_clock(None)
            common.reset()
            os.environ.pop("WORK_QUEUE_URL", None)


@pytest.fixture
def ec(aws: Aws) -> Iterator[Any]:
    """An ElastiCache client on moto with cluster-mode shards modelled (moto_elasticache)."""
    from scaleahead_testkit import moto_elasticache

    moto_elasticache.uninstall()
    moto_elasticache.install()
    yield boto3.client("elasticache")
    moto_elasticache.uninstall()


@pytest.fixture
def mc(aws: Aws) -> Iterator[Any]:
    """An ElastiCache client on moto with Memcached node changes modelled (moto_memcached)."""
    from scaleahead_testkit import moto_memcached

    moto_memcached.uninstall()
    moto_memcached.install()
    yield boto3.client("elasticache")
    moto_memcached.uninstall()


@pytest.fixture
def asg(aws: Aws) -> Iterator[Any]:
    """An Auto Scaling client on moto (with moto_autoscaling: DefaultInstanceWarmup, and
    SetDesiredCapacity refused outside the group's bounds) and a launch template for groups."""
    from scaleahead_testkit import moto_autoscaling

    moto_autoscaling.uninstall()
    moto_autoscaling.install()
    boto3.client("ec2").create_launch_template(
        LaunchTemplateName="scaleahead-lt",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )
    yield boto3.client("autoscaling")
    moto_autoscaling.uninstall()


@pytest.fixture
def aas(aws: Aws) -> Any:
    """Application Auto Scaling on the ``aws`` fixture's moto (what --take-over takes over)."""
    return boto3.client("application-autoscaling")
