"""ElastiCache (Memcached) cache nodes for moto, installed by ``install()``.

The autoscaler changes the node count of a Memcached cache cluster with ``ModifyCacheCluster``
and watches it with ``DescribeCacheClusters``. moto 5.2.6 lacks the former and gives clusters
no ``CacheNodes``; each deviation from plain moto below makes moto answer as the API reference
(ModifyCacheCluster, DescribeCacheClusters, CacheNode, PendingModifiedValues) describes.

1. ``CreateCacheCluster``: a Memcached ``NumCacheNodes`` outside 1..40 is refused
   (``NodeQuotaForClusterExceeded`` above, ``InvalidParameterValue`` below; moto took it and
   left ``NumCacheNodes`` out). Each cluster gets nodes ``0001``..``000N``, ``available``, with
   ``CacheNodeCreateTime``, ``Endpoint``, ``ParameterGroupStatus`` ``in-sync`` and
   ``CustomerAvailabilityZone`` (its ``PreferredAvailabilityZones`` entry, else
   ``PreferredAvailabilityZone``, else the region's ``a`` zone). Memcached listens on 11211
   (moto: 6379 for every engine) and has a ``ConfigurationEndpoint``; names have the shape of
   AWS's (``<cluster>.<hash>.<0001|cfg>.use1.cache.amazonaws.com``). Valkey / Redis OSS
   clusters have one node and ``NumCacheNodes`` 1 (moto leaves it out for Valkey).
2. ``DescribeCacheClusters`` lists ``CacheNodes`` only with ``ShowCacheNodeInfo`` (never in
   the CreateCacheCluster answer), none for a ``deleting`` cluster. As the reference says,
   nodes being added show no ``Endpoint`` nor ``CacheNodeCreateTime`` until provisioned, and
   nodes being removed no ``Endpoint`` (their status stays: the reference does not name one).
3. ``ModifyCacheCluster`` (absent from moto), for the node count. Refused: an unknown cluster
   (``CacheClusterNotFound``), a ``deleting`` one (``InvalidCacheClusterState``), a count other
   than 1 for Valkey / Redis OSS, a Memcached count outside 1..40 (``InvalidParameterValue`` /
   ``NodeQuotaForClusterExceeded``); fewer nodes than now without ``CacheNodeIdsToRemove``
   naming exactly the nodes dropped (distinct, existing), or those ids with any other count
   (``InvalidParameterValue``). A request replaces the pending node change, reckoned from the
   provisioned nodes (a scale-in replaces a pending addition, the reference's scenario 3); a
   count equal to the current one cancels it; one between the current count and a pending
   increase is refused ("cannot be superseded by a request to add fewer nodes"). Deviation:
   AWS counts the ids from "the existing number of cache nodes ... or pending cache nodes,
   whichever is greater"; here always from the provisioned ones, which differs only when
   scaling in while an addition is pending. New nodes take the ids after the highest existing
   one (not confirmed by AWS's documentation) and the default zone.
   With ``ApplyImmediately`` the cluster is ``modifying``, ``NumCacheNodes`` keeps the current
   count, ``PendingModifiedValues`` holds ``NumCacheNodes`` (and ``CacheNodeIdsToRemove``) and
   new nodes are listed at once as ``creating``. Without it (AWS's default) the change waits
   for the maintenance window: the same ``PendingModifiedValues``, status ``available``, no
   node listed or completed, until a request with ``ApplyImmediately`` and no
   ``NumCacheNodes`` starts it ("this request and any pending modifications").
   The answer is the cluster as described with ``ShowCacheNodeInfo``.
4. Completion is explicit and deterministic, never wall-clock: ``complete_pending_changes()``
   finishes in-flight (immediate) changes; or ``set_describes_until_complete(n)`` makes each
   new one finish after ``n`` DescribeCacheClusters calls that include its cluster (counted
   before paging) answered ``modifying``. Then removed nodes go, added ones become
   ``available``, ``NumCacheNodes`` takes the new count, ``PendingModifiedValues`` clears and
   the status returns to ``available``.

Requests still travel through moto's request dispatch (botocore validates them and parses the
answers from its output shapes via moto's ``ActionResult``). Not modelled: any other
ModifyCacheCluster parameter (``NewAvailabilityZones``, ``AZMode``, node type, engine, groups:
a request naming one raises ``NotImplementedError``, as moto does for unknown actions), node
quotas per customer, and maintenance windows (deferred changes never land by themselves).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult, PaginatedResult
from moto.core.utils import utcnow
from moto.elasticache.exceptions import (
    CacheClusterNotFound,
    ElastiCacheException,
    InvalidParameterValueException,
)
from moto.elasticache.models import ElastiCacheBackend, elasticache_backends
from moto.elasticache.responses import ElastiCacheResponse

MAX_NODES = 40
MEMCACHED_PORT = 11211
_OP = "modify_cache_cluster"
_NODES = "_scaleahead_nodes"  # the provisioned nodes, in id order
_CHANGE = "_scaleahead_node_change"  # the pending node change, or None
_MODELLED = {"CacheClusterId", "NumCacheNodes", "CacheNodeIdsToRemove", "ApplyImmediately"}
_DIRECTIONS = {"east": "e", "west": "w", "north": "n", "south": "s", "central": "c"}
_DIRECTIONS |= {f"{a}{b}": a[0] + b[0] for a in ("north", "south") for b in ("east", "west")}

_original_create: Callable[..., Any] = ElastiCacheBackend.create_cache_cluster
_original_describe: Callable[..., Any] = ElastiCacheBackend.describe_cache_clusters
_original_describe_response: Callable[..., Any] = ElastiCacheResponse.describe_cache_clusters
_INSTALLED = False
_describes_until_complete: int | None = None


class NodeQuotaForClusterExceeded(ElastiCacheException):
    """botocore: NodeQuotaForClusterExceededFault, code ``NodeQuotaForClusterExceeded``."""

    code = "NodeQuotaForClusterExceeded"


class InvalidCacheClusterState(ElastiCacheException):
    """botocore: InvalidCacheClusterStateFault, code ``InvalidCacheClusterState``."""

    code = "InvalidCacheClusterState"


class _Described:
    """A cluster as shown with ``ShowCacheNodeInfo``: moto's object plus its ``CacheNodes``.

    A view rather than an attribute on the cluster, so that moto's serialiser lists the nodes
    only in the answers that AWS lists them in.
    """

    def __init__(self, cluster: Any, nodes: list[dict[str, Any]] | None) -> None:
        self._cluster = cluster
        self.cache_nodes = nodes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cluster, name)


def set_describes_until_complete(n: int | None) -> None:
    """Let immediate node changes made from now on complete by themselves after ``n`` describes.

    A change is answered ``modifying`` by ``n`` DescribeCacheClusters calls that include its
    cluster; the next one finds it complete (``n=0``: the first describe after the change).
    ``None`` (the default) leaves completion to ``complete_pending_changes()``.
    """
    global _describes_until_complete
    if n is not None and n < 0:
        raise ValueError("n must be >= 0 or None")
    _describes_until_complete = n


def _check_count(count: int) -> None:
    if count < 1:
        raise InvalidParameterValueException("NumCacheNodes must be between 1 and 40.")
    if count > MAX_NODES:
        raise NodeQuotaForClusterExceeded(
            f"NumCacheNodes {count} exceeds the maximum of {MAX_NODES} nodes per cluster."
        )


def _address(cluster: Any, part: str) -> str:
    """A DNS name of AWS's shape; the hash is stable per account and region."""
    _, _, _, region, account, *_ = cluster.arn.split(":")
    geo, *where, number = region.split("-")
    short = geo + "".join(_DIRECTIONS.get(w, w[:1]) for w in where) + number
    digest = hashlib.sha256(f"{account}:{region}".encode()).hexdigest()[:6]
    return f"{cluster.cache_cluster_id}.{digest}.{part}.{short}.cache.amazonaws.com"


