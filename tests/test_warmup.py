"""Learned warm-up: scale-outs timed until their capacity is ready, and planned with."""

from __future__ import annotations

from scaleahead.domain.controller import planning_warmup
from scaleahead.domain.warmup import (
    GIVE_UP_SECONDS,
    KEEP,
    WarmupLog,
    asked,
    learned_seconds,
    observe_ready,
    scaled_in,
)
from scaleahead.service.worker import process_target
from tests.conftest import NOW, Aws
from tests.records import decision, tick_inputs
from tests.test_worker import DAY, history, target


def test_a_scale_out_is_timed_until_its_capacity_is_ready() -> None:
    log = asked(WarmupLog(), 1000.0, 7)
    log = observe_ready(log, 1060.0, 5)  # two tasks still starting
    assert log.pending == ((1000.0, 7),) and log.observed == ()
    log = observe_ready(log, 1240.0, 7)
    assert log.pending == () and log.observed == (240.0,)


def test_abandoned_scale_outs_are_dropped_not_learned() -> None:
    log = asked(asked(WarmupLog(), 0.0, 5), 100.0, 9)
    assert scaled_in(log, 6).pending == ((0.0, 5),)  # 9 will never be ready as asked
    stuck = observe_ready(log, GIVE_UP_SECONDS + 200.0, 4)
    assert stuck.pending == () and stuck.observed == ()


def test_learned_value_is_a_high_percentile_once_there_are_enough() -> None:
    assert learned_seconds(WarmupLog(observed=(300.0,) * 4)) is None
    obs = (200.0, 210.0, 230.0, 250.0, 260.0, 280.0, 300.0, 320.0, 400.0, 610.0)
    # 90th percentile by nearest rank: the 9th of 10 (400 s), rounded up to 7 minutes.
    assert learned_seconds(WarmupLog(observed=obs)) == 420
    many = WarmupLog(pending=((0.0, 3),) * (KEEP + 5))
    assert len(observe_ready(many, 60.0, 3).observed) == KEEP


def test_the_log_survives_storage_and_garbage_reads_as_empty() -> None:
    log = asked(WarmupLog(observed=(60.0, 90.0)), 5.0, 3)
    assert WarmupLog.from_json(log.to_json()) == log
    assert WarmupLog.from_json("{not json") == WarmupLog()
    assert WarmupLog.from_json('{"pending": [[1, "x"]]}') == WarmupLog()


def test_the_operator_wins_then_the_learned_value_then_the_default() -> None:
    learned = WarmupLog(observed=(540.0,) * 5)
    assert planning_warmup(target(), WarmupLog()) == (300, "default for the kind")
    assert planning_warmup(target(), learned) == (540, "learned from 5 scale-outs")
    assert planning_warmup(target(warmup_seconds=120), learned) == (120, "configured")


def _running(n: int) -> None:
    from moto.ecs.models import ecs_backends

    ecs_backends["123456789012"]["us-east-1"].services["prod:web"].running_count = n


def _two_step_load(t: float) -> float:
    """200, then 600 from 12:15 and 1,000 from 12:30 to 15:00 UTC, every day (NOW is 12:05): a
    morning that needs two scale-outs a quarter of an hour apart."""
    sec = t % DAY
    if 12 * 3600 + 15 * 60 <= sec < 12 * 3600 + 30 * 60:
        return 600.0
    return 1000.0 if 12 * 3600 + 30 * 60 <= sec < 15 * 3600 else 200.0


def test_the_worker_times_its_scale_outs_and_plans_with_what_it_learned(aws: Aws) -> None:
    history(aws, 3, until=NOW + 1800, load=_two_step_load)  # reads never look past their now
    aws.apply(target())
    _running(4)
    rec = decision(
        process_target(aws.rt, "web", NOW - 540)
    )  # 11:56: the step is beyond the warm-up
    assert tick_inputs(rec).warmup_source == "default for the kind"
    assert "next 6 min" in tick_inputs(rec).plan_basis
    assert rec.executed is False and aws.desired() == 4
    rec = decision(process_target(aws.rt, "web", NOW + 300))  # 12:10: 600 from 12:15 is within it
    assert rec.executed is True
    first = aws.desired()
    _running(4)  # moto starts every task at once; the world here is slower
    rec = decision(process_target(aws.rt, "web", NOW + 1200))  # 12:25: 1,000 from 12:30
    assert rec.executed is True
    second = aws.desired()
    assert (first, second) == (6, 10)  # 600 then 1,000 at 100 a task
    state = aws.rt.store.get_state("web")
    assert state.warmups.pending == ((NOW + 300, first), (NOW + 1200, second))
    _running(second)
    process_target(aws.rt, "web", NOW + 1500)
    state = aws.rt.store.get_state("web")
    # Both closed by the reading that found them ready: 20 and 5 minutes after being asked.
    assert state.warmups.observed == (1200.0, 300.0)
    assert not [p for p in state.warmups.pending if p[0] < NOW + 1500]
    # With five such observations the plan looks nine minutes ahead instead of five.
    lease = aws.rt.store.acquire_lease("web", "test", NOW + 1501)
    lease.warmups = WarmupLog(observed=(480.0, 500.0, 510.0, 520.0, 530.0))
    aws.rt.store.commit_state(lease, "test")
    rec = decision(process_target(aws.rt, "web", NOW + 1560))
    assert tick_inputs(rec).warmup_seconds == 540
    assert tick_inputs(rec).warmup_source == "learned from 5 scale-outs"
    assert "next 10 min" in tick_inputs(rec).plan_basis
