"""The two later kinds under the process dying right after their capacity call reached AWS, or
the call's reply being lost (botocore sends it again): the count asked is absolute, the intent
is on record before the call, so the redelivered work item reconciles, asks nothing more and
records the action once."""

from __future__ import annotations

from typing import Any

import pytest

from scaleahead.handlers import common
from scaleahead_testkit import moto_memcached
from tests.conftest import NOW, Aws
from tests.events_kit import work, work_batch
from tests.faults import Crash, Faults
from tests.test_asg_adapter import asg_target, group
from tests.test_asg_adapter import create as create_group
from tests.test_memcached_adapter import create as create_cluster
from tests.test_memcached_adapter import mc_target
from tests.test_work_items import TICK, restart, worker

# kind -> (target id, the capacity call)
CALLS = {
    "memcached": ("sessions", ("elasticache", "ModifyCacheCluster")),
    "asg": ("hosts", ("auto-scaling", "SetDesiredCapacity")),  # botocore's service id
}


def _setup(kind: str, aws: Aws, mc: Any, asg: Any) -> None:
    if kind == "memcached":
        create_cluster(mc, 2)
        aws.apply(mc_target())
    else:
        create_group(asg, desired=2)
        aws.apply(asg_target())
    aws.put_load([(NOW - 60 * i, 500.0) for i in range(1, 20)])  # 5 units at 100 each


def _asked(kind: str, asg: Any) -> int | None:
    if kind == "memcached":
        return moto_memcached.pending_node_count("sessions")
    return int(group(asg)["DesiredCapacity"])


@pytest.mark.parametrize("fault", ["crash_after", "lost_reply"])
@pytest.mark.parametrize("kind", list(CALLS))
def test_a_capacity_call_made_once_is_recorded_once(
    aws: Aws, mc: Any, asg: Any, faults: Faults, kind: str, fault: str
) -> None:
    tid, call = CALLS[kind]
    _setup(kind, aws, mc, asg)
    common.reset()  # the functions' clients, made from now on, go through the injector
    faults.add(*call, fault)
    if fault == "crash_after":
        with pytest.raises(Crash):
            worker(work_batch(work(tid, TICK)))
        assert _asked(kind, asg) == 5  # it reached AWS; the process died before recording
        restart(aws, faults)
    assert worker(work_batch(work(tid, TICK))) == {"batchItemFailures": []}
    assert _asked(kind, asg) == 5
    # the crash: one call, reconciled on redelivery; the lost reply: botocore's own retry,
    # asking the same absolute count again
    assert faults.count(*call) == (1 if fault == "crash_after" else 2)
    assert [d.after for d in aws.rt.store.decisions(tid) if d.executed] == [5]
    assert aws.rt.store.get_state(tid).pending is None