def _default_az(cluster: Any) -> str:
    return str(cluster.preferred_availability_zone or f"{cluster.arn.split(':')[3]}a")


def _node(cluster: Any, node_id: str, az: str, status: str = "available") -> dict[str, Any]:
    node: dict[str, Any] = {
        "cache_node_id": node_id,
        "cache_node_status": status,
        "parameter_group_status": "in-sync",
        "customer_availability_zone": az,
    }
    if status == "available":  # nodes being created show neither (DescribeCacheClusters)
        node["cache_node_create_time"] = utcnow()
        node["endpoint"] = {"address": _address(cluster, node_id), "port": cluster.port}
    return node


def _nodes(cluster: Any) -> list[dict[str, Any]]:
    """The provisioned nodes; made on first use, so clusters from before install() have them."""
    nodes: list[dict[str, Any]] | None = getattr(cluster, _NODES, None)
    if nodes is None:
        if getattr(cluster, "num_cache_nodes", None) is None:
            cluster.num_cache_nodes = 1
        azs = cluster.preferred_availability_zones
        nodes = [
            _node(cluster, f"{i:04d}", azs[i - 1] if i <= len(azs) else _default_az(cluster))
            for i in range(1, cluster.num_cache_nodes + 1)
        ]
        setattr(cluster, _NODES, nodes)
        setattr(cluster, _CHANGE, None)
        cluster.pending_modified_values = None
    return nodes


