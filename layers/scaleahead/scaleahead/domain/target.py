"""What a user declares about one scalable resource, validated before it reaches DynamoDB.

A bad definition must be refused with a message naming the field, because a target that loads
but means something else (a max below min, a load metric that yields two series) would scale
the wrong thing at three in the morning.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from scaleahead.settings import Mode


class Kind(StrEnum):
    ECS = "ecs"
    AURORA = "aurora"
    ELASTICACHE = "elasticache"


# How long new capacity takes to serve load when nothing has been measured yet: a task pulls its
# image and passes health checks in minutes; a reader or a shard takes far longer.
DEFAULT_WARMUP_SECONDS: dict[Kind, int] = {
    Kind.ECS: 300,
    Kind.AURORA: 900,
    Kind.ELASTICACHE: 1800,
}

# How long the plan must stay lower before capacity is removed, by default. Longer for the data
# tier: when one driver's load falls, the tasks shrink first and the shards last, and the
# capacity slowest to bring back is the last to go.
DEFAULT_STABILISATION_SECONDS: dict[Kind, int] = {
    Kind.ECS: 900,
    Kind.AURORA: 1800,
    Kind.ELASTICACHE: 3600,
}

_ID_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_QUERY_ID_RE = re.compile(r"^[a-z][a-zA-Z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Dimension(_Strict):
    name: str = Field(alias="Name", min_length=1)
    value: str = Field(alias="Value", min_length=1)


class Metric(_Strict):
    namespace: str = Field(alias="Namespace", min_length=1)
    metric_name: str = Field(alias="MetricName", min_length=1)
    dimensions: tuple[Dimension, ...] = Field(default=(), alias="Dimensions")


class MetricStat(_Strict):
    metric: Metric = Field(alias="Metric")
    stat: str = Field(alias="Stat", min_length=1)
    unit: str | None = Field(default=None, alias="Unit")


class MetricDataQuery(_Strict):
    """One CloudWatch ``MetricDataQuery``, spelt as the AWS API spells it so users can paste."""

    id: str = Field(alias="Id")
    expression: str | None = Field(default=None, alias="Expression")
    metric_stat: MetricStat | None = Field(default=None, alias="MetricStat")
    label: str | None = Field(default=None, alias="Label")
    return_data: bool | None = Field(default=None, alias="ReturnData")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _QUERY_ID_RE.match(v):
            raise ValueError("must start with a lowercase letter and hold only letters, digits, _")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> MetricDataQuery:
        if (self.expression is None) == (self.metric_stat is None):
            raise ValueError("give exactly one of Expression or MetricStat")
        return self


class LoadMetric(_Strict):
    """The total load on the target, as AWS predictive scaling's customised load metric.

    Metric math is allowed, but the queries must yield exactly one series: the one returned.
    """

    queries: tuple[MetricDataQuery, ...] = Field(min_length=1, max_length=10)
    period_seconds: int = Field(default=60, ge=60, le=3600)

    @field_validator("period_seconds")
    @classmethod
    def _period_multiple_of_minute(cls, v: int) -> int:
        if v % 60:
            raise ValueError("must be a multiple of 60")
        return v

    @model_validator(mode="after")
    def _one_series(self) -> LoadMetric:
        ids = [q.id for q in self.queries]
        if len(set(ids)) != len(ids):
            raise ValueError(f"query Ids must be unique, got {ids}")
        returned = [q for q in self.queries if q.return_data is not False]
        if len(self.queries) > 1:
            returned = [q for q in self.queries if q.return_data]
        if len(returned) != 1:
            raise ValueError(
                "exactly one query must have ReturnData: true (the total load series); "
                f"got {len(returned)}"
            )
        return self

    @property
    def returned_id(self) -> str:
        if len(self.queries) == 1:
            return self.queries[0].id
        return next(q.id for q in self.queries if q.return_data)

    def to_api(self) -> list[dict[str, Any]]:
        """The queries as ``GetMetricData``/``PutMetricAlarm`` expect them, period filled in."""
        out: list[dict[str, Any]] = []
        for q in self.queries:
            item: dict[str, Any] = {"Id": q.id, "ReturnData": q.id == self.returned_id}
            if q.label:
                item["Label"] = q.label
            if q.expression is not None:
                item["Expression"] = q.expression
            elif q.metric_stat is not None:
                ms = q.metric_stat
                stat: dict[str, Any] = {
                    "Metric": {
                        "Namespace": ms.metric.namespace,
                        "MetricName": ms.metric.metric_name,
                        "Dimensions": [
                            {"Name": d.name, "Value": d.value} for d in ms.metric.dimensions
                        ],
                    },
                    "Period": self.period_seconds,
                    "Stat": ms.stat,
                }
                if ms.unit:
                    stat["Unit"] = ms.unit
                item["MetricStat"] = stat
            out.append(item)
        return out


class ForecastSettings(_Strict):
    enabled: bool = True
    quantile: float = Field(default=0.9, gt=0.5, lt=1.0)
    refresh_seconds: int = Field(default=3600, ge=60, le=86400)


class AlarmSettings(_Strict):
    """The high-load alarm that drives the reactive path.

    Its threshold follows the planned capacity (``threshold_ratio`` x desired x
    ``capacity_per_unit``), so ALARM means exactly "reality beat the plan".
    """

    threshold_ratio: float = Field(default=1.0, gt=0.0, le=2.0)
    evaluation_periods: int = Field(default=3, ge=1, le=30)
    datapoints_to_alarm: int = Field(default=2, ge=1, le=30)
    step: int = Field(default=1, ge=1, le=100)

    @model_validator(mode="after")
    def _m_of_n(self) -> AlarmSettings:
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise ValueError("datapoints_to_alarm must not exceed evaluation_periods")
        return self


class EcsResource(_Strict):
    cluster: str = Field(min_length=1)
    service: str = Field(min_length=1)


class _TargetBase(_Strict):
    id: str
    kind: Kind
    enabled: bool = True
    min_capacity: int = Field(ge=0)
    max_capacity: int = Field(ge=1)
    capacity_per_unit: float = Field(gt=0)
    load_metric: LoadMetric
    driver: str | None = Field(
        default=None, description="the shared load definition this target is planned from"
    )
    warmup_seconds: int | None = Field(default=None, ge=0, le=7200)
    scale_in_stabilisation_seconds: int | None = Field(default=None, ge=0, le=86400)
    evaluate_every_seconds: int = Field(default=60, ge=60, le=3600)
    forecast: ForecastSettings = ForecastSettings()
    alarm: AlarmSettings = AlarmSettings()
    mode: Mode | None = None

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError(
                "must be 1-63 characters: lowercase letters, digits and '-', starting with a letter"
            )
        return v

    @property
    def effective_stabilisation_seconds(self) -> int:
        """The configured scale-in window, or the kind's default (front tier shortest)."""
        if self.scale_in_stabilisation_seconds is not None:
            return self.scale_in_stabilisation_seconds
        return DEFAULT_STABILISATION_SECONDS[self.kind]

    @property
    def forecast_key(self) -> str:
        """Where this target's forecast lives: its driver's (shared) or its own."""
        return f"DRIVER#{self.driver}" if self.driver else f"TARGET#{self.id}"

    @property
    def effective_warmup_seconds(self) -> int:
        """The configured warm-up, or the default for the kind when none is configured."""
        if self.warmup_seconds is not None:
            return self.warmup_seconds
        return DEFAULT_WARMUP_SECONDS[self.kind]

    @model_validator(mode="after")
    def _bounds(self) -> _TargetBase:
        if self.min_capacity > self.max_capacity:
            raise ValueError(
                f"min_capacity ({self.min_capacity}) exceeds max_capacity ({self.max_capacity})"
            )
        return self


