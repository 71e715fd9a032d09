"""The ECS adapter against moto's ECS."""

from __future__ import annotations

import pytest

from scaleahead.aws.ecs import EcsAdapter
from scaleahead.service.ports import NotFound
from tests.conftest import Aws, make_target


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