def _listed(cluster: Any) -> _Described:
    """The cluster with ``CacheNodes`` as DescribeCacheClusters shows them mid-change."""
    nodes = _nodes(cluster)
    change = getattr(cluster, _CHANGE, None)
    if cluster.cache_cluster_status == "deleting":
        return _Described(cluster, None)
    if change is None or not change["immediate"]:
        return _Described(cluster, list(nodes))
    removing = set(change["remove"])
    listed = [
        {k: v for k, v in n.items() if k != "endpoint"} if n["cache_node_id"] in removing else n
        for n in nodes
    ]
    listed += [_node(cluster, node_id, az, "creating") for node_id, az in change["add"]]
    return _Described(cluster, listed)


def _set_change(cluster: Any, change: dict[str, Any] | None) -> None:
    setattr(cluster, _CHANGE, change)
    status = "available"
    if change is None:
        cluster.pending_modified_values = None
    else:
        pending: dict[str, Any] = {"num_cache_nodes": change["count"]}
        if change["remove"]:
            pending["cache_node_ids_to_remove"] = list(change["remove"])
        cluster.pending_modified_values = pending
        if change["immediate"]:
            status = "modifying"
            change["remaining"] = _describes_until_complete
    cluster.cache_cluster_status = cluster.status = status


def _complete(cluster: Any) -> bool:
    change = getattr(cluster, _CHANGE, None)
    if change is None or not change["immediate"]:
        return False
    kept = [n for n in _nodes(cluster) if n["cache_node_id"] not in set(change["remove"])]
    setattr(cluster, _NODES, kept + [_node(cluster, i, az) for i, az in change["add"]])
    cluster.num_cache_nodes = change["count"]
    _set_change(cluster, None)
    return True


def _create_cache_cluster(self: ElastiCacheBackend, **kwargs: Any) -> Any:
    memcached = kwargs.get("engine") == "memcached"
    if memcached and kwargs.get("num_cache_nodes") is not None:
        _check_count(kwargs["num_cache_nodes"])
    cluster = _original_create(self, **kwargs)
    if memcached:
        cluster.port = kwargs.get("port") or MEMCACHED_PORT
        cluster.configuration_endpoint = {"address": _address(cluster, "cfg"), "port": cluster.port}
    _nodes(cluster)
    return cluster


def _describe_cache_clusters(
    self: ElastiCacheBackend,
    cache_cluster_id: str | None = None,
    show_cache_node_info: bool = False,
) -> list[Any]:
    clusters: list[Any] = _original_describe(self, cache_cluster_id=cache_cluster_id)
    for cluster in clusters:
        change = getattr(cluster, _CHANGE, None)
        if change is None or change.get("remaining") is None or not change["immediate"]:
            continue
        if change["remaining"] <= 0:
            _complete(cluster)
        else:
            change["remaining"] -= 1
    return [_listed(c) for c in clusters] if show_cache_node_info else clusters


def _modify_cache_cluster(
    self: ElastiCacheBackend,
    cache_cluster_id: str,
    num_cache_nodes: int | None = None,
    cache_node_ids_to_remove: list[str] | None = None,
    apply_immediately: bool = False,
) -> _Described:
    if cache_cluster_id not in self.cache_clusters:
        raise CacheClusterNotFound(cache_cluster_id)
    cluster = self.cache_clusters[cache_cluster_id]
    nodes, remove = _nodes(cluster), cache_node_ids_to_remove or []
    count, change = num_cache_nodes, getattr(cluster, _CHANGE, None)
    if cluster.cache_cluster_status not in ("available", "modifying"):
        raise InvalidCacheClusterState(
            f"Cache cluster {cache_cluster_id} is {cluster.cache_cluster_status}."
        )
    if cluster.engine != "memcached" and count not in (None, 1):
        raise InvalidParameterValueException(
            "For clusters running Valkey or Redis OSS, NumCacheNodes must be 1."
        )
    if count is not None:
        _check_count(count)
    ids = [n["cache_node_id"] for n in nodes]
    if remove and (count is None or count >= len(ids)):
        raise InvalidParameterValueException(
            "CacheNodeIdsToRemove is only valid when NumCacheNodes is less than the existing "
            f"number of cache nodes ({len(ids)})."
        )
    if count is None or cluster.engine != "memcached":
        if apply_immediately and change is not None and not change["immediate"]:
            _set_change(cluster, {**change, "immediate": True})  # "and any pending" ones
        return _listed(cluster)
    pending = change["count"] if change is not None else len(ids)
    if len(ids) < count < pending:
        raise InvalidParameterValueException(
            f"A pending increase to {pending} cache nodes cannot be superseded by a request to "
            f"add fewer; cancel it first by setting NumCacheNodes to {len(ids)}."
        )
    if count < len(ids):
        if not remove:
            raise InvalidParameterValueException(
                "If you are removing cache nodes, you must use the CacheNodeIdsToRemove parameter."
            )
        unknown = [i for i in remove if i not in ids]
        if unknown:
            raise InvalidParameterValueException(
                f"Cache nodes {', '.join(unknown)} do not exist in cluster {cache_cluster_id}."
            )
        if len(set(remove)) != len(remove) or len(remove) != len(ids) - count:
            raise InvalidParameterValueException(
                f"CacheNodeIdsToRemove must list {len(ids) - count} distinct cache node IDs "
                f"({len(ids)} - {count}), not {len(remove)}."
            )
    if count == len(ids):  # cancels any pending add or remove
        _set_change(cluster, None)
        return _listed(cluster)
    top = max(int(i) for i in ids)
    add = [(f"{top + k:04d}", _default_az(cluster)) for k in range(1, count - len(ids) + 1)]
    _set_change(
        cluster,
        {"count": count, "remove": list(remove), "add": add, "immediate": apply_immediately},
    )
    return _listed(cluster)


