"""A target as the alarm path reads it: a compact record, validated when it was written.

Building the pydantic ``Target`` (``domain.target``) costs the alarm function a fifth of a
second of cold start for pydantic alone (issue 15), yet every stored definition was already
validated by that model when it was written. So the store writes, beside the definition, this
compact record of it (``compact_record``, made from the validated model): every field, with
every default resolved, under a schema version and the SHA-256 of the exact definition it was
made from. The alarm path reads it back into plain frozen dataclasses (``read_compact``) that
have the model's attributes, names and values, properties included, without importing pydantic.

A record is used only when all of these hold; otherwise ``read_compact`` says why and the
caller validates the full definition with the model (slow, but never wrong):

- it is there (a writer older than this module wrote none),
- its ``v`` is ``COMPACT_VERSION`` (bumped whenever a field of the model is added, removed or
  changes meaning: ``tests/test_alarm_import.py`` fails until it is),
- its ``of`` is the digest of the definition stored with it (no definition updated by a writer
  that left an older record behind),
- every field is there with its type (no truncated or hand-edited record).

Nothing here imports pydantic, numpy or boto3. The dataclasses stand in for the model's classes
(``EcsTarget``...) wherever the services take a ``Target``: the services read attributes only,
and the adapters narrow by ``kind``. ``TargetError`` lives here so that code catching it need
not import the model; ``domain.target`` re-exports it.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, NoReturn, Protocol, TypeVar, cast

from scaleahead.domain.kinds import KINDS, Kind, Setting
from scaleahead.domain.mode import Mode

# The compact record's shape. Bump it with any change to the model's fields: a record of
# another version is never read, the definition is validated instead.
COMPACT_VERSION = 2  # 2: load_metric.region


class TargetError(ValueError):
    """A target definition that must not be applied; the message names each bad field."""


class CompactError(ValueError):
    """A compact record that is missing, of another version, stale or malformed."""


def definition_digest(definition: str) -> str:
    """What ties a compact record to the one definition it was made from."""
    return hashlib.sha256(definition.encode()).hexdigest()


class _Record:
    """A frozen record with slots, keyword-constructed: what ``@dataclass(frozen=True)`` gives,
    without its cost on import (it generates and compiles each class's methods: 11 ms for
    these fourteen classes, a fifth of the alarm function's whole import budget)."""

    __slots__: ClassVar[tuple[str, ...]] = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls) -> None:
        # In declaration order (the annotations'), which positional construction follows;
        # ``__slots__`` holds the same names, in any order (a linter may sort them). Only
        # records declare fields: a mixin's annotations (``Derived``) are not.
        cls._fields = tuple(
            f
            for c in reversed(cls.__mro__)
            if issubclass(c, _Record) and c is not _Record
            for f in inspect.get_annotations(c)
        )
        slots = {f for c in cls.__mro__ for f in c.__dict__.get("__slots__", ())}
        if set(cls._fields) != slots:
            raise TypeError(f"{cls.__name__}: __slots__ and the annotated fields differ")

    def __init__(self, *args: Any, **values: Any) -> None:
        if len(args) > len(self._fields):
            raise TypeError(f"{type(self).__name__}: {len(args)} values for {self._fields}")
        values.update(zip(self._fields, args, strict=False))
        for name in self._fields:
            object.__setattr__(self, name, values.pop(name))  # KeyError: a field is missing
        if values:
            raise TypeError(f"{type(self).__name__}: unknown fields {sorted(values)}")

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and all(
            getattr(self, f) == getattr(other, f) for f in self._fields
        )

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, f) for f in self._fields))

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({inner})"


class Dimension(_Record):
    __slots__ = ("name", "value")
    name: str
    value: str


class Metric(_Record):
    __slots__ = ("dimensions", "metric_name", "namespace")
    namespace: str
    metric_name: str
    dimensions: tuple[Dimension, ...]


