"""What a user declares about one scalable resource, validated before it reaches DynamoDB.

A bad definition must be refused with a message naming the field, because a target that loads
but means something else (a max below min, a load metric that yields two series) would scale
the wrong thing at three in the morning.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from scaleahead.domain.kinds import KINDS, KindSpec
from scaleahead.domain.kinds import Kind as Kind  # re-exported: Kind has always lived here
from scaleahead.domain.mode import Mode
from scaleahead.domain.target_record import (
    COMPACT_VERSION,
    Derived,
    definition_digest,
    queries_to_api,
    returned_query_id,
)

# Defined beside the compact record, where code that only catches it can import it without
# pydantic; re-exported: TargetError has always lived here.
from scaleahead.domain.target_record import TargetError as TargetError

# Each kind's defaults, bounds and unit words are its KindSpec's (``domain.kinds``); these two
# views of the defaults are kept for the tools that read them by kind.
DEFAULT_WARMUP_SECONDS: dict[Kind, int] = {k: s.warmup_seconds for k, s in KINDS.items()}
DEFAULT_STABILISATION_SECONDS: dict[Kind, int] = {
    k: s.stabilisation_seconds for k, s in KINDS.items()
}
_ECS = KINDS[Kind.ECS]
_AURORA = KINDS[Kind.AURORA]
_ELASTICACHE = KINDS[Kind.ELASTICACHE]
_MEMCACHED = KINDS[Kind.MEMCACHED]
_ASG = KINDS[Kind.ASG]

# Ids become DynamoDB keys (``TARGET#<id>``, ``DRIVER#<name>``) and alarm names, so no '#',
# '/', upper case or space. ``fullmatch``, never ``match`` with ``$``: ``$`` also matches before
# a trailing newline, and "web\n" must not pass for "web".
TARGET_ID = re.compile(r"[a-z][a-z0-9-]{0,62}")
# CloudWatch MetricDataQuery Id: 1-255 characters, first a lowercase letter (botocore model).
_QUERY_ID_RE = re.compile(r"[a-z][a-zA-Z0-9_]{0,254}")

# No silent coercion: a quoted '3' is not an int, 'yes' is not a bool, and 3.0 is not an int.
# Ints are still accepted where a float is expected. Only numbers and booleans are strict: strict
# mode would also refuse the plain strings that Enum fields (kind, mode) are given.
StrictInt = Annotated[int, Strict()]
StrictFloat = Annotated[float, Strict()]
StrictBool = Annotated[bool, Strict()]

# Limits below marked "CloudWatch" are PutMetricAlarm's own (botocore's service model for
# MetricDataQuery, Metric, Dimension; the API reference for units and the evaluation range):
# a definition that breaks one would pass validation and then fail halfway through an apply.
_CW_NAME_MAX = 255  # Namespace, MetricName, Dimension Name, MetricDataQuery Id
_CW_DIMENSION_VALUE_MAX = 1024
_CW_DIMENSIONS_MAX = 30
_CW_EXPRESSION_MAX = 2048
_CW_UNITS = frozenset(
    [
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ]
)
# CloudWatch: Period x EvaluationPeriods may not exceed one day when the period is under an hour
# (seven days otherwise, which 3600 s x 30 periods never reaches).
_CW_EVALUATION_RANGE_MAX = 86_400

# A stored definition is one DynamoDB item (at most 400 KB); a target is a few hundred bytes, so
# anything near this is a mistake or an attack, refused before it is written.
MAX_DEFINITION_BYTES = 64 * 1024


class _Strict(BaseModel):
    # allow_inf_nan=False: .inf and .nan are refused in every float field.
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )


class Dimension(_Strict):
    name: str = Field(alias="Name", min_length=1, max_length=_CW_NAME_MAX)
    value: str = Field(alias="Value", min_length=1, max_length=_CW_DIMENSION_VALUE_MAX)


class Metric(_Strict):
    namespace: str = Field(
        alias="Namespace", min_length=1, max_length=_CW_NAME_MAX, pattern=r"^[^:]"
    )
    metric_name: str = Field(alias="MetricName", min_length=1, max_length=_CW_NAME_MAX)
    dimensions: tuple[Dimension, ...] = Field(
        default=(), alias="Dimensions", max_length=_CW_DIMENSIONS_MAX
    )


class MetricStat(_Strict):
    metric: Metric = Field(alias="Metric")
    stat: str = Field(alias="Stat", min_length=1, max_length=_CW_NAME_MAX)
    unit: str | None = Field(default=None, alias="Unit")

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, v: str | None) -> str | None:
        if v is not None and v not in _CW_UNITS:
            raise ValueError(
                "must be a CloudWatch unit (Count, Percent, Seconds, Bytes, Count/Second...)"
            )
        return v


class MetricDataQuery(_Strict):
    """One CloudWatch ``MetricDataQuery``, spelt as the AWS API spells it so users can paste."""

    id: str = Field(alias="Id")
    expression: str | None = Field(
        default=None, alias="Expression", min_length=1, max_length=_CW_EXPRESSION_MAX
    )
    metric_stat: MetricStat | None = Field(default=None, alias="MetricStat")
    label: str | None = Field(default=None, alias="Label", max_length=1024)
    return_data: StrictBool | None = Field(default=None, alias="ReturnData")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _QUERY_ID_RE.fullmatch(v):
            raise ValueError(
                "must be 1-255 characters, start with a lowercase letter and hold only "
                "letters, digits, _"
            )
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
    period_seconds: StrictInt = Field(default=60, ge=60, le=3600)
    # Where the metric is published, when not in the functions' region: CloudFront's metrics
    # live in us-east-1 only. None: the functions' own region.
    region: str | None = Field(
        default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$", description="e.g. us-east-1"
    )

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
        return returned_query_id(self.queries)

    def to_api(self) -> list[dict[str, Any]]:
        """The queries as ``GetMetricData``/``PutMetricAlarm`` expect them, period filled in."""
        return queries_to_api(self.queries, self.period_seconds, self.returned_id)


class ForecastSettings(_Strict):
    enabled: StrictBool = True
    quantile: StrictFloat = Field(default=0.9, gt=0.5, lt=1.0)
    refresh_seconds: StrictInt = Field(default=3600, ge=60, le=86400)


# capacity_per_unit is the load one task/reader/shard serves, in the load metric's units. The
# alarm threshold is desired x capacity_per_unit x threshold_ratio, rounded to 6 decimals when
# the alarm is put: with capacity_per_unit >= 1e-3 and threshold_ratio >= 0.1 the smallest
# threshold (1e-4) keeps its digits instead of rounding to 0 (an alarm always in ALARM). 1e12
# per unit x 5,000 units (the most of any kind: an ECS service's tasks) x 2 is still an exact,
# finite CloudWatch threshold; more than a trillion units of load per task means the metric's
# unit is wrong.
CAPACITY_PER_UNIT_MIN = 1e-3
CAPACITY_PER_UNIT_MAX = 1e12


class AlarmSettings(_Strict):
    """The high-load alarm that drives the reactive path.

    Its threshold follows the planned capacity (``threshold_ratio`` x desired x
    ``capacity_per_unit``), so ALARM means exactly "reality beat the plan".

    ``max_step_ratio`` and ``max_step_units`` cap how far ONE alarm episode may raise capacity
    above the capacity the episode started from (``start``): the episode raises it to at most
    ``max(start + step, min(ceil(start * max_step_ratio), start + max_step_units))``. The
    ratio keeps a small fleet from jumping tenfold on one noisy alarm; the units keep a large
    fleet's ratio from meaning thousands of tasks at once; ``step`` is always allowed.
    """

    # Below 0.1 the alarm would fire at a tenth of the planned capacity: always in ALARM.
    threshold_ratio: StrictFloat = Field(default=1.0, ge=0.1, le=2.0)
    evaluation_periods: StrictInt = Field(default=3, ge=1, le=30)
    datapoints_to_alarm: StrictInt = Field(default=2, ge=1, le=30)
    step: StrictInt = Field(default=1, ge=1, le=100)
    max_step_ratio: StrictFloat = Field(default=3.0, ge=1.0, le=100.0)
    max_step_units: StrictInt = Field(default=50, ge=1, le=_ECS.max_capacity)

    @model_validator(mode="after")
    def _m_of_n(self) -> AlarmSettings:
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise ValueError("datapoints_to_alarm must not exceed evaluation_periods")
        if self.step > self.max_step_units:
            raise ValueError(
                f"step ({self.step}) exceeds max_step_units ({self.max_step_units}): one "
                "alarm episode could never take the step it asks for"
            )
        return self


class EcsResource(_Strict):
    # a name (1-255) or an ARN, which holds the name
    cluster: str = Field(min_length=1, max_length=1024)
    service: str = Field(min_length=1, max_length=1024)


class _TargetBase(Derived, _Strict):
    id: str
    kind: Kind
    enabled: StrictBool = True
    min_capacity: StrictInt = Field(ge=0)
    max_capacity: StrictInt = Field(ge=1)
    capacity_per_unit: StrictFloat = Field(ge=CAPACITY_PER_UNIT_MIN, le=CAPACITY_PER_UNIT_MAX)
    load_metric: LoadMetric
    driver: str | None = Field(
        default=None, description="the shared load definition this target is planned from"
    )
    warmup_seconds: StrictInt | None = Field(default=None, ge=0, le=7200)
    scale_in_stabilisation_seconds: StrictInt | None = Field(default=None, ge=0, le=86400)
    evaluate_every_seconds: StrictInt = Field(default=60, ge=60, le=3600)
    forecast: ForecastSettings = ForecastSettings()
    alarm: AlarmSettings = AlarmSettings()
    mode: Mode | None = None

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not TARGET_ID.fullmatch(v):
            raise ValueError(
                "must be 1-63 characters: lowercase letters, digits and '-', starting with a letter"
            )
        return v

    @model_validator(mode="after")
    def _bounds(self) -> _TargetBase:
        if self.min_capacity > self.max_capacity:
            raise ValueError(
                f"min_capacity ({self.min_capacity}) exceeds max_capacity ({self.max_capacity})"
            )
        period = self.load_metric.period_seconds
        if period < 3600 and period * self.alarm.evaluation_periods > _CW_EVALUATION_RANGE_MAX:
            raise ValueError(
                f"alarm.evaluation_periods ({self.alarm.evaluation_periods}) x "
                f"load_metric.period_seconds ({period}) exceeds one day, the longest range "
                "CloudWatch evaluates for a period under an hour"
            )
        size = len(self.model_dump_json(by_alias=True, exclude_none=True).encode())
        if size > MAX_DEFINITION_BYTES:
            raise ValueError(f"the definition is {size} bytes; at most {MAX_DEFINITION_BYTES}")
        return self


class EcsTarget(_TargetBase):
    """An ECS service; capacity is its desired task count."""

    kind: Literal[Kind.ECS]
    resource: EcsResource
    min_capacity: StrictInt = Field(ge=_ECS.min_capacity, le=_ECS.max_capacity)
    max_capacity: StrictInt = Field(ge=1, le=_ECS.max_capacity)


class AuroraResource(_Strict):
    # DBClusterIdentifier: 1-63 letters, digits or hyphens (RDS CreateDBCluster)
    cluster: str = Field(min_length=1, max_length=63, description="DBClusterIdentifier")


class AuroraTarget(_TargetBase):
    """An Aurora DB cluster; capacity is its number of reader instances (never the writer)."""

    kind: Literal[Kind.AURORA]
    resource: AuroraResource
    min_capacity: StrictInt = Field(ge=_AURORA.min_capacity, le=_AURORA.max_capacity)
    max_capacity: StrictInt = Field(ge=1, le=_AURORA.max_capacity)
    instance_class: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="class of the readers added; default: the writer's",
    )
    fallback_instance_classes: tuple[str, ...] = Field(
        default=(), max_length=10, description="tried in order on InsufficientDBInstanceCapacity"
    )
    keep_one_reader: StrictBool = Field(
        default=False, description="read availability: never remove the last reader"
    )


class ElastiCacheResource(_Strict):
    # ReplicationGroupId: 1-40 letters, digits or hyphens (ElastiCache CreateReplicationGroup)
    replication_group: str = Field(min_length=1, max_length=40, description="ReplicationGroupId")


def _per_change(spec: KindSpec) -> int:
    """The kind's default limit of units added per change, which its targets may set."""
    if spec.max_units_per_change is None:
        raise ValueError(f"KINDS[{spec.kind}] sets no max_units_per_change")
    return spec.max_units_per_change


