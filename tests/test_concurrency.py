"""Eight concurrent deliveries of one alarm or one work item make one ECS UpdateService.

Real processes (tests/concurrency_child.py: a fresh interpreter that imports the handlers,
resolved from template.yaml, and forks one process per delivery) each make one invocation of
the real handler over HTTP against a real moto server on 127.0.0.1, all released at once. The
only thing that serialises them is what serialises them in AWS: DynamoDB's conditional writes
(the target's lease). The server runs in this process, so moto's ECS backend is patched here to
count the UpdateService calls it serves and the desired counts they ask for.

moto answers requests on threads and its backends take no locks: a conditional write is a read,
a check and a write in Python, and two threads could interleave between the check and the
write, which DynamoDB never does (each item write is atomic). DynamoDB requests are therefore
served one at a time here; anything else a real DynamoDB table would let race still races.

The children use the wall clock, so the events are stamped with "now".
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scaleahead import clock
from scaleahead.aws import clients
from scaleahead.domain.record import DecisionRecord
from scaleahead.handlers import common
from scaleahead.settings import Settings
from scaleahead.store import LeaseHeld
from scaleahead_testkit import moto_extensions
from scaleahead_testkit.local_aws import LOCAL_ENV, create_ecs, create_tables, put_series
from tests.conftest import DIMENSIONS, METRIC, NAMESPACE, make_target

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
CHILD = Path(__file__).with_name("concurrency_child.py")
N = 8
# CloudWatch invokes an alarm's Lambda action a little after it publishes the state change to
# EventBridge and SNS, and stamps the change with its own, slightly later, time.
LAMBDA_ACTION_LAG = 0.3
LOAD = 750.0  # 7.5 tasks' worth at 100 per task: the worker scales 4 -> 8
# The alarm as CloudWatch would send it in this world: the load crossed the threshold the stack
# set for 4 tasks (4 x 100) a while before it reached LOAD.
THRESHOLD_AT_4 = 400.0
OBSERVED = 520.0
# The alarm path's floor: max(current + 1, ceil(current x observed / threshold)), the threshold
# being the one the stack set for the capacity the episode starts from.
ALARM_FROM_4 = 6  # max(5, ceil(4 x 520 / 400) = 6)
WORKER = 8  # ceil(750 / 100), above the alarm's floor of 6 when that came first
# A raise that the caller (EventBridge, SNS, the Lambda action) retries, and that a duplicate
# delivery may legitimately answer with while the first copy is still being handled.
RETRYABLE = {"IdempotencyAlreadyInProgressError", "LeaseHeld"}
STARTUP_SECONDS = 60.0
RUN_SECONDS = 60.0


# ------------------------------------------------------------------ the server


@dataclass
class World:
    endpoint: str
    queue_url: str
    calls: list[int | None] = field(default_factory=list)

    @property
    def rt(self) -> Any:
        return common.runtime()

    def desired(self) -> int:
        out = clients.client("ecs").describe_services(cluster="prod", services=["web"])
        return int(out["services"][0]["desiredCount"])

    def child_env(self, log_dir: Path) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(log_dir)),
            **LOCAL_ENV,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_CONFIG_FILE": str(log_dir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(log_dir / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "WORK_QUEUE_URL": self.queue_url,
            "MODE": "ForecastAndScale",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        if "PYTHONPATH" in os.environ:  # the children import the code this process imports
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reset_moto(endpoint: str) -> None:
    req = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with direct.open(req, timeout=10) as resp:
        resp.read()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    from moto.dynamodb.responses import DynamoHandler
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.server import ThreadedMotoServer

    moto_extensions.install()
    clock.set_clock(None)  # the server's CloudWatch and the children both read the wall clock
    werkzeug = logging.getLogger("werkzeug")
    werkzeug_level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)  # one line per request otherwise

    calls: list[int | None] = []
    update_service = EC2ContainerServiceBackend.update_service

    def counted(self: Any, service_properties: dict[str, Any]) -> Any:
        calls.append(service_properties.get("desired_count"))
        return update_service(self, service_properties)

    dynamodb_call = DynamoHandler.call_action
    one_at_a_time = threading.Lock()

    def atomic(self: Any) -> Any:
        with one_at_a_time:
            return dynamodb_call(self)

    monkeypatch.setattr(EC2ContainerServiceBackend, "update_service", counted)
    monkeypatch.setattr(DynamoHandler, "call_action", atomic)

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _reset_moto(endpoint)  # whatever earlier tests left in moto's in-process backends
        for k, v in {**LOCAL_ENV, "AWS_ENDPOINT_URL": endpoint}.items():
            monkeypatch.setenv(k, v)
        common.reset()
        create_tables(clients.client("dynamodb"), Settings.from_env())
        url = clients.client("sqs").create_queue(QueueName="scaleahead-work")["QueueUrl"]
        monkeypatch.setenv("WORK_QUEUE_URL", url)
        common.reset()
        create_ecs(clients.client("ecs"), "prod", {"web": 4})
        from scaleahead_tools.cli import targets as tg

        target = make_target()
        rt = common.runtime()
        tg.apply(rt, (target,), tg.diff(rt, (target,), prune=False), time.time())
        end = int(time.time()) // 60 * 60
        put_series(
            clients.client("cloudwatch"),
            NAMESPACE,
            METRIC,
            DIMENSIONS,
            [(end - 60.0 * i, LOAD) for i in range(1, 21)],
        )
        yield World(endpoint, url, calls)
    finally:
        common.reset()
        try:
            _reset_moto(endpoint)
        finally:
            server.stop()
            if server._server is not None:
                server._server.server_close()  # stop() leaves the listening socket open
            werkzeug.setLevel(werkzeug_level)


# ------------------------------------------------------------------ the events


def _cw_time(t: float) -> str:
    """CloudWatch's way: 2026-11-27T12:03:10.000+0000."""
    dt = datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def _zulu(t: float, *, ms: bool = False) -> str:
    dt = datetime.fromtimestamp(t, UTC)
    if ms:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sns_time(t: float) -> str:
    """How the alarm's reason text stamps a datapoint: 27/11/26 12:02:00."""
    return datetime.fromtimestamp(t, UTC).strftime("%d/%m/%y %H:%M:%S")