class EcsTarget(_TargetBase):
    """An ECS service; capacity is its desired task count."""

    kind: Literal[Kind.ECS]
    resource: EcsResource

    @property
    def resource_name(self) -> str:
        return f"{self.resource.cluster}/{self.resource.service}"


# Aurora allows at most 15 Aurora Replicas (readers) per DB cluster.
AURORA_MAX_READERS = 15


class AuroraResource(_Strict):
    cluster: str = Field(min_length=1, description="DBClusterIdentifier")


class AuroraTarget(_TargetBase):
    """An Aurora DB cluster; capacity is its number of reader instances (never the writer)."""

    kind: Literal[Kind.AURORA]
    resource: AuroraResource
    min_capacity: int = Field(ge=0, le=AURORA_MAX_READERS)
    max_capacity: int = Field(ge=1, le=AURORA_MAX_READERS)
    instance_class: str | None = Field(
        default=None, description="class of the readers added; default: the writer's"
    )
    fallback_instance_classes: tuple[str, ...] = Field(
        default=(), description="tried in order on InsufficientDBInstanceCapacity"
    )
    keep_one_reader: bool = Field(
        default=False, description="read availability: never remove the last reader"
    )

    @property
    def resource_name(self) -> str:
        return self.resource.cluster


class ElastiCacheResource(_Strict):
    replication_group: str = Field(min_length=1, description="ReplicationGroupId")