class MetricStat(_Record):
    __slots__ = ("metric", "stat", "unit")
    metric: Metric
    stat: str
    unit: str | None


class MetricDataQuery(_Record):
    __slots__ = ("expression", "id", "label", "metric_stat", "return_data")
    id: str
    expression: str | None
    metric_stat: MetricStat | None
    label: str | None
    return_data: bool | None


class LoadMetric(_Record):
    __slots__ = ("period_seconds", "queries", "region")
    queries: tuple[MetricDataQuery, ...]
    period_seconds: int
    region: str | None

    @property
    def returned_id(self) -> str:
        return returned_query_id(self.queries)

    def to_api(self) -> list[dict[str, Any]]:
        """As ``domain.target.LoadMetric.to_api``: the one ``queries_to_api``."""
        return queries_to_api(self.queries, self.period_seconds, self.returned_id)


class ForecastSettings(_Record):
    __slots__ = ("enabled", "quantile", "refresh_seconds")
    enabled: bool
    quantile: float
    refresh_seconds: int


class AlarmSettings(_Record):
    __slots__ = (
        "datapoints_to_alarm",
        "evaluation_periods",
        "max_step_ratio",
        "max_step_units",
        "step",
        "threshold_ratio",
    )
    threshold_ratio: float
    evaluation_periods: int
    datapoints_to_alarm: int
    step: int
    max_step_ratio: float
    max_step_units: int


class _Fields(Protocol):
    """The fields ``Derived`` reads, as the model and the compact record both declare them."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> Kind: ...
    @property
    def driver(self) -> str | None: ...
    @property
    def warmup_seconds(self) -> int | None: ...
    @property
    def scale_in_stabilisation_seconds(self) -> int | None: ...
    @property
    def resource(self) -> Any: ...


class Derived:
    """What a target's settings imply, defined once for the model (``domain.target``) and the
    compact record alike, so the alarm path and the worker can never read them differently."""

    __slots__: ClassVar[tuple[str, ...]] = ()

    @property
    def effective_stabilisation_seconds(self: _Fields) -> int:
        """The configured scale-in window, or the kind's default (front tier shortest)."""
        if self.scale_in_stabilisation_seconds is not None:
            return self.scale_in_stabilisation_seconds
        return KINDS[self.kind].stabilisation_seconds

    @property
    def resource_name(self: _Fields) -> str:
        """The resource in messages: its fields' values in the spec's order ("prod/web")."""
        return "/".join(str(getattr(self.resource, f)) for f in KINDS[self.kind].resource_fields)

    @property
    def forecast_key(self: _Fields) -> str:
        """Where this target's forecast lives: its driver's (shared) or its own."""
        return f"DRIVER#{self.driver}" if self.driver else f"TARGET#{self.id}"

    @property
    def effective_warmup_seconds(self: _Fields) -> int:
        """The configured warm-up, or the default for the kind when none is configured."""
        if self.warmup_seconds is not None:
            return self.warmup_seconds
        return KINDS[self.kind].warmup_seconds


class _TargetRecord(Derived, _Record):
    __slots__ = (
        "alarm",
        "capacity_per_unit",
        "driver",
        "enabled",
        "evaluate_every_seconds",
        "forecast",
        "id",
        "kind",
        "load_metric",
        "max_capacity",
        "min_capacity",
        "mode",
        "scale_in_stabilisation_seconds",
        "warmup_seconds",
    )
    id: str
    kind: Kind
    enabled: bool
    min_capacity: int
    max_capacity: int
    capacity_per_unit: float
    load_metric: LoadMetric
    driver: str | None
    warmup_seconds: int | None
    scale_in_stabilisation_seconds: int | None
    evaluate_every_seconds: int
    forecast: ForecastSettings
    alarm: AlarmSettings
    mode: Mode | None


def _class(name: str, base: type[_Record], fields: Mapping[str, str]) -> type[_Record]:
    """A record class with these annotated fields (name -> type, as text), made at import."""
    return type(name, (base,), {"__slots__": tuple(fields), "__annotations__": dict(fields)})