def _load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def _reason(changed_at: float) -> tuple[str, str]:
    """(reason, reasonData) of the alarm's change into ALARM: the last two minutes over the
    threshold the stack set for 4 tasks."""
    minute = int(changed_at) // 60 * 60
    points = [(minute - 60, OBSERVED), (minute - 120, OBSERVED - 40.0)]
    reason = (
        "Threshold Crossed: 2 out of the last 3 datapoints ["
        + ", ".join(f"{v} ({_sns_time(t)})" for t, v in points)
        + f"] were greater than the threshold ({THRESHOLD_AT_4}) "
        "(minimum 2 datapoints for OK -> ALARM transition)."
    )
    data = {
        "version": "1.0",
        "queryDate": _cw_time(changed_at),
        "startDate": _cw_time(minute - 180),
        "period": 60,
        "recentDatapoints": [v for _, v in reversed(points)],
        "threshold": THRESHOLD_AT_4,
        "evaluatedDatapoints": [{"timestamp": _cw_time(t), "value": v} for t, v in points],
    }
    return reason, json.dumps(data)


def alarm_event(channel: str, changed_at: float) -> dict[str, Any]:
    """The sample ALARM of ``channel``, changed at ``changed_at`` (whole milliseconds), with the
    figures of this world (the sample's 1720 over 1200 belong to another)."""
    reason, data = _reason(changed_at)
    if channel == "eventbridge":
        event = _load("alarm-eventbridge-alarm.json")
        event["time"] = _zulu(changed_at)
        state = event["detail"]["state"]
    elif channel == "sns":
        event = _load("alarm-sns.json")
        sns = event["Records"][0]["Sns"]
        message = json.loads(sns["Message"])
        message["StateChangeTime"] = _cw_time(changed_at)
        message["NewStateReason"] = reason
        message["Trigger"]["Threshold"] = THRESHOLD_AT_4
        sns["Message"] = json.dumps(message)
        sns["Timestamp"] = _zulu(changed_at + 0.5, ms=True)
        return event
    elif channel == "lambda-action":
        event = _load("alarm-lambda-action.json")
        changed_at += LAMBDA_ACTION_LAG
        event["time"] = _cw_time(changed_at)
        state = event["alarmData"]["state"]
    else:
        raise ValueError(channel)
    state.update(timestamp=_cw_time(changed_at), reason=reason, reasonData=data)
    return event


def work_event(tick: int) -> dict[str, Any]:
    event = _load("worker-sqs-batch.json")
    record = event["Records"][0]
    record["body"] = json.dumps({"target_id": "web", "tick": tick})
    record["attributes"]["SentTimestamp"] = str(tick * 1000)
    record["attributes"]["ApproximateFirstReceiveTimestamp"] = str(tick * 1000 + 50)
    return event


# Three deliveries through EventBridge, three through SNS, two Lambda actions (stamped later).
ALARM_CHANNELS = ["eventbridge", "sns", "lambda-action"] * 2 + ["eventbridge", "sns"]
MIXED_CHANNELS = ["eventbridge", "sns", "lambda-action", "eventbridge"]