class ElastiCacheTarget(_TargetBase):
    """A cluster-mode-enabled Redis OSS/Valkey replication group; capacity is its shards."""

    kind: Literal[Kind.ELASTICACHE]
    resource: ElastiCacheResource
    min_capacity: StrictInt = Field(ge=_ELASTICACHE.min_capacity, le=_ELASTICACHE.max_capacity)
    max_capacity: StrictInt = Field(ge=1, le=_ELASTICACHE.max_capacity)
    # Below 5 % the memory floor would ask for 20x the shards the data needs.
    max_memory_fill: StrictFloat = Field(
        default=0.75, ge=0.05, le=0.95, description="highest share of node memory to fill"
    )
    # Below 1 % CPU no shard would ever be removed.
    max_cpu_for_scale_in: StrictFloat = Field(
        default=80.0, ge=1.0, le=100.0, description="EngineCPUUtilization above which no scale-in"
    )
    max_shards_per_action: StrictInt = Field(default=_per_change(_ELASTICACHE), ge=1, le=50)


class MemcachedResource(_Strict):
    # CacheClusterId: 1-50 letters, digits or hyphens (ElastiCache CreateCacheCluster)
    cache_cluster: str = Field(min_length=1, max_length=50, description="CacheClusterId")


class MemcachedTarget(_TargetBase):
    """An ElastiCache for Memcached cluster; capacity is its number of cache nodes."""

    kind: Literal[Kind.MEMCACHED]
    resource: MemcachedResource
    min_capacity: StrictInt = Field(ge=_MEMCACHED.min_capacity, le=_MEMCACHED.max_capacity)
    max_capacity: StrictInt = Field(ge=1, le=_MEMCACHED.max_capacity)
    # Below 5 % the memory guard would keep 20x the nodes the data needs.
    max_memory_fill: StrictFloat = Field(
        default=0.75, ge=0.05, le=0.95, description="highest share of item memory to fill"
    )
    # 0: any eviction in the window (memory already short) forbids removing a node.
    max_evictions_per_minute: StrictFloat = Field(
        default=0.0, ge=0.0, le=1e9, description="Evictions a node may show and still lose a peer"
    )


