"""An ElastiCache target through the worker: the same planner and decision log as ECS, with
the shard adapter's own rules (step limit, busy while resharding) on top."""

from __future__ import annotations

from typing import Any

from scaleahead.demo import moto_elasticache
from scaleahead.service.worker import process_target
from tests.conftest import NOW, Aws
from tests.test_elasticache_adapter import LOW_CPU, cache_target, create, describe, put_usage


def test_shards_scale_out_in_steps_and_wait_for_the_reshard(aws: Aws, ec: Any) -> None:
    create(ec, shards=3)
    put_usage(aws, {"0001": 2.0, "0002": 2.0, "0003": 2.0}, LOW_CPU)
    aws.put_load([(NOW - 60 * i, 750.0) for i in range(1, 20)])
    aws.apply(cache_target(max_shards_per_action=2))
    rec = process_target(aws.rt, "cache", NOW)
    # the plan wants 8 shards (750 / 100), one action may add at most two
    assert rec["executed"] is True and rec["after"] == 5, rec
    assert describe(ec)["Status"] == "modifying"
    rec = process_target(aws.rt, "cache", NOW + 60)
    assert rec["reason"] == "busy" and "will retry" in rec["message"]
    moto_elasticache.complete_pending_changes()
    rec = process_target(aws.rt, "cache", NOW + 120)
    assert rec["executed"] is True and rec["before"] == 5 and rec["after"] == 7, rec
