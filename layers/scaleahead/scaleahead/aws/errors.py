"""AWS errors, mapped once for every adapter: not found, passing, or a fault to record.

What the caller does with each is a rule of the whole product, so it lives here and not in
every adapter:

- **not found** (a deleted cluster, service, replication group): a configuration fault that no
  retry fixes. The worker records it on every tick and the alarm path records it once; neither
  raises, so a deleted resource never becomes a retry storm or a dead letter.
- **transient** (throttling, 5xx, timeouts: what is left after botocore's own retries): raised
  again, so Lambda or SQS retries the whole invocation; the intent on record makes that retry
  safe.
- **permanent** (access denied, a bad parameter): recorded as a failed decision, not retried.
"""

from __future__ import annotations

from enum import StrEnum

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
)

from scaleahead.aws.capacity import Actuation, CapacityAdapter, CapacityReading, ResourceNotFound
from scaleahead.domain.target import Target

# Every "does not exist" code of the APIs the adapters call.
NOT_FOUND_CODES = frozenset(
    {
        # ECS
        "ClusterNotFoundException",
        "ServiceNotFoundException",
        "ServiceNotActiveException",
        # RDS
        "DBClusterNotFoundFault",
        "DBInstanceNotFound",
        "DBInstanceNotFoundFault",
        # ElastiCache
        "ReplicationGroupNotFoundFault",
        "CacheClusterNotFound",
        # CloudWatch
        "ResourceNotFound",
        "ResourceNotFoundException",
    }
)
# Codes that mean "try again later" in the services used (botocore retries these itself first).
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServiceError",
        "ServerException",  # ECS
        "SlowDown",
    }
)


class ErrorClass(StrEnum):
    NOT_FOUND = "not_found"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


class TransientAwsError(Exception):
    """An AWS call failed in a way a later retry may not: the invocation is retried."""


class AwsCallFailed(Exception):
    """An AWS call was refused for good (access denied, invalid parameter): recorded."""


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def classify(err: BaseException) -> ErrorClass:
    if isinstance(err, ClientError):
        code = error_code(err)
        if code in NOT_FOUND_CODES:
            return ErrorClass.NOT_FOUND
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in TRANSIENT_CODES or status >= 500 or status == 429:
            return ErrorClass.TRANSIENT
        return ErrorClass.PERMANENT
    if isinstance(err, ConnectionError | HTTPClientError):
        # Endpoint unreachable, connect or read timeout, connection reset: the call may or may
        # not have reached AWS, which is exactly what the intent record is for.
        return ErrorClass.TRANSIENT
    return ErrorClass.PERMANENT


def mapped(err: ClientError | BotoCoreError, what: str) -> Exception:
    """The exception the services deal with for ``err`` (raise it ``from err``)."""
    kind = classify(err)
    if kind is ErrorClass.NOT_FOUND:
        return ResourceNotFound(f"{what}: {err}")
    if kind is ErrorClass.TRANSIENT:
        return TransientAwsError(f"{what}: {err}")
    return AwsCallFailed(f"{what}: {err}")


class MappedAdapter:
    """Any tier's adapter with its AWS errors mapped: the services never see botocore."""

    def __init__(self, inner: CapacityAdapter) -> None:
        self._inner = inner

    def read(self, target: Target, *, scale_in: bool = True) -> CapacityReading:
        try:
            return self._inner.read(target, scale_in=scale_in)
        except (ClientError, BotoCoreError) as err:
            raise mapped(err, f"reading the capacity of {target.id}") from err

    def set_capacity(self, target: Target, desired: int, reading: CapacityReading) -> Actuation:
        try:
            return self._inner.set_capacity(target, desired, reading)
        except (ClientError, BotoCoreError) as err:
            raise mapped(err, f"setting the capacity of {target.id} to {desired}") from err
