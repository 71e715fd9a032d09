"""The ECS adapter against moto's ECS."""

from __future__ import annotations

import pytest

from scaleahead.aws.ecs import EcsAdapter
from scaleahead.domain.target import parse_target
from scaleahead.service.ports import CapacityReading, NotDrivable, NotFound
from tests.conftest import Aws, make_target, target_dict


def test_read_and_set(aws: Aws) -> None:
    adapter = EcsAdapter(aws.ecs)
    t = make_target()
    r = adapter.read(t)
    assert r.desired == 4
    act = adapter.set_capacity(t, 7, r)
    assert act.applied and aws.desired() == 7


def test_no_call_when_already_there(aws: Aws) -> None:
    adapter = EcsAdapter(aws.ecs)
    t = make_target()
    act = adapter.set_capacity(t, 4, adapter.read(t))
    assert not act.applied and aws.desired() == 4


def test_missing_service_is_named(aws: Aws) -> None:
    t = make_target(resource={"cluster": "prod", "service": "nope"})
    with pytest.raises(NotFound, match="nope"):
        EcsAdapter(aws.ecs).read(t)


def test_other_kinds_are_refused(aws: Aws) -> None:
    t = parse_target(
        target_dict(
            id="db", kind="aurora", resource={"cluster": "db"}, min_capacity=0, max_capacity=5
        )
    )
    with pytest.raises(NotDrivable, match="ECS adapter cannot drive a aurora target"):
        EcsAdapter(aws.ecs).read(t)
    with pytest.raises(NotDrivable, match="aurora"):
        EcsAdapter(aws.ecs).set_capacity(t, 3, CapacityReading(1, 1))