class AsgResource(_Strict):
    # AutoScalingGroupName: 1-255 characters (EC2 Auto Scaling CreateAutoScalingGroup)
    auto_scaling_group: str = Field(min_length=1, max_length=255, description="group name")


class AsgTarget(_TargetBase):
    """An EC2 Auto Scaling group; capacity is its desired capacity."""

    kind: Literal[Kind.ASG]
    resource: AsgResource
    min_capacity: StrictInt = Field(ge=_ASG.min_capacity, le=_ASG.max_capacity)
    max_capacity: StrictInt = Field(ge=1, le=_ASG.max_capacity)


Target = EcsTarget | AuroraTarget | ElastiCacheTarget | MemcachedTarget | AsgTarget
_AnyTarget = Annotated[Target, Field(discriminator="kind")]
_TARGET_ADAPTER: TypeAdapter[Target] = TypeAdapter(_AnyTarget)

# Kinds whose adapters are wired into the control plane (every kind with a spec: the wiring builds
# one adapter per spec); the others validate but are refused when applied, with a message saying
# so, until their adapter lands.
SUPPORTED_KINDS = frozenset(KINDS)


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
            if not TARGET_ID.fullmatch(name):
                raise ValueError(
                    f"driver name {_short(name)}: 1-63 lowercase letters, digits and '-', "
                    "starting with a letter"
                )
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


