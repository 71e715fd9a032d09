"""A Memcached target end to end on moto: the worker and the alarm function with the node
adapter's own rules on top of the shared planner and decision log. The safety tests the other
kinds have: bounds, busy, guarded scale-in, no scale-in on missing data, and one effect per cause
(a redelivered work item, the same alarm through all three channels)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scaleahead.domain.kinds import Kind
from scaleahead.domain.target import TargetError
from scaleahead.service.worker import process_target
from scaleahead_testkit import moto_memcached
from scaleahead_tools.cli import targets as tg
from scaleahead_tools.cli.main import main
from tests.conftest import NOW, Aws
from tests.records import decision
from tests.test_handlers import alarm_everywhere
from tests.test_memcached_adapter import create, describe, mc_target, put_usage

SMALL = {"0001": 0.5, "0002": 0.5, "0003": 0.5}


def test_nodes_scale_out_at_once_bounded_and_wait_while_modifying(aws: Aws, mc: Any) -> None:
    create(mc, 3)
    aws.put_load([(NOW - 60 * i, 750.0) for i in range(1, 20)])
    aws.apply(mc_target(max_capacity=6))
    rec = decision(process_target(aws.rt, "sessions", NOW))
    # the plan wants 8 nodes (750 / 100); the target's max holds it at 6, in one change
    assert rec.executed is True and (rec.before, rec.after) == (3, 6), rec
    assert "ModifyCacheCluster NumCacheNodes 3 -> 6" in rec.detail
    assert describe(mc)["CacheClusterStatus"] == "modifying"
    # while the change is in flight, the pending count is what is asked: at max, no call
    rec = decision(process_target(aws.rt, "sessions", NOW + 60))
    assert rec.reason == "at_max" and rec.after == 6, rec
    assert moto_memcached.pending_node_count("sessions") == 6
    moto_memcached.complete_pending_changes()
    assert describe(mc)["NumCacheNodes"] == 6


def test_busy_while_modifying_then_continues(aws: Aws, mc: Any) -> None:
    create(mc, 3)
    aws.put_load([(NOW - 60 * i, 500.0) for i in range(1, 20)])
    aws.apply(mc_target())
    rec = decision(process_target(aws.rt, "sessions", NOW))
    assert rec.executed is True and rec.after == 5
    aws.put_load([(NOW + 60 * i, 900.0) for i in range(0, 3)])  # the plan now wants 9
    rec = decision(process_target(aws.rt, "sessions", NOW + 180))
    assert rec.reason == "busy" and "will retry" in rec.message, rec
    assert moto_memcached.pending_node_count("sessions") == 5  # never overridden
    moto_memcached.complete_pending_changes()
    rec = decision(process_target(aws.rt, "sessions", NOW + 240))
    assert rec.executed is True and (rec.before, rec.after) == (5, 9), rec


def test_a_redelivered_work_item_acts_once(aws: Aws, mc: Any) -> None:
    create(mc, 3)
    aws.put_load([(NOW - 60 * i, 500.0) for i in range(1, 20)])
    aws.apply(mc_target())
    first = decision(process_target(aws.rt, "sessions", NOW, tick=int(NOW)))
    assert first.executed is True and first.after == 5
    moto_memcached.complete_pending_changes()
    again = process_target(aws.rt, "sessions", NOW + 5, tick=int(NOW))  # SQS delivers it again
    assert getattr(again, "reason", None) == "duplicate", again
    assert len(aws.rt.store.decisions("sessions")) == 1
    assert describe(mc)["NumCacheNodes"] == 5


def test_scale_in_is_guarded_then_one_node_at_a_time(aws: Aws, mc: Any) -> None:
    create(mc, 3)
    # 27 GB of items: at 75 % of an r7g.large's 13.29 GB, 3 nodes are needed
    put_usage(aws, {"0001": 9.0, "0002": 9.0, "0003": 9.0})
    aws.put_load([(NOW + 60 * i, 100.0) for i in range(-20, 12)])  # 1 node would serve
    aws.apply(mc_target(scale_in_stabilisation_seconds=120))
    last = decision([process_target(aws.rt, "sessions", NOW + 60 * k) for k in range(0, 5)][-1])
    assert last.reason == "guarded" and "3 node(s) needed, no scale-in" in last.message, last
    assert describe(mc)["CacheClusterStatus"] == "available"  # read, and nothing removed

    # the data shrinks (new datapoints; the old peak ages out of the half-hour window)
    later = NOW + 3600
    aws.clock.t = later
    put_usage(aws, {"0001": 0.5, "0002": 0.5, "0003": 0.5}, at=later)
    aws.put_load([(later + 60 * i, 100.0) for i in range(-40, 12)])
    recs = [decision(process_target(aws.rt, "sessions", later + 60 * k)) for k in range(0, 5)]
    acted = [r for r in recs if r.executed]
    assert len(acted) == 1 and (acted[0].before, acted[0].after) == (3, 2), recs
    assert "removing node 0003 (newest first)" in acted[0].detail
    assert describe(mc)["PendingModifiedValues"]["CacheNodeIdsToRemove"] == ["0003"]
    # while 0003 goes, the reading counts two asked and two serving, not three
    from scaleahead.aws.errors import MappedAdapter

    adapter = aws.rt.adapters[Kind.MEMCACHED]
    assert isinstance(adapter, MappedAdapter)
    r = adapter.read(mc_target(), scale_in=False)
    assert (r.desired, r.ready) == (2, 2) and r.busy is not None


def test_no_scale_in_on_missing_load(aws: Aws, mc: Any) -> None:
    create(mc, 4)
    put_usage(aws, {**SMALL, "0004": 0.5})
    aws.put_load([(NOW - 60 * i, 100.0) for i in range(30, 60)])  # nothing in the last 30 min
    aws.apply(mc_target(scale_in_stabilisation_seconds=60))
    recs = [decision(process_target(aws.rt, "sessions", NOW + 60 * k)) for k in range(0, 4)]
    assert not any(r.executed for r in recs), recs
    assert describe(mc)["NumCacheNodes"] == 4 and describe(mc)["CacheClusterStatus"] == "available"


def test_one_alarm_through_three_channels_adds_nodes_once(aws: Aws, mc: Any) -> None:
    create(mc, 2)
    aws.apply(mc_target())
    alarm_everywhere("sessions")
    [rec] = aws.rt.store.decisions("sessions")
    assert rec.executed is True and rec.before == 2 and (rec.after or 0) > 2, rec
    assert moto_memcached.pending_node_count("sessions") == rec.after


# -- apply: what is refused, and the managed tag ---------------------------------------------------


def test_apply_refuses_a_redis_cluster_naming_its_engine(aws: Aws, mc: Any) -> None:
    mc.create_cache_cluster(
        CacheClusterId="sessions", Engine="redis", CacheNodeType="cache.t3.micro"
    )
    t = mc_target()
    with pytest.raises(TargetError, match="runs engine redis; only Memcached clusters") as err:
        tg.check(aws.rt, (t,))
    assert str(err.value).startswith("1 target cannot be applied; nothing was written")
    assert aws.rt.store.get_target("sessions") is None


def test_an_untagged_memcached_cluster_is_refused_and_tag_adds_it(aws: Aws, mc: Any) -> None:
    mc.create_cache_cluster(
        CacheClusterId="sessions",
        Engine="memcached",
        CacheNodeType="cache.t3.micro",
        NumCacheNodes=2,
    )
    t = mc_target()
    with pytest.raises(TargetError, match="ElastiCache Memcached cluster sessions lacks the tag"):
        tg.check(aws.rt, (t,))
    done = tg.apply(aws.rt, (t,), tg.diff(aws.rt, (t,), prune=False), aws.clock.t, tag=True)
    assert done[0] == (
        "tagged ElastiCache Memcached cluster sessions scaleahead:managed=true (target sessions)"
    )
    arn = describe(mc)["ARN"]
    tags = mc.list_tags_for_resource(ResourceName=arn)["TagList"]
    assert {x["Key"]: x["Value"] for x in tags} == {"scaleahead:managed": "true"}
    tg.check(aws.rt, (t,))  # tagged: no problem left


def test_status_explain_and_forecast_show_a_memcached_target(
    aws: Aws, mc: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create(mc, 3)
    aws.put_load([(NOW - 60 * i, 500.0) for i in range(1, 20)])
    aws.apply(mc_target())
    decision(process_target(aws.rt, "sessions", NOW))
    assert main(["--output", "json", "status"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["target"] == "sessions" and row["kind"] == "memcached"
    assert row["desired"] == 5 and row["last_action"] == "scale_out"
    assert row["warmup_seconds"] == 600  # the kind's default until learned
    assert main(["explain", "sessions", "--since", "2026-11-27T11:00"]) == 0
    out = capsys.readouterr().out
    assert "[worker] scaled out 3 -> 5" in out, out
    png = tmp_path / "sessions.png"
    assert main(["forecast", "sessions", "--png", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert f"wrote {png}" in capsys.readouterr().out