def _describe_cache_clusters_response(self: ElastiCacheResponse) -> ActionResult:
    clusters = self.elasticache_backend.describe_cache_clusters(
        cache_cluster_id=self._get_param("CacheClusterId"),
        show_cache_node_info=bool(self._get_bool_param("ShowCacheNodeInfo")),  # type: ignore[call-arg]
    )
    return PaginatedResult({"CacheClusters": clusters})


def _modify_cache_cluster_response(self: ElastiCacheResponse) -> ActionResult:
    unmodelled = sorted(set(self._get_params()) - _MODELLED)
    if unmodelled:
        raise NotImplementedError(
            "moto_memcached models ModifyCacheCluster for the node count only, not "
            + ", ".join(unmodelled)
        )
    cluster = self.elasticache_backend.modify_cache_cluster(  # type: ignore[attr-defined]
        cache_cluster_id=self._get_param("CacheClusterId"),
        num_cache_nodes=self._get_int_param("NumCacheNodes"),
        cache_node_ids_to_remove=self._get_param("CacheNodeIdsToRemove"),
        apply_immediately=bool(self._get_bool_param("ApplyImmediately")),
    )
    return ActionResult({"CacheCluster": cluster})


def complete_pending_changes(
    account_id: str = "123456789012",
    region: str = "us-east-1",
    cache_cluster_id: str | None = None,
) -> list[str]:
    """Finish in-flight node changes (all, or one cluster's); return the clusters finished.

    This stands in for the minutes AWS takes to provision or drop nodes, so tests and the demo
    decide exactly when a change lands. Changes waiting for the maintenance window
    (``ApplyImmediately`` false) are left pending: no window ever comes here.
    """
    backend = elasticache_backends[account_id][region]
    return [
        cc_id
        for cc_id, cluster in backend.cache_clusters.items()
        if cache_cluster_id in (None, cc_id) and _complete(cluster)
    ]


def pending_node_count(
    cache_cluster_id: str, account_id: str = "123456789012", region: str = "us-east-1"
) -> int | None:
    """The node count a pending change (immediate or not) will leave, or None when none is."""
    cluster = elasticache_backends[account_id][region].cache_clusters[cache_cluster_id]
    change = getattr(cluster, _CHANGE, None)
    return None if change is None else int(change["count"])


def install() -> None:
    """Patch moto (idempotent); coexists with ``moto_elasticache``, which patches other methods."""
    global _INSTALLED
    if _INSTALLED:
        return
    ElastiCacheBackend.create_cache_cluster = _create_cache_cluster  # type: ignore[method-assign,assignment]
    ElastiCacheBackend.describe_cache_clusters = _describe_cache_clusters  # type: ignore[method-assign]
    ElastiCacheResponse.describe_cache_clusters = _describe_cache_clusters_response  # type: ignore[method-assign]
    setattr(ElastiCacheBackend, _OP, _modify_cache_cluster)
    setattr(ElastiCacheResponse, _OP, _modify_cache_cluster_response)
    _INSTALLED = True


def uninstall() -> None:
    """Restore plain moto (idempotent); the knob of ``set_describes_until_complete`` resets."""
    global _INSTALLED
    ElastiCacheBackend.create_cache_cluster = _original_create  # type: ignore[method-assign]
    ElastiCacheBackend.describe_cache_clusters = _original_describe  # type: ignore[method-assign]
    ElastiCacheResponse.describe_cache_clusters = _original_describe_response  # type: ignore[method-assign]
    for cls in (ElastiCacheBackend, ElastiCacheResponse):
        if _OP in vars(cls):
            delattr(cls, _OP)
    set_describes_until_complete(None)
    _INSTALLED = False