def _short(value: Any, limit: int = 40) -> str:
    """A value quoted in a message: repr'd (no control characters reach the terminal) and cut."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


_TYPE_HINTS = {
    "int_type": "write a whole number without quotes",
    "float_type": "write a number without quotes",
    "bool_type": "write true or false without quotes",
}


def _target_id(data: Any, index: Any) -> str | None:
    """The id of ``targets[index]`` in the raw file content, if it is a valid id."""
    if not isinstance(index, int) or not isinstance(data, dict):
        return None
    targets = data.get("targets")
    if not isinstance(targets, list) or not 0 <= index < len(targets):
        return None
    t = targets[index]
    tid = t.get("id") if isinstance(t, dict) else None
    return tid if isinstance(tid, str) and TARGET_ID.fullmatch(tid) else None


def _describe(err: ValidationError, prefix: str = "", data: Any = None) -> str:
    lines = []
    errors = err.errors()
    for e in errors:
        if e["type"] == "too_short" and any(
            o is not e and o["loc"][: len(e["loc"])] == e["loc"] for o in errors
        ):
            continue  # "tuple should have at least 1 item" only because its item was refused
        loc = ".".join(str(p) for p in e["loc"] if p not in {k.value for k in Kind})
        where = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "target"
        msg = e["msg"]
        hint = _TYPE_HINTS.get(e["type"])
        if hint and isinstance(e.get("input"), str):
            # a quoted '3' or 'yes': refused rather than coerced
            msg = f"{msg}, got the string {_short(e['input'])}; {hint}"
        elif hint and e["type"] == "int_type" and isinstance(e.get("input"), float):
            msg = f"{msg}, got {_short(e['input'])}; {hint}"
        line = f"{where}: {msg}"
        if e["loc"][:1] == ("targets",) and len(e["loc"]) > 1:
            tid = _target_id(data, e["loc"][1])
            if tid:
                line += f" (target {tid})"
        lines.append(line)
    return "; ".join(lines)


def _kind_problems(data: Any) -> list[str]:
    """Every target's missing, unknown or unsupported kind, all of them at once."""
    if not isinstance(data, dict) or not isinstance(data.get("targets"), list):
        return []
    known = [x.value for x in Kind]
    problems = []
    for i, t in enumerate(data["targets"]):
        k = t.get("kind") if isinstance(t, dict) else None
        if k is None:
            problems.append(f"targets.{i}.kind: field required; one of {known}")
        elif not isinstance(k, str) or k not in known:
            problems.append(f"targets.{i}.kind: unknown kind {_short(k)}; expected one of {known}")
        elif Kind(k) not in SUPPORTED_KINDS:
            problems.append(f"targets.{i}.kind: {k!r} is not supported yet")
    return problems


