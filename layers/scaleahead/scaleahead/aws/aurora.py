"""Aurora DB clusters: capacity is the number of reader instances that serve reads.

The writer is never counted, modified or removed, and scaleahead removes only the readers it
created itself (``domain.aurora_readers`` holds those rules: which instances are readers, which
count, which may go). Adding a reader is a change of minutes, and Aurora handles one change per
cluster at a time, so while anything in the cluster is not ``available`` the reading is
``busy`` and the control plane retries on a later tick. This module describes the cluster and
makes the calls.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from scaleahead.aws import clients
from scaleahead.aws.kind_adapter import KindAdapter
from scaleahead.domain.aurora_readers import (
    MANAGED_TAG,
    MAX_READERS,
    TARGET_TAG,
    Cluster,
    Instance,
    ceiling,
    instance_classes,
    owned,
    reading_floor,
    removable,
    scale_in_floor,
)
from scaleahead.domain.kinds import Kind
from scaleahead.service.ports import Actuation, CapacityReading, NotFound

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

    from scaleahead.aws.cloudwatch import MetricsAdapter
    from scaleahead.domain.target import AuroraTarget, Target

# Readers scaleahead adds are the last choice for failover (0 is promoted first, 15 last): the
# writer's successor should be a reader the user sized and placed, not one that may be removed
# on the next scale-in.
PROMOTION_TIER = 15
# RDS DB instance identifiers: 1-63 letters, digits or hyphens, a letter first, no trailing
# hyphen, no two hyphens in a row.
MAX_IDENTIFIER = 63
_SUFFIX_RESERVE = 4  # "-999": room for the reader number
_INSUFFICIENT = "InsufficientDBInstanceCapacity"
_ALREADY_EXISTS = "DBInstanceAlreadyExists"


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _clean(text: str) -> str:
    """An identifier fragment RDS accepts: lowercase, no double or trailing hyphen."""
    return re.sub(r"-{2,}", "-", text.lower()).strip("-")


def reader_id_base(cluster: str, target_id: str) -> str:
    """The deterministic prefix of the readers a target adds: ``<cluster>-sa-<target>``.

    Kept short enough for a ``-<n>`` suffix within RDS's 63 characters. When it must be cut,
    both ids are shortened but ``-sa-`` always stays (the IAM policy lets the functions tag and
    delete only instances named ``*-sa-*``), and a digest of the full ids keeps two long names
    from sharing one prefix.
    """
    base = _clean(f"{cluster}-sa-{target_id}")
    limit = MAX_IDENTIFIER - _SUFFIX_RESERVE
    if len(base) <= limit:
        return base
    digest = hashlib.sha256(f"{cluster}/{target_id}".encode()).hexdigest()[:8]
    room = limit - len("-sa-") - len(digest) - 1  # for the cluster and target parts
    head = _clean(cluster)[: max(room - min(len(target_id), room // 2), 1)].strip("-")
    tail = _clean(target_id)[: room - len(head)].strip("-")
    return _clean(f"{head}-sa-{tail}-{digest}")


class AuroraAdapter(KindAdapter["AuroraTarget"]):
    """Reads and sets the reader count of the Aurora DB cluster ``target.resource.cluster``."""

    def __init__(self, rds: RDSClient) -> None:
        super().__init__(Kind.AURORA)
        self._rds = rds

    # -- reading ------------------------------------------------------------------------------

    def _cluster(self, target: AuroraTarget) -> Cluster:
        cluster_id = target.resource.cluster
        try:
            out = self._rds.describe_db_clusters(DBClusterIdentifier=cluster_id)
        except ClientError as err:
            if _error_code(err) == "DBClusterNotFoundFault":
                raise NotFound(f"Aurora DB cluster {cluster_id}: not found") from err
            raise
        clusters = out.get("DBClusters", [])
        if not clusters:
            raise NotFound(f"Aurora DB cluster {cluster_id}: not found")
        c = clusters[0]
        writers = {
            m["DBInstanceIdentifier"]: bool(m.get("IsClusterWriter"))
            for m in c.get("DBClusterMembers", [])
        }
        described: dict[str, dict[str, Any]] = {}
        pages = self._rds.get_paginator("describe_db_instances").paginate(
            Filters=[{"Name": "db-cluster-id", "Values": [c["DBClusterIdentifier"]]}]
        )
        for page in pages:
            for found in page.get("DBInstances", []):
                described[found["DBInstanceIdentifier"]] = dict(found)
        instances = []
        for ident, db in sorted(described.items()):
            groups = db.get("DBParameterGroups") or []
            instances.append(
                Instance(
                    id=ident,
                    status=str(db.get("DBInstanceStatus", "unknown")),
                    writer=writers.get(ident, False),
                    instance_class=str(db["DBInstanceClass"]),
                    parameter_group=groups[0].get("DBParameterGroupName") if groups else None,
                    publicly_accessible=db.get("PubliclyAccessible"),
                    created=db.get("InstanceCreateTime"),
                    tags={t["Key"]: t.get("Value", "") for t in db.get("TagList", [])},
                )
            )
        return Cluster(
            id=str(c["DBClusterIdentifier"]),
            status=str(c.get("Status", "unknown")),
            engine=str(c["Engine"]),
            subnet_group=c.get("DBSubnetGroup"),
            instances=tuple(instances),
            undescribed=tuple(sorted(set(writers) - set(described))),
        )

    def _read(self, t: AuroraTarget, *, scale_in: bool) -> CapacityReading:
        c = self._cluster(t)
        floor, why = reading_floor(t)
        return CapacityReading(
            desired=c.desired,
            ready=c.ready,
            busy=c.busy,
            scale_in_floor=floor,
            scale_in_floor_reason=why,
        )

    # -- acting -------------------------------------------------------------------------------

    def _set(self, t: AuroraTarget, desired: int, reading: CapacityReading) -> Actuation:
        """Add or remove readers towards ``desired``, on the cluster as it is now.

        The cluster is described again rather than trusting ``reading``: a reader counted twice
        is an instance billed for nothing, a reader removed twice is lost read capacity.
        """
        c = self._cluster(t)
        current = c.desired
        if c.busy:
            return Actuation(False, current, f"not now: {c.busy}")
        if desired > current:
            return self._scale_out(t, c, desired)
        if desired < current:
            return self._scale_in(t, c, desired)
        return Actuation(False, current, f"already {current} readers")

    def _scale_out(self, t: AuroraTarget, c: Cluster, desired: int) -> Actuation:
        current = c.desired
        most = ceiling(t)
        goal = min(desired, most)
        if goal <= current:
            return Actuation(
                False, current, f"already {current} readers; at most {most} (max_capacity)"
            )
        writer = c.writer
        if writer is None:
            # The first instance of a cluster becomes its writer: never create that one.
            return Actuation(False, current, f"DB cluster {c.id} has no writer; no reader added")
        classes = instance_classes(t, writer)
        used = {i.id for i in c.instances}
        base = reader_id_base(c.id, t.id)
        created: list[str] = []
        cls = 0  # a class refused once is not tried again within this change
        n = 0
        error = ""
        while len(created) < goal - current and cls < len(classes):
            n += 1
            ident = f"{base}-{n}"
            if ident in used:
                continue
            try:
                self._create(t, c, writer, ident, classes[cls])
            except ClientError as err:
                code = _error_code(err)
                if code == _INSUFFICIENT:
                    cls += 1
                    n -= 1  # the identifier was not taken: offer it with the next class
                    continue
                if code == _ALREADY_EXISTS and self._ours(t, c, ident):
                    # botocore retried a create whose first attempt went through (its reply was
                    # lost): that reader is the one asked for, not a reason to add another.
                    used.add(ident)
                    created.append(f"{ident} ({classes[cls]}, created by a retried call)")
                    continue
                if code == _ALREADY_EXISTS and n < 10 * MAX_READERS:
                    used.add(ident)  # taken outside this cluster, or still being deleted
                    continue
                if not created:
                    raise
                error = f"; then {code}: {err}"
                break
            used.add(ident)
            created.append(f"{ident} ({classes[cls]})")
        asked = goal - current
        refused = classes[:cls]
        capped = f" (capped at {most})" if goal < desired else ""
        if not created:
            return Actuation(
                False,
                current,
                f"no reader added: {_INSUFFICIENT} for every class tried ({', '.join(refused)})",
            )
        notes = f"; {_INSUFFICIENT} for {', '.join(refused)}" if refused else ""
        if len(created) < asked and not error:
            notes += f"; {asked - len(created)} of {asked} not added: no class left to try"
        return Actuation(
            True,
            current + len(created),
            f"CreateDBInstance {', '.join(created)}; "
            f"readers {current} -> {current + len(created)}{capped}{notes}{error}",
        )

    def _ours(self, t: AuroraTarget, c: Cluster, ident: str) -> bool:
        """Whether ``ident`` is a reader of this cluster that scaleahead added for ``t``."""
        try:
            out = self._rds.describe_db_instances(DBInstanceIdentifier=ident)
        except ClientError:
            return False
        for db in out.get("DBInstances", []):
            tags = {x["Key"]: x.get("Value", "") for x in db.get("TagList", [])}
            if db.get("DBClusterIdentifier") == c.id and owned(tags, t.id):
                return True
        return False

    def _create(
        self, t: AuroraTarget, c: Cluster, writer: Instance, ident: str, instance_class: str
    ) -> None:
        """One reader, configured like the cluster and its writer so it serves the same reads."""
        params: dict[str, Any] = {
            "DBInstanceIdentifier": ident,
            "DBClusterIdentifier": c.id,
            "Engine": c.engine,
            "DBInstanceClass": instance_class,
            "PromotionTier": PROMOTION_TIER,
            "Tags": [
                {"Key": MANAGED_TAG, "Value": "true"},
                {"Key": TARGET_TAG, "Value": t.id},
            ],
        }
        if c.subnet_group:
            params["DBSubnetGroupName"] = c.subnet_group
        if writer.parameter_group:
            params["DBParameterGroupName"] = writer.parameter_group
        if writer.publicly_accessible is not None:
            params["PubliclyAccessible"] = writer.publicly_accessible
        self._rds.create_db_instance(**params)

    def _scale_in(self, t: AuroraTarget, c: Cluster, desired: int) -> Actuation:
        current = c.desired
        floor, why = scale_in_floor(t)
        goal = max(desired, floor)
        if goal >= current:
            return Actuation(False, current, f"already {current} readers; floor {why}")
        own = removable(c, t)
        asked = current - goal
        victims = own[:asked]
        if not victims:
            return Actuation(
                False,
                current,
                f"no reader removed: none of the {current} readers was added by scaleahead "
                f"for target {t.id} (the writer and other readers are never removed)",
            )
        deleted: list[str] = []
        error = ""
        for v in victims:
            try:
                # Aurora keeps backups per cluster: an instance has no final snapshot to take.
                self._rds.delete_db_instance(DBInstanceIdentifier=v.id, SkipFinalSnapshot=True)
            except ClientError as err:
                if not deleted:
                    raise
                error = f"; then {_error_code(err)}: {err}"
                break
            deleted.append(v.id)
        after = current - len(deleted)
        notes = f" (floor {why})" if goal > desired else ""
        if len(victims) < asked:
            notes += (
                f"; only {len(victims)} of {asked} readers may be removed: the others were not "
                f"added by scaleahead for target {t.id}"
            )
        return Actuation(
            True,
            after,
            f"DeleteDBInstance {', '.join(deleted)} (newest scaleahead readers first); "
            f"readers {current} -> {after}{notes}{error}",
        )


def resource_arn(target: Target) -> str:
    """The DB cluster's ARN, for the CLI's tagging (the operator's credentials, not Lambda's)."""
    cluster = cast("AuroraTarget", target).resource.cluster
    out = clients.client("rds").describe_db_clusters(DBClusterIdentifier=cluster)
    return str(out["DBClusters"][0]["DBClusterArn"])


def make_adapter(metrics: MetricsAdapter) -> AuroraAdapter:
    """The kind's factory (``KindSpec.adapter_module``); the reader count needs no metrics."""
    return AuroraAdapter(clients.client("rds"))