class ElastiCacheTarget(_TargetBase):
    """A cluster-mode-enabled Redis OSS/Valkey replication group; capacity is its shards."""

    kind: Literal[Kind.ELASTICACHE]
    resource: ElastiCacheResource
    min_capacity: int = Field(ge=1, le=500)
    max_capacity: int = Field(ge=1, le=500)
    max_memory_fill: float = Field(
        default=0.75, gt=0.0, le=0.95, description="highest share of node memory to fill"
    )
    max_cpu_for_scale_in: float = Field(
        default=80.0, gt=0.0, le=100.0, description="EngineCPUUtilization above which no scale-in"
    )
    max_shards_per_action: int = Field(default=2, ge=1, le=50)

    @property
    def resource_name(self) -> str:
        return self.resource.replication_group


Target = EcsTarget | AuroraTarget | ElastiCacheTarget
_AnyTarget = Annotated[Target, Field(discriminator="kind")]
_TARGET_ADAPTER: TypeAdapter[Target] = TypeAdapter(_AnyTarget)

# Kinds whose adapters are wired into the control plane; the others validate but are refused
# when applied, with a message saying so, until their adapter lands.
SUPPORTED_KINDS = frozenset(Kind)


class Driver(_Strict):
    """One load shared by several targets (requests at the load balancer, typically): one
    forecast then plans the tasks, the readers and the shards, each with its own
    ``capacity_per_unit`` and warm-up."""

    load_metric: LoadMetric
    forecast: ForecastSettings = ForecastSettings()


class TargetFile(_Strict):
    drivers: dict[str, Driver] = Field(default_factory=dict)
    targets: tuple[_AnyTarget, ...]

    @field_validator("drivers")
    @classmethod
    def _driver_names(cls, v: dict[str, Driver]) -> dict[str, Driver]:
        for name in v:
            if not _ID_RE.match(name):
                raise ValueError(f"driver name {name!r}: lowercase letters, digits and '-'")
        return v

    @model_validator(mode="after")
    def _unique_ids(self) -> TargetFile:
        if not self.targets:
            raise ValueError("the file declares no targets")
        ids = [t.id for t in self.targets]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"target ids must be unique; repeated: {dupes}")
        return self


class TargetError(ValueError):
    """A target definition that must not be applied; the message names each bad field."""


def _describe(err: ValidationError, prefix: str = "") -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if p not in {k.value for k in Kind})
        where = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "target"
        lines.append(f"{where}: {e['msg']}")
    return "; ".join(lines)


def parse_targets(data: Any) -> tuple[Target, ...]:
    """Validate a target file's content (``{"targets": [...]}``) or raise ``TargetError``."""
    if isinstance(data, dict) and isinstance(data.get("targets"), list):
        kinds = [t.get("kind") if isinstance(t, dict) else None for t in data["targets"]]
        for i, k in enumerate(kinds):
            if k is None:
                raise TargetError(
                    f"targets.{i}.kind: field required; one of {[x.value for x in Kind]}"
                )
            if k not in {x.value for x in Kind}:
                raise TargetError(
                    f"targets.{i}.kind: unknown kind {k!r}; expected one of "
                    f"{[x.value for x in Kind]}"
                )
            if Kind(k) not in SUPPORTED_KINDS:
                raise TargetError(f"targets.{i}.kind: {k!r} is not supported yet")
    try:
        return TargetFile.model_validate(_resolve_drivers(data)).targets
    except ValidationError as err:
        raise TargetError(_describe(err)) from None


def _resolve_drivers(data: Any) -> Any:
    """Give every target that names a driver the driver's load metric and forecast settings.

    A target names a driver or has its own ``load_metric``, never both: two definitions of the
    same load would silently disagree.
    """
    if not isinstance(data, dict) or not isinstance(data.get("targets"), list):
        return data
    drivers = data.get("drivers") or {}
    if not isinstance(drivers, dict):
        raise TargetError("drivers: must be a mapping of name to {load_metric, forecast}")
    out = []
    for i, t in enumerate(data["targets"]):
        name = t.get("driver") if isinstance(t, dict) else None
        if name is None:
            out.append(t)
            continue
        if name not in drivers:
            raise TargetError(f"targets.{i}.driver: no driver {name!r} in drivers")
        if "load_metric" in t or "forecast" in t:
            raise TargetError(
                f"targets.{i}: a target with a driver takes its load_metric and forecast "
                "from the driver; remove them here"
            )
        d = drivers[name] if isinstance(drivers[name], dict) else {}
        out.append({**t, "load_metric": d.get("load_metric"), "forecast": d.get("forecast", {})})
    return {**data, "targets": out}


def parse_target(data: Any) -> Target:
    """Validate one target (as stored in DynamoDB) or raise ``TargetError``."""
    try:
        return _TARGET_ADAPTER.validate_python(data)
    except ValidationError as err:
        raise TargetError(_describe(err)) from None
