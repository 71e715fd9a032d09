"""AWS errors, mapped once for every adapter into the ports' vocabulary (``service.ports``).

botocore's errors stop here: an adapter wrapped in ``MappedAdapter`` (or ``MappedMetrics``)
raises only ``NotFound``, ``NotDrivable``, ``Refused`` or ``Transient``, whose meaning for the
caller the ports define. Which AWS error code is which is AWS knowledge, so it lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
)

from scaleahead.aws.cloudwatch import MetricsAdapter
from scaleahead.domain.target_record import TargetError
from scaleahead.service.ports import (
    Actuation,
    CapacityPort,
    CapacityReading,
    NotDrivable,
    NotFound,
    Refused,
    Transient,
)

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
        # EC2 Auto Scaling: a scaling activity or another update in progress on the group
        "ScalingActivityInProgress",
        "ResourceContention",
        "SlowDown",
    }
)

if TYPE_CHECKING:
    from scaleahead.domain.target import Target


class ErrorClass(StrEnum):
    NOT_FOUND = "not_found"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


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
        return NotFound(f"{what}: {err}")
    if kind is ErrorClass.TRANSIENT:
        return Transient(f"{what}: {err}")
    return Refused(f"{what}: {err}")


T = TypeVar("T")


def _call(what: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except (ClientError, BotoCoreError) as err:
        raise mapped(err, what) from err
    except TargetError as err:
        # An adapter's finding that the resource cannot be driven as the target says.
        raise NotDrivable(str(err)) from err


class MappedAdapter:
    """Any tier's adapter with its errors mapped: the services never see botocore."""

    def __init__(self, inner: CapacityPort) -> None:
        self._inner = inner

    @property
    def inner(self) -> CapacityPort:
        return self._inner

    def read(self, target: Target, *, scale_in: bool = True) -> CapacityReading:
        return _call(
            f"reading the capacity of {target.id}",
            lambda: self._inner.read(target, scale_in=scale_in),
        )

    def set_capacity(self, target: Target, desired: int, reading: CapacityReading) -> Actuation:
        return _call(
            f"setting the capacity of {target.id} to {desired}",
            lambda: self._inner.set_capacity(target, desired, reading),
        )


class MappedMetrics:
    """The CloudWatch adapter with its errors mapped."""

    def __init__(self, inner: MetricsAdapter) -> None:
        self._inner = inner

    @property
    def inner(self) -> MetricsAdapter:
        return self._inner

    @property
    def home_region(self) -> str:
        return self._inner.home_region

    @contextmanager
    def shared_reads(self) -> Iterator[None]:
        with self._inner.shared_reads():
            yield

    def read_ahead(self, reads: Sequence[tuple[Target, float]], end: float) -> None:
        self._inner.read_ahead(reads, end)  # it logs and swallows its own failures

    def load_series(self, target: Target, start: float, end: float) -> list[tuple[float, float]]:
        return _call(
            f"reading the load of {target.id}", lambda: self._inner.load_series(target, start, end)
        )

    def put_high_load_alarm(self, target: Target, prefix: str, threshold: float) -> str:
        return _call(
            f"putting the high-load alarm of {target.id}",
            lambda: self._inner.put_high_load_alarm(target, prefix, threshold),
        )

    def delete_alarms(self, target_id: str, prefix: str) -> None:
        _call(
            f"deleting the alarms of {target_id}",
            lambda: self._inner.delete_alarms(target_id, prefix),
        )

    def managed_alarms(self, prefix: str) -> list[dict[str, Any]]:
        return _call("listing the managed alarms", lambda: self._inner.managed_alarms(prefix))
