"""The kind registry (``domain.kinds``): every kind described once, and every place that reads it.

A kind forgotten in the registry, a target model that disagrees with its spec, an adapter module
that does not build, or a tool with its own copy of a kind's numbers fails here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, get_args

import botocore.session
import pytest

from scaleahead.aws.cloudwatch import MetricsAdapter
from scaleahead.aws.errors import MappedAdapter
from scaleahead.aws.kind_adapter import KindAdapter, adapter_factory
from scaleahead.domain.kinds import KINDS, Kind, KindSpec
from scaleahead.domain.target import (
    DEFAULT_STABILISATION_SECONDS,
    DEFAULT_WARMUP_SECONDS,
    SUPPORTED_KINDS,
    Target,
    TargetError,
    _TargetBase,
    parse_target,
)
from scaleahead.service.ports import CapacityPort, NotDrivable
from scaleahead_testkit.warmup import Rules
from scaleahead_tools.backtest.policies import POLICIES, backtest_target, rules_for
from scaleahead_tools.backtest.sim import KIND_BOUNDS, Setup
from scaleahead_tools.cli.forecast_chart import UNIT_WORD
from scaleahead_tools.demo.stack import tiers
from tests.conftest import Aws, target_dict

MODELS: dict[Kind, Any] = {
    get_args(model.model_fields["kind"].annotation)[0]: model for model in get_args(Target)
}


def target_of(kind: Kind, **over: Any) -> Target:
    spec = KINDS[kind]
    data = target_dict(
        id=f"t-{kind.value}",
        kind=kind.value,
        resource={f: "x" for f in spec.resource_fields},
        min_capacity=spec.min_capacity,
        max_capacity=spec.max_capacity,
        scale_in_stabilisation_seconds=None,
    )
    return parse_target({**data, **over})


def test_every_kind_has_a_spec_and_a_target_model() -> None:
    assert list(KINDS) == list(Kind)
    assert all(spec.kind is kind for kind, spec in KINDS.items())
    assert set(MODELS) == set(Kind) == SUPPORTED_KINDS
    assert (
        len({s.unit for s in KINDS.values()}) == len({s.units for s in KINDS.values()}) == len(Kind)
    )


@pytest.mark.parametrize("kind", list(Kind))
def test_each_target_model_follows_its_spec(kind: Kind) -> None:
    spec = KINDS[kind]
    resource = MODELS[kind].model_fields["resource"].annotation
    assert tuple(resource.model_fields) == spec.resource_fields
    t = target_of(kind)  # the spec's bounds are accepted...
    assert (t.min_capacity, t.max_capacity) == (spec.min_capacity, spec.max_capacity)
    assert t.effective_warmup_seconds == spec.warmup_seconds == DEFAULT_WARMUP_SECONDS[kind]
    assert (
        t.effective_stabilisation_seconds
        == spec.stabilisation_seconds
        == DEFAULT_STABILISATION_SECONDS[kind]
    )
    with pytest.raises(TargetError, match="min_capacity"):  # ...and nothing beyond them
        target_of(kind, min_capacity=spec.min_capacity - 1)
    with pytest.raises(TargetError, match="max_capacity"):
        target_of(kind, max_capacity=spec.max_capacity + 1)
    if spec.max_units_per_change is not None:
        assert getattr(t, "max_shards_per_action", None) == spec.max_units_per_change


BASE_FIELDS = set(_TargetBase.model_fields)


@pytest.mark.parametrize("kind", list(Kind))
def test_the_spec_lists_the_models_own_settings(kind: Kind) -> None:
    """The compact record reads a kind's own settings from its spec (``KindSpec.settings``):
    they must be the model's, in its order, each optional or a list as the model has it (the
    values' types are held equal by tests/test_alarm_import.py's round trip)."""
    spec = KINDS[kind]
    fields = MODELS[kind].model_fields
    own = [f for f in fields if f not in BASE_FIELDS and f != "resource"]
    assert [s.name for s in spec.settings] == own
    t = target_of(kind)
    for s in spec.settings:
        value = getattr(t, s.name)
        assert isinstance(value, tuple) == s.many, s.name
        assert (fields[s.name].is_required() is False) or not s.optional, s.name
        if value is not None:
            for v in value if s.many else (value,):
                assert type(v) is s.type, s.name


def test_every_kind_names_a_real_service_and_a_formattable_scalable_target() -> None:
    session = botocore.session.get_session()
    for spec in KINDS.values():
        assert spec.iam_service in session.get_available_services(), spec.iam_service
        if spec.app_autoscaling is not None:
            # its ResourceId formats from the resource fields alone
            spec.app_autoscaling.resource_id.format(**{f: "x" for f in spec.resource_fields})


def test_the_numbers_the_bench_and_the_demo_were_measured_with() -> None:
    """Changing one of these changes `make bench` or `make demo`: do it on purpose."""

    def row(s: KindSpec) -> tuple[Any, ...]:
        sim = s.simulation
        return (
            s.units,
            s.warmup_seconds,
            s.stabilisation_seconds,
            s.min_capacity,
            s.max_capacity,
            s.max_units_per_change,
            sim.bounds,
            sim.serial,
            sim.serial_for_scaleahead,
        )

    assert {k: row(s) for k, s in KINDS.items()} == {
        Kind.ECS: ("tasks", 300, 900, 0, 5000, None, (0, 1000), False, False),
        Kind.AURORA: ("readers", 900, 1800, 0, 15, None, (0, 15), False, True),
        Kind.ELASTICACHE: ("shards", 1800, 3600, 1, 500, 2, (1, 500), True, True),
        Kind.MEMCACHED: ("nodes", 600, 1800, 1, 40, None, (1, 40), False, True),
        Kind.ASG: ("instances", 300, 1800, 0, 10000, None, (0, 1000), False, False),
    }


def test_the_tools_read_the_registry() -> None:
    assert UNIT_WORD == {
        "ecs": "tasks",
        "aurora": "readers",
        "elasticache": "shards",
        "memcached": "nodes",
        "asg": "instances",
    }
    assert {t.id: t.unit for t in tiers(160.0)} == {
        "web": "tasks",
        "db": "readers",
        "cache": "shards",
        "web-reactive": "tasks",
    }
    assert KIND_BOUNDS == {
        Kind.ECS: (0, 1000),
        Kind.AURORA: (0, 15),
        Kind.ELASTICACHE: (1, 500),
        Kind.MEMCACHED: (1, 40),
        Kind.ASG: (0, 1000),
    }
    for policy in POLICIES:
        own = policy == "scaleahead"
        assert rules_for(policy, Kind.ECS) == Rules()
        assert rules_for(policy, Kind.AURORA) == Rules(serial=own)
        assert rules_for(policy, Kind.ELASTICACHE) == Rules(serial=True, max_out=2 if own else None)
    for kind, (lo, hi) in KIND_BOUNDS.items():
        t = backtest_target(Setup(kind, 300, 600, 10.0, 0, lo, hi), 0.9)
        assert t.kind is kind
        assert t.resource.model_dump() == dict.fromkeys(KINDS[kind].resource_fields, "backtest")


def test_every_adapter_factory_builds_a_capacity_adapter_of_its_kind(aws: Aws) -> None:
    metrics = MetricsAdapter(aws.cloudwatch)
    for kind in Kind:
        adapter = adapter_factory(kind)(metrics)
        port: CapacityPort = adapter  # the port's shape, checked by mypy
        assert callable(port.read) and callable(port.set_capacity)
        assert isinstance(adapter, KindAdapter)
        assert adapter.narrow(target_of(kind)).kind is kind
        other = next(k for k in Kind if k is not kind)
        with pytest.raises(NotDrivable, match=f"{KINDS[kind].name} adapter cannot drive"):
            adapter.narrow(target_of(other))


def test_the_wiring_builds_one_adapter_per_spec(aws: Aws) -> None:
    adapters = aws.rt.adapters
    assert list(adapters) == list(KINDS)
    for kind, adapter in adapters.items():
        assert isinstance(adapter, MappedAdapter) and isinstance(adapter.inner, KindAdapter)
        assert adapter.inner.narrow(target_of(kind)).kind is kind


def test_a_spec_naming_a_module_without_a_factory_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = replace(KINDS[Kind.ECS], adapter_module="scaleahead.domain.kinds")
    monkeypatch.setitem(KINDS, Kind.ECS, broken)
    with pytest.raises(LookupError, match=r"scaleahead\.domain\.kinds has no make_adapter"):
        adapter_factory(Kind.ECS)