def parse_targets(data: Any) -> tuple[Target, ...]:
    """Validate a target file's content (``{"targets": [...]}``) or raise ``TargetError``.

    Every problem found is reported, each naming its field (and target, when its id is valid).
    """
    if data is None:
        raise TargetError("the file is empty; it must hold a mapping with a 'targets' list")
    if not isinstance(data, dict):
        raise TargetError(
            f"the top level must be a mapping (drivers:, targets:), not a {type(data).__name__}"
        )
    problems = _kind_problems(data)
    resolved, driver_problems = _resolve_drivers(data)
    problems += driver_problems
    if problems:
        raise TargetError("; ".join(problems))
    try:
        return TargetFile.model_validate(resolved).targets
    except ValidationError as err:
        raise TargetError(_describe(err, data=data)) from None


def _resolve_drivers(data: dict[str, Any]) -> tuple[Any, list[str]]:
    """Give every target that names a driver the driver's load metric and forecast settings.

    A target names a driver or has its own ``load_metric``, never both: two definitions of the
    same load would silently disagree. Returns the resolved content and every problem found.
    """
    if not isinstance(data.get("targets"), list):
        return data, []
    drivers = data.get("drivers") or {}
    if not isinstance(drivers, dict):
        return data, ["drivers: must be a mapping of name to {load_metric, forecast}"]
    out = []
    problems = []
    for i, t in enumerate(data["targets"]):
        name = t.get("driver") if isinstance(t, dict) else None
        if name is None:
            out.append(t)
            continue
        if not isinstance(name, str):
            problems.append(f"targets.{i}.driver: must be a driver name, got {_short(name)}")
            continue
        if name not in drivers:
            problems.append(f"targets.{i}.driver: no driver {_short(name)} in drivers")
            continue
        if "load_metric" in t or "forecast" in t:
            problems.append(
                f"targets.{i}: a target with a driver takes its load_metric and forecast "
                "from the driver; remove them here"
            )
            continue
        d = drivers[name] if isinstance(drivers[name], dict) else {}
        out.append({**t, "load_metric": d.get("load_metric"), "forecast": d.get("forecast", {})})
    return {**data, "targets": out}, problems


def parse_target(data: Any) -> Target:
    """Validate one target (as stored in DynamoDB) or raise ``TargetError``."""
    try:
        return _TARGET_ADAPTER.validate_python(data)
    except ValidationError as err:
        raise TargetError(_describe(err)) from None


def stored_definition(target: Target) -> str:
    """The definition as the store keeps it (JSON by alias, no nulls): what is validated again
    by ``parse_target`` and what a compact record's digest covers."""
    return target.model_dump_json(by_alias=True, exclude_none=True)


def compact_record(target: Target, definition: str | None = None) -> str:
    """The compact record of a validated ``target`` (``domain.target_record``), as the JSON the
    store keeps beside ``definition`` (``stored_definition(target)`` when not given): every
    field by name, every default resolved, under the schema version and the definition's
    digest, so that the alarm path can read it without pydantic and never trust a stale one."""
    if definition is None:
        definition = stored_definition(target)
    return json.dumps(
        {
            "v": COMPACT_VERSION,
            "of": definition_digest(definition),
            "target": target.model_dump(mode="json"),
        },
        separators=(",", ":"),
    )
