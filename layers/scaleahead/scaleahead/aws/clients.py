"""boto3 clients made once per execution environment and reused across invocations.

A cold start pays for client creation once; tests and the demo call ``reset()`` when they
start a fresh moto backend.

``client("ecs")`` and its kind are typed for mypy by the boto3-stubs service packages (a dev
dependency); those are imported only while type checking, so Lambda never needs them.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient, DynamoDBServiceResource
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_elasticache import ElastiCacheClient
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_sqs import SQSClient

# Adaptive retries absorb throttling on the control plane APIs (UpdateService and friends)
# without the caller writing its own backoff.
_CONFIG = Config(
    retries={"max_attempts": 5, "mode": "adaptive"}, connect_timeout=5, read_timeout=20
)


@cache
def _client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CONFIG)  # type: ignore[call-overload]


@cache
def _regional(service: str, region: str) -> Any:
    return boto3.session.Session().client(service, region_name=region, config=_CONFIG)  # type: ignore[call-overload]


@cache
def _resource(service: Literal["dynamodb"]) -> DynamoDBServiceResource:
    return boto3.session.Session().resource(service, config=_CONFIG)


@overload
def client(service: Literal["cloudwatch"]) -> CloudWatchClient: ...
@overload
def client(service: Literal["dynamodb"]) -> DynamoDBClient: ...
@overload
def client(service: Literal["ecs"]) -> ECSClient: ...
@overload
def client(service: Literal["elasticache"]) -> ElastiCacheClient: ...
@overload
def client(service: Literal["rds"]) -> RDSClient: ...
@overload
def client(service: Literal["sqs"]) -> SQSClient: ...
@overload
def client(service: str) -> Any: ...  # a name known only at run time (the demo's tooling)
def client(service: str) -> Any:
    return _client(service)


def regional(service: str, region: str) -> Any:
    """A client of ``service`` in ``region``, not the functions' own: CloudFront's metrics are
    published in us-east-1 only (``LoadMetric.region``)."""
    return _regional(service, region)


def resource(service: Literal["dynamodb"]) -> DynamoDBServiceResource:
    return _resource(service)


def reset() -> None:
    _client.cache_clear()
    _regional.cache_clear()
    _resource.cache_clear()