def _annotation(s: Setting) -> str:
    text = f"tuple[{s.type.__name__}, ...]" if s.many else s.type.__name__
    return f"{text} | None" if s.optional else text


# Each kind's record class, made from its spec: the resource's fields, then the kind's own
# settings (``KindSpec.settings``), so a new kind needs nothing here.
_RESOURCES: dict[Kind, type[_Record]] = {
    k: _class(f"{k.name.title()}Resource", _Record, {f: "str" for f in spec.resource_fields})
    for k, spec in KINDS.items()
}
RECORDS: dict[Kind, type[_TargetRecord]] = {
    k: cast(
        "type[_TargetRecord]",
        _class(
            f"{k.name.title()}TargetRecord",
            _TargetRecord,
            {"resource": "Any"} | {s.name: _annotation(s) for s in spec.settings},
        ),
    )
    for k, spec in KINDS.items()
}
# Any kind's record: what ``read_compact`` returns.
TargetRecord = _TargetRecord

# --- reading a record back: every field present and of its type, or CompactError ------------

V = TypeVar("V")


def _req(d: Mapping[str, Any], key: str, typ: type[V]) -> V:
    if not isinstance(d, Mapping) or key not in d:
        raise CompactError(f"field {key!r} is missing")
    value = d[key]
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)  # JSON writes 100.0 as 100 no more, but an int is a whole float
    if not isinstance(value, typ) or (typ is not bool and isinstance(value, bool)):
        raise CompactError(f"field {key!r} is a {type(value).__name__}, not a {typ.__name__}")
    return value


def _opt(d: Mapping[str, Any], key: str, typ: type[V]) -> V | None:
    if isinstance(d, Mapping) and key in d and d[key] is None:
        return None
    return _req(d, key, typ)


def _each(d: Mapping[str, Any], key: str, make: Callable[[Any], V]) -> tuple[V, ...]:
    return tuple(make(x) for x in _req(d, key, list))


def _dimension(d: Any) -> Dimension:
    return Dimension(_req(d, "name", str), _req(d, "value", str))


def _metric(d: Any) -> Metric:
    return Metric(
        _req(d, "namespace", str), _req(d, "metric_name", str), _each(d, "dimensions", _dimension)
    )


def _metric_stat(d: Any) -> MetricStat:
    return MetricStat(_metric(_req(d, "metric", dict)), _req(d, "stat", str), _opt(d, "unit", str))


def _query(d: Any) -> MetricDataQuery:
    ms = _opt(d, "metric_stat", dict)
    return MetricDataQuery(
        id=_req(d, "id", str),
        expression=_opt(d, "expression", str),
        metric_stat=None if ms is None else _metric_stat(ms),
        label=_opt(d, "label", str),
        return_data=_opt(d, "return_data", bool),
    )


def _base(d: Mapping[str, Any], kind: Kind) -> dict[str, Any]:
    lm = _req(d, "load_metric", dict)
    fc = _req(d, "forecast", dict)
    al = _req(d, "alarm", dict)
    mode = _opt(d, "mode", str)
    return {
        "id": _req(d, "id", str),
        "kind": kind,
        "enabled": _req(d, "enabled", bool),
        "min_capacity": _req(d, "min_capacity", int),
        "max_capacity": _req(d, "max_capacity", int),
        "capacity_per_unit": _req(d, "capacity_per_unit", float),
        "load_metric": LoadMetric(
            _each(lm, "queries", _query), _req(lm, "period_seconds", int), _opt(lm, "region", str)
        ),
        "driver": _opt(d, "driver", str),
        "warmup_seconds": _opt(d, "warmup_seconds", int),
        "scale_in_stabilisation_seconds": _opt(d, "scale_in_stabilisation_seconds", int),
        "evaluate_every_seconds": _req(d, "evaluate_every_seconds", int),
        "forecast": ForecastSettings(
            _req(fc, "enabled", bool), _req(fc, "quantile", float), _req(fc, "refresh_seconds", int)
        ),
        "alarm": AlarmSettings(
            threshold_ratio=_req(al, "threshold_ratio", float),
            evaluation_periods=_req(al, "evaluation_periods", int),
            datapoints_to_alarm=_req(al, "datapoints_to_alarm", int),
            step=_req(al, "step", int),
            max_step_ratio=_req(al, "max_step_ratio", float),
            max_step_units=_req(al, "max_step_units", int),
        ),
        "mode": None if mode is None else Mode(mode),
    }