def deliveries(scenario: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(function, channel, event) for each of the N deliveries of ``scenario``."""
    now = time.time()
    changed_at = round(now - 1.0, 3)  # CloudWatch changed the state a moment ago
    tick = int(now) // 60 * 60
    alarms = [("AlarmFunction", c, alarm_event(c, changed_at)) for c in ALARM_CHANNELS]
    works = [("WorkerFunction", "sqs", work_event(tick)) for _ in range(N)]
    if scenario == "alarm":
        return alarms
    if scenario == "worker":
        return works
    mixed = [("AlarmFunction", c, alarm_event(c, changed_at)) for c in MIXED_CHANNELS]
    # interleaved, so neither kind is forked (and so favoured) first
    return [d for pair in zip(mixed, works[: N // 2], strict=True) for d in pair]


# ------------------------------------------------------------------ the children


@dataclass
class Outcome:
    function: str
    channel: str
    reply: dict[str, Any]

    @property
    def error(self) -> str | None:
        return None if self.reply.get("ok") else str(self.reply.get("error"))

    @property
    def result(self) -> Any:
        return self.reply.get("result")

    def describe(self) -> str:
        what = self.error or json.dumps(self.result, default=str)[:300]
        return f"{self.function}/{self.channel}: {what}"


def _tail(path: Path) -> str:
    return path.read_text()[-3000:] if path.exists() else f"({path.name}: nothing)"


def run_together(
    world: World, jobs: list[tuple[str, str, dict[str, Any]]], workdir: Path
) -> list[Outcome]:
    """One process per job (tests/concurrency_child.py forks them), released together once
    every one is ready."""
    zygote_log = workdir / "parent.log"
    with zygote_log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), str(workdir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env=world.child_env(workdir),
            cwd=ROOT,
            start_new_session=True,  # its own process group: the forks are ended with it
        )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        payload = [{"function": f, "event": e} for f, _, e in jobs]
        proc.stdin.write(json.dumps(payload).encode() + b"\n")
        proc.stdin.flush()
        deadline = time.monotonic() + STARTUP_SECONDS
        ready: set[int] = set()
        said = b""
        # Raw reads of the pipe: the processes get ready together, and a buffered readline
        # would take several lines at once and leave select() waiting for ones already read.
        while len(ready) < len(jobs):
            left = deadline - time.monotonic()
            readable, _, _ = select.select([proc.stdout], [], [], max(0.0, left))
            chunk = os.read(proc.stdout.fileno(), 4096) if readable else b""
            if not chunk:
                raise AssertionError(
                    f"{len(jobs) - len(ready)} of {len(jobs)} processes never got ready "
                    f"(exit {proc.poll()}):\n{_tail(zygote_log)}"
                )
            said += chunk
            *lines, said = said.split(b"\n")
            ready.update(int(json.loads(line)["ready"]) for line in lines)
        proc.stdin.write(b"g" * len(jobs))  # one byte each: the start
        proc.stdin.flush()
        proc.wait(timeout=RUN_SECONDS)
        outcomes = []
        for i, (function, channel, _) in enumerate(jobs):
            result = workdir / f"result-{i}.json"
            assert result.exists(), (
                f"process {i} left no result:\n{_tail(workdir / f'child-{i}.log')}"
            )
            outcomes.append(Outcome(function, channel, json.loads(result.read_text())))
        return outcomes
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdin.close()
        proc.stdout.close()


# ------------------------------------------------------------------ the checks


def _executed(world: World) -> list[DecisionRecord]:
    """The executed decisions, oldest first."""
    rows = world.rt.store.decisions("web")
    return [d for d in reversed(rows) if d.executed]


def _summary(scenario: str, outcomes: list[Outcome], world: World) -> str:
    errors = Counter(o.error for o in outcomes if o.error)
    statuses = Counter(
        str(r.get("status"))
        for o in outcomes
        if o.function == "AlarmFunction" and isinstance(o.result, dict)
        for r in o.result.get("results", [])
    )
    starts = [float(o.reply["started"]) for o in outcomes if "started" in o.reply]
    spread = max(starts) - min(starts) if starts else 0.0
    longest = max(
        (
            float(o.reply["ended"]) - float(o.reply["started"])
            for o in outcomes
            if "ended" in o.reply
        ),
        default=0.0,
    )
    decisions = [
        (d.source.value, d.reason.value, d.executed)
        for d in reversed(world.rt.store.decisions("web"))
    ]
    return (
        f"[{scenario}] UpdateService desired counts {world.calls}; alarm statuses "
        f"{dict(statuses)}; raised {dict(errors)}; started within {spread * 1000:.0f} ms, "
        f"longest invocation {longest:.2f} s; "
        f"decisions {decisions}"
    )


def _check_children(outcomes: list[Outcome]) -> None:
    # one execution environment each: a lease owner id shared by two would let both in
    assert len({o.reply.get("owner") for o in outcomes}) == len(outcomes)
    unexpected = [o for o in outcomes if o.error and o.error not in RETRYABLE]
    assert not unexpected, "\n\n".join(
        f"{o.describe()}\n{o.reply.get('traceback')}" for o in unexpected
    )
    for o in outcomes:
        if o.function == "WorkerFunction":
            # a lease held elsewhere or a tick already handled is an answer, not a failure
            assert o.reply.get("ok") and o.result == {"batchItemFailures": []}, o.describe()
        elif o.reply.get("ok"):
            assert o.result.get("status") == "ok", o.describe()
            for r in o.result["results"]:
                assert r.get("status") in {"handled", "duplicate", "ignored"}, o.describe()
                if r.get("status") == "handled" and r.get("executed") is not True:
                    # a copy handled after the action must not read as a failure either
                    assert r.get("reason") not in {"failed", "busy"}, o.describe()


def _alarm_acted(outcomes: list[Outcome]) -> int:
    """Copies that answered "handled, executed": the one that acted, and any duplicate that an
    idempotency layer answered with the stored reply of that one."""
    return sum(
        1
        for o in outcomes
        if o.function == "AlarmFunction" and o.reply.get("ok")
        for r in o.result["results"]
        if r.get("status") == "handled" and r.get("executed") is True
    )


def _lease_is_free(world: World) -> None:
    store = world.rt.store
    try:
        store.acquire_lease("web", "someone-else", time.time())
    except LeaseHeld:
        pytest.fail("the target's lease is still held after every invocation returned")
    store.release_lease("web", "someone-else")


@pytest.mark.parametrize("scenario", ["alarm", "worker", "mixed"])
def test_concurrent_deliveries_scale_once(world: World, scenario: str, tmp_path: Path) -> None:
    assert world.desired() == 4 and not world.calls
    outcomes = run_together(world, deliveries(scenario), tmp_path)
    summary = _summary(scenario, outcomes, world)
    print(summary)
    _check_children(outcomes)
    executed = _executed(world)

    if scenario == "alarm":
        # One state change, eight copies: one UpdateService, 4 -> 6, by whichever copy got the
        # lease first; the rest are duplicates (quiet, or a retryable raise).
        assert world.calls == [ALARM_FROM_4], summary
        assert _alarm_acted(outcomes) >= 1, summary
        [d] = executed
        assert (d.source, d.before, d.after) == ("alarm", 4, ALARM_FROM_4), summary
    elif scenario == "worker":
        # One work item, eight copies: whoever gets the lease first scales 4 -> 8 and records
        # the tick; the others find the lease held (and record so) or the tick handled.
        assert world.calls == [WORKER], summary
        [d] = executed
        assert (d.source, d.before, d.after) == ("worker", 4, WORKER), summary
    else:
        # Four alarm copies and four work-item copies. Each path acts at most once, on the
        # capacity it reads under the lease, and the alarm path always decides (it waits for the
        # lease, the worker does not):
        # - alarm first (4 -> 6), then a worker that gets the lease plans 8 > floor 6: 6 -> 8;
        # - alarm first, every worker found the lease held: the tick is left to the next one;
        # - a worker first (4 -> 8, moving the alarm's threshold to 800): the alarm's 520 is
        #   within what 8 tasks serve, so it holds (a stale alarm is answered, not stepped).
        # (before, after, path) of each executed decision, for each legal UpdateService series
        legal: dict[tuple[int | None, ...], list[tuple[int, int, str]]] = {
            (ALARM_FROM_4, WORKER): [(4, ALARM_FROM_4, "alarm"), (ALARM_FROM_4, WORKER, "worker")],
            (ALARM_FROM_4,): [(4, ALARM_FROM_4, "alarm")],
            (WORKER,): [(4, WORKER, "worker")],
        }
        assert tuple(world.calls) in legal, summary
        assert _alarm_acted(outcomes) == (world.calls[0] == ALARM_FROM_4), summary
        # the log is ordered by each invocation's start, not by when it acted: compare sorted
        made = sorted((d.before or 0, d.after or 0, d.source.value) for d in executed)
        assert made == sorted(legal[tuple(world.calls)]), summary
    assert world.desired() == world.calls[-1], summary
    _lease_is_free(world)
