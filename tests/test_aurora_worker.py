"""An Aurora target through the worker and the alarm path: readers are the capacity, the
writer is never touched, and a reader still creating makes the cluster busy."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from scaleahead.service.worker import process_target
from scaleahead_testkit import moto_rds
from scaleahead_testkit.lambda_context import LocalContext
from tests.conftest import NOW, Aws
from tests.records import decision
from tests.test_aurora_adapter import CLUSTER, WRITER, Rds, aurora_target, create_cluster
from tests.test_handlers import EVENTS, resolve_handler


@pytest.fixture
def db(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rds]:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    moto_rds.install()
    client = boto3.client("rds")
    create_cluster(boto3.client("ec2"), client)
    env = Rds(client, aws.rt.adapters[aurora_target().kind])  # type: ignore[arg-type]
    env.add_instance(WRITER)
    yield env
    moto_rds.uninstall()


def test_readers_scale_out_and_the_cluster_is_busy_meanwhile(aws: Aws, db: Rds) -> None:
    aws.put_load([(NOW - 60 * i, 250.0) for i in range(1, 20)])
    aws.apply(aurora_target(id="web", capacity_per_unit=100.0, min_capacity=0, max_capacity=10))
    moto_rds.set_create_status("creating")
    rec = decision(process_target(aws.rt, "web", NOW))
    assert rec.executed is True and rec.after == 3, rec
    assert len(db.readers()) == 3 and WRITER in db.instances()
    # readers still creating count as asked for, and make the cluster busy: no second batch
    aws.put_load([(NOW + 60 * i, 650.0) for i in range(0, 2)])
    rec = decision(process_target(aws.rt, "web", NOW + 120))
    assert rec.reason == "busy" and len(db.readers()) == 3, rec
    moto_rds.complete_pending()
    rec = decision(process_target(aws.rt, "web", NOW + 180))
    assert rec.executed is True and len(db.readers()) == 7, rec


def test_an_alarm_adds_a_reader_at_once(aws: Aws, db: Rds) -> None:
    aws.apply(aurora_target(id="web", capacity_per_unit=100.0, min_capacity=0))
    event = json.loads((EVENTS / "alarm-eventbridge-alarm.json").read_text())
    out = resolve_handler("AlarmFunction")(event, LocalContext())
    assert out["results"][0]["executed"] is True, out
    # from zero readers: 520 over one reader's threshold (100) is 5.2x, capped per episode at
    # 3x one reader (alarm.max_step_ratio)
    assert len(db.readers()) == 3 and CLUSTER