def target_from_compact(d: Mapping[str, Any]) -> TargetRecord:
    """The target a compact record's ``target`` holds, or ``CompactError``."""
    try:
        kind = Kind(_req(d, "kind", str))
        base = _base(d, kind)
        res = _req(d, "resource", dict)
        spec = KINDS[kind]
        resource = _RESOURCES[kind](**{f: _req(res, f, str) for f in spec.resource_fields})
        return RECORDS[kind](
            **base, resource=resource, **{s.name: _setting(d, s) for s in spec.settings}
        )
    except (KeyError, TypeError, ValueError, StopIteration) as err:
        raise CompactError(f"malformed: {err}") from None


def _setting(d: Mapping[str, Any], s: Setting) -> Any:
    """A kind's own setting, of the spec's type, or ``CompactError``."""
    if s.optional and d.get(s.name, 0) is None:
        return None
    if not s.many:
        return _req(d, s.name, s.type)
    return tuple(_req({s.name: x}, s.name, s.type) for x in _req(d, s.name, list))


def read_compact(compact: Any, definition: Any) -> TargetRecord:
    """The target of a stored compact record (the item's ``compact`` attribute, a JSON
    string), made from ``definition`` (the item's ``definition``), or ``CompactError`` saying
    why it cannot be trusted: the caller then validates ``definition`` with the model.

    The record has every attribute of the model's ``Target`` (the tests hold them equal field
    by field), and the code it is handed to reads attributes only; the store hands it on typed
    as a ``Target`` (this module cannot import the model it mirrors)."""
    if compact is None:
        raise CompactError("no compact record (written before it existed)")
    if not isinstance(compact, str) or not isinstance(definition, str):
        raise CompactError("malformed: the compact record or the definition is not a string")
    try:
        doc = json.loads(compact)
    except ValueError as err:
        raise CompactError(f"malformed: {err}") from None
    if not isinstance(doc, dict):
        raise CompactError("malformed: not a JSON object")
    if doc.get("v") != COMPACT_VERSION:
        raise CompactError(
            f"schema version {doc.get('v')!r}, this code reads version {COMPACT_VERSION}"
        )
    if doc.get("of") != definition_digest(definition):
        raise CompactError("stale: made from another definition than the one stored")
    target = doc.get("target")
    if not isinstance(target, dict):
        raise CompactError("malformed: no target in it")
    return target_from_compact(target)


def returned_query_id(queries: Sequence[Any]) -> str:
    """The id of the query that returns the load: the only one, else the one marked
    ``return_data`` (the model and the compact record alike, which share attribute names)."""
    if len(queries) == 1:
        return str(queries[0].id)
    return str(next(q.id for q in queries if q.return_data))


def queries_to_api(
    queries: Sequence[Any], period_seconds: int, returned_id: str
) -> list[dict[str, Any]]:
    """The queries as ``GetMetricData``/``PutMetricAlarm`` expect them, period filled in: for
    the model (``domain.target``) and the compact record alike, which share attribute names."""
    out: list[dict[str, Any]] = []
    for q in queries:
        item: dict[str, Any] = {"Id": q.id, "ReturnData": q.id == returned_id}
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
                "Period": period_seconds,
                "Stat": ms.stat,
            }
            if ms.unit:
                stat["Unit"] = ms.unit
            item["MetricStat"] = stat
        out.append(item)
    return out
