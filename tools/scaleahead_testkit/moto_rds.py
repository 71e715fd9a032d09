"""Aurora reader life cycle for moto, installed by ``install()``; deterministic knobs, no clocks.

The Aurora adapter adds readers with ``CreateDBInstance`` and waits for them through
``DescribeDBClusters``/``DescribeDBInstances``. moto 5.2.5 models the cluster, its members,
``IsClusterWriter``, ``PromotionTier`` and ``TagList`` as AWS does, but it cannot show the two
things the adapter's safety rules exist for, so tests could not exercise them:

1. Instances are ``available`` the moment they are created; in AWS a new reader is
   ``creating`` for minutes (and any instance can be ``modifying``, ``rebooting``...).
   ``set_create_status("creating")`` makes instances created from now on start in that status;
   ``set_instance_status(id, status)`` sets one instance's status; ``complete_pending()`` makes
   every instance not ``available`` (and not ``deleting``) ``available``, as AWS does once the
   change ends. Nothing changes with wall-clock time.
2. ``InsufficientDBInstanceCapacity`` (the ``CreateDBInstance`` error AWS returns when an
   Availability Zone has no capacity left for a DB instance class) is never raised by moto.
   ``set_unavailable_classes({...})`` makes ``CreateDBInstance`` fail with exactly that code for
   the classes named, before anything is created, as AWS does.
3. The cluster's ``Status``: moto reports a new cluster ``creating`` once, then ``available``
   for ever. ``set_cluster_status(id, status)`` sets it (``modifying``, ``backing-up``...); a
   ``creating`` set here is also answered once and then turns ``available``, moto's own rule.
4. ``InstanceCreateTime`` is moto's wall clock at creation, so two instances created in one
   test may differ by microseconds only. ``set_instance_create_time(id, when)`` sets it, so an
   order by age is stated by the test, not by the speed of the machine.

Requests still travel through moto's request dispatch (botocore serialises and validates them
and parses the responses); only ``RDSBackend.create_db_instance`` is wrapped (for points 1 and
2), and the other knobs change moto's backend objects directly. Not modelled: an instance that AWS
keeps ``deleting`` for minutes after ``DeleteDBInstance`` (moto removes it at once), the
absence of ``InstanceCreateTime`` while an instance is ``creating``, and AWS refusing
``CreateDBInstance`` while the cluster is not ``available``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.rds.exceptions import DBClusterNotFoundError, DBInstanceNotFoundError, RDSClientError
from moto.rds.models import RDSBackend, rds_backends

_original_create: Callable[..., Any] = RDSBackend.create_db_instance
_INSTALLED = False
_unavailable: frozenset[str] = frozenset()
_create_status: str | None = None


class InsufficientDBInstanceCapacity(RDSClientError):
    """botocore: InsufficientDBInstanceCapacityFault, code ``InsufficientDBInstanceCapacity``."""

    def __init__(self, instance_class: str) -> None:
        super().__init__(
            "InsufficientDBInstanceCapacity",
            f"Cannot create a DB instance of class {instance_class}: there is not enough "
            "capacity for the requested DB instance class in the Availability Zone.",
        )


def _backend(region: str, account_id: str) -> RDSBackend:
    backend: RDSBackend = rds_backends[account_id][region]
    return backend


def set_unavailable_classes(classes: Iterable[str]) -> None:
    """``CreateDBInstance`` with any of ``classes`` fails with InsufficientDBInstanceCapacity
    (empty: no class is short of capacity, moto's behaviour)."""
    global _unavailable
    _unavailable = frozenset(classes)


def set_create_status(status: str | None) -> None:
    """Instances created from now on start in ``status`` (``None``: ``available``, moto's)."""
    global _create_status
    _create_status = status


def set_instance_status(
    instance_id: str,
    status: str,
    *,
    region: str = "us-east-1",
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Set one DB instance's ``DBInstanceStatus``."""
    db = _backend(region, account_id).databases.get(instance_id)
    if db is None:
        raise DBInstanceNotFoundError(instance_id)
    db.status = status


def set_cluster_status(
    cluster_id: str,
    status: str,
    *,
    region: str = "us-east-1",
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Set one DB cluster's ``Status``."""
    cluster = _backend(region, account_id).clusters.get(cluster_id)
    if cluster is None:
        raise DBClusterNotFoundError(cluster_id)
    cluster.status = status


def set_instance_create_time(
    instance_id: str,
    when: datetime,
    *,
    region: str = "us-east-1",
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Set one DB instance's ``InstanceCreateTime`` (timezone-aware, as AWS reports it)."""
    if when.tzinfo is None:
        raise ValueError("when must be timezone-aware")
    db = _backend(region, account_id).databases.get(instance_id)
    if db is None:
        raise DBInstanceNotFoundError(instance_id)
    db.instance_create_time = when


def complete_pending(*, region: str = "us-east-1", account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """Finish every change in flight: each instance not ``deleting`` becomes ``available``."""
    for db in _backend(region, account_id).databases.values():
        if db.status not in {"available", "deleting"}:
            db.status = "available"


def _create_db_instance(self: RDSBackend, db_kwargs: dict[str, Any]) -> Any:
    instance_class = db_kwargs.get("db_instance_class")
    if instance_class in _unavailable:
        raise InsufficientDBInstanceCapacity(str(instance_class))
    database = _original_create(self, db_kwargs)
    if _create_status is not None:
        database.status = _create_status
    return database


def install() -> None:
    """Patch moto (idempotent); the knobs start at moto's behaviour."""
    global _INSTALLED
    set_unavailable_classes(())
    set_create_status(None)
    if _INSTALLED:
        return
    RDSBackend.create_db_instance = _create_db_instance  # type: ignore[method-assign]
    _INSTALLED = True


def uninstall() -> None:
    """Restore moto and reset the knobs (idempotent)."""
    global _INSTALLED
    RDSBackend.create_db_instance = _original_create  # type: ignore[method-assign]
    set_unavailable_classes(())
    set_create_status(None)
    _INSTALLED = False
