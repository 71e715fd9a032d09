"""``make sam-local``: every function, built by ``sam build``, invoked by ``sam local invoke`` in
the Lambda container with every one of its sample events, against a moto server, and checked.

Why a driver and not a shell loop: ``sam local invoke`` exits 0 even when the handler raised, so
each result has to be read, and a result is only half the proof; the other half is the effect
the event should have had on "AWS" (the service's desired count went up, the work item was
enqueued, the malformed item was recorded). The moto server runs in this process, so the checks
read the very backend the functions wrote to.

The events are the files in ``events/``, sent as copies stamped with the present
(``out/sam-local/events/``): the functions refuse a tick or an alarm change stamped more than an
hour ago (``domain.timing``), as they should. Worker items name the current minute; the alarm
files name the account `sam local invoke` runs the function in (``SAM_LOCAL_ACCOUNT``) and are
shifted in time as a whole, so their order (ALARM, then OK 17 minutes later) is kept
and the OK lands just before now. The Lambda action's copy of the ALARM is stamped 300 ms after
the EventBridge one, as AWS stamps them, and must still be recognised as the same change.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from scaleahead.domain.record import DecisionRecord
from scaleahead.service.runtime import Runtime
from scaleahead.settings import Settings
from scaleahead.store import Store
from scaleahead_testkit import moto_autoscaling, moto_memcached
from scaleahead_testkit.local_aws import (
    LOCAL_ENV,
    REGION,
    REPO_ROOT,
    create_ecs,
    create_tables,
    put_series,
)
from scaleahead_tools.local.server import moto_server
from scaleahead_tools.traces import load_trace

EVENTS = REPO_ROOT / "events"
OUT = REPO_ROOT / "out" / "sam-local"
# Outside 5000-9000, where SAM picks the container's own port.
DEFAULT_PORT = 4599
# What the containers call the host (``--add-host host.docker.internal:host-gateway``).
CONTAINER_HOST = "host.docker.internal"
TARGET_FILE = REPO_ROOT / "examples" / "targets.yaml"
TARGET = "web"
# Requests per minute on the web service's load balancer for the last 20 minutes: well above
# what its 4 tasks serve (600 each) and above the forecast, so the worker has something to do.
RECENT_LOAD = 6000.0
HISTORY_TRACE = REPO_ROOT / "traces" / "nasa_http_jul95.csv"
HISTORY_DAYS = 3


@dataclass
class World:
    """The moto server as the checks see it: this process's runtime, pointed at the server."""

    endpoint: str
    settings: Settings
    queue_url: str

    @property
    def rt(self) -> Runtime[Store]:
        from scaleahead.handlers import common

        return common.runtime()

    def client(self, service: str) -> Any:
        from scaleahead.aws import clients

        return clients.client(service)

    def desired(self) -> int:
        svc = self.client("ecs").describe_services(cluster="prod", services=["web"])["services"]
        return int(svc[0]["desiredCount"])

    def decisions(self) -> list[DecisionRecord]:
        return self.rt.store.decisions(TARGET, limit=100)

    def rejected(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.rt.store.rejected()
        return rows

    def queued(self) -> list[dict[str, Any]]:
        """Take every message off the work queue (the next invocation starts from empty)."""
        sqs = self.client("sqs")
        got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        msgs = got.get("Messages", [])
        for m in msgs:
            sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in msgs]

    def alarm_state(self) -> str | None:
        floor = self.rt.store.get_state(TARGET).floor
        return None if floor is None else str(floor.alarm_state)


# ------------------------------------------------------------------ the moto server


def seed(endpoint: str) -> World:
    """The stack's tables (from template.yaml), the work queue, the web service, its load, and
    the target, applied with the operator's own CLI against the server."""
    from scaleahead.aws import clients
    from scaleahead.handlers import common
    from scaleahead_tools.cli.main import main as cli

    os.environ.update({**LOCAL_ENV, "AWS_ENDPOINT_URL": endpoint})
    clients.reset()
    common.reset()
    settings = Settings.from_env()
    create_tables(clients.client("dynamodb"), settings)
    url = clients.client("sqs").create_queue(QueueName="scaleahead-work")["QueueUrl"]
    os.environ["WORK_QUEUE_URL"] = url
    settings = Settings.from_env()
    common.reset()
    create_ecs(clients.client("ecs"), "prod", {"web": 4})
    moto_memcached.install()  # the server runs in this process: its backends are these
    moto_autoscaling.install()
    create_data_tiers(
        clients.client("elasticache"), clients.client("ec2"), clients.client("autoscaling")
    )
    web = _example_target()
    metric = web["load_metric"]["queries"][0]["MetricStat"]["Metric"]
    put_series(
        clients.client("cloudwatch"),
        metric["Namespace"],
        metric["MetricName"],
        metric["Dimensions"],
        load_history(time.time()),
    )
    OUT.mkdir(parents=True, exist_ok=True)
    target_file = OUT / "targets.yaml"
    target_file.write_text(yaml.safe_dump({"targets": [web, *data_tier_targets(web)]}))
    if cli(["targets", "apply", str(target_file)]) != 0:
        raise RuntimeError("scaleahead targets apply failed against the moto server")
    return World(endpoint, settings, url)


# The Memcached cluster and the Auto Scaling group of the data-tiers event, from the README's
# examples, on the web service's load at 1,500 requests a minute a unit: the surge asks four.
DATA_TIERS = ("page-cache", "web-hosts")
DATA_TIER_UNIT = 1500.0
_MANAGED = {"Key": "scaleahead:managed", "Value": "true"}


def data_tier_targets(web: dict[str, Any]) -> list[dict[str, Any]]:
    """``examples/memcached.yaml``'s cluster and ``examples/asg.yaml``'s group, each on
    ``web``'s load metric (no driver: the file applied holds targets only)."""
    examples = REPO_ROOT / "examples"
    [cache] = yaml.safe_load((examples / "memcached.yaml").read_text())["targets"]
    hosts = next(
        t
        for t in yaml.safe_load((examples / "asg.yaml").read_text())["targets"]
        if t["id"] == "web-hosts"
    )
    out = []
    for t in (cache, hosts):
        t = {k: v for k, v in t.items() if k != "driver"}
        out.append({**t, "load_metric": web["load_metric"], "capacity_per_unit": DATA_TIER_UNIT})
    return out


def create_data_tiers(elasticache: Any, ec2: Any, autoscaling: Any) -> None:
    """Two Memcached nodes and two instances, tagged for scaleahead (moto, with
    ``moto_memcached`` and ``moto_autoscaling`` installed)."""
    elasticache.create_cache_cluster(
        CacheClusterId="page-cache",
        Engine="memcached",
        CacheNodeType="cache.r7g.large",
        NumCacheNodes=2,
        Tags=[_MANAGED],
    )
    ec2.create_launch_template(
        LaunchTemplateName="web-hosts",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web-hosts",
        LaunchTemplate={"LaunchTemplateName": "web-hosts", "Version": "$Latest"},
        AvailabilityZones=[f"{REGION}a"],
        MinSize=1,
        MaxSize=16,
        DesiredCapacity=2,
        Tags=[
            {
                **_MANAGED,
                "ResourceId": "web-hosts",
                "ResourceType": "auto-scaling-group",
                "PropagateAtLaunch": False,
            }
        ],
    )


def load_history(now: float) -> list[tuple[float, float]]:
    """Three days of the NASA trace's per-minute requests ending now, scaled so that its p99
    asks for six tasks, then a surge the forecast did not see coming: 20 minutes at
    ``RECENT_LOAD``. Enough history for the worker to fit a forecast, so ``status``,
    ``explain`` and ``forecast`` have something to show against the kept server."""
    trace = load_trace(HISTORY_TRACE)
    values = trace.values[: HISTORY_DAYS * 1440]
    scale = 3600.0 / sorted(values)[int(0.99 * len(values))]
    end = int(now) // 60 * 60
    points = [(end - (len(values) - i) * 60.0, v * scale) for i, v in enumerate(values)]
    return points[:-20] + [(t, RECENT_LOAD) for t, _ in points[-20:]]


def _example_target() -> dict[str, Any]:
    """The README's example target ``web``, the one every sample event names."""
    doc = yaml.safe_load(TARGET_FILE.read_text())
    [web] = [t for t in doc["targets"] if t["id"] == TARGET]
    return dict(web)


# ------------------------------------------------------------------ invoking


@dataclass
class Invocation:
    function: str
    event: str
    result: Any
    logs: str
    seconds: float


def container_env(world: World, port: int) -> dict[str, dict[str, str]]:
    """``--env-vars``: only variables template.yaml declares can be set this way, which is why
    it declares ``AWS_ENDPOINT_URL`` (empty, hence inert, in AWS)."""
    inside = f"http://{CONTAINER_HOST}:{port}"
    s = world.settings
    return {
        "Parameters": {
            "AWS_ENDPOINT_URL": inside,
            "STATE_TABLE": s.state_table,
            "WORK_QUEUE_URL": world.queue_url.replace("127.0.0.1", CONTAINER_HOST).replace(
                "localhost", CONTAINER_HOST
            ),
            "ALARM_PREFIX": s.alarm_prefix,
            "MODE": "ForecastAndScale",
            "TICK_MINUTES": "1",
            "DECISION_TTL_DAYS": "7",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
    }


def sam_binary() -> str:
    here = Path(sys.executable).parent / "sam"
    found = str(here) if here.exists() else shutil.which("sam")
    if not found:
        raise RuntimeError("sam not found: `make setup` installs aws-sam-cli into .venv")
    return found


def sam_env() -> dict[str, str]:
    """The host side of ``sam``: fake credentials (passed into the container) and the venv's
    python3.11 first on PATH (``sam build`` runs it)."""
    env = dict(os.environ)
    env.update({k: v for k, v in LOCAL_ENV.items() if k.startswith("AWS_")})
    env.pop("AWS_ENDPOINT_URL", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["SAM_CLI_TELEMETRY"] = "0"
    return env


def build() -> None:
    subprocess.run([sam_binary(), "build"], cwd=REPO_ROOT, env=sam_env(), check=True)


def invoke(function: str, event: Path, env_file: Path) -> Invocation:
    """One ``sam local invoke``; the result is the last JSON line of its stdout."""
    t0 = time.monotonic()
    proc = subprocess.run(
        [
            sam_binary(),
            "local",
            "invoke",
            function,
            "-e",
            str(event),
            "--skip-pull-image",
            "--env-vars",
            str(env_file),
            "--add-host",
            f"{CONTAINER_HOST}:host-gateway",
            "--region",
            REGION,
        ],
        cwd=REPO_ROOT,
        env=sam_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.monotonic() - t0
    result: Any = None
    for line in reversed(proc.stdout.strip().splitlines()):
        try:
            result = json.loads(line)
            break
        except json.JSONDecodeError:
            continue
    if proc.returncode != 0 and result is None:
        result = {"errorType": "SamCliFailed", "errorMessage": proc.stderr[-2000:]}
    return Invocation(function, event.name, result, proc.stderr + proc.stdout, seconds)


# ------------------------------------------------------------------ the events and their checks


def stamped(name: str, tick: int) -> Path:
    """A copy of a sample event stamped for ``tick`` (see the module doc)."""
    if name.startswith("alarm-"):
        return _write(name, _shifted_alarm(name, tick))
    event = json.loads((EVENTS / name).read_text())
    for record in event["Records"]:
        try:
            body = json.loads(record["body"])
        except json.JSONDecodeError:
            continue  # the malformed item stays malformed
        body["tick"] = tick
        record["body"] = json.dumps(body, separators=(",", ":"))
        record["attributes"]["SentTimestamp"] = str(tick * 1000)
        record["attributes"]["ApproximateFirstReceiveTimestamp"] = str(tick * 1000 + 50)
    return _write(name, json.dumps(event, indent=2))


# The latest state change in the sample alarm files (the OK, 2026-11-27T12:20:10Z), and how long
# before the tick the shifted copies put it.
_SAMPLE_LAST_CHANGE = 1795782010.0
_LAST_CHANGE_BEFORE_TICK = 10.0
# Per file, how much later than the others AWS stamps that channel's copy of one change.
_CHANNEL_JITTER = {"alarm-lambda-action.json": 0.3}
# The account of the sample events (moto's) and the one `sam local invoke` runs a function in
# (the ARN of its context): the alarm function refuses alarms of any other account than its own,
# so the copies name the account the function sees, as a deployed stack's alarms do.
_SAMPLE_ACCOUNT = "123456789012"
SAM_LOCAL_ACCOUNT = "012345678912"
# The samples' datapoints (520 and 500 over the 400 of 4 tasks of 100) fit the tests' target.
# This world's target serves 600 a task and the worker has just scaled it to the surge, and the
# alarm function measures the overshoot against its own threshold for that capacity: the copies
# carry twice the surge, which beats whatever the worker planned for it.
_SAMPLE_POINTS = {"520.0": 2 * RECENT_LOAD, "500.0": 1.9 * RECENT_LOAD}
_ISO = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{3})?(Z|[+-]\d{2}:?\d{2})")


def _shifted_alarm(name: str, tick: int) -> str:
    """The file's text with every ISO time moved by one offset (order and gaps kept)."""
    shift = tick - _LAST_CHANGE_BEFORE_TICK - _SAMPLE_LAST_CHANGE + _CHANNEL_JITTER.get(name, 0.0)

    def move(m: re.Match[str]) -> str:
        t = datetime.fromisoformat(m.group(1) + (m.group(2) or "") + "+00:00").timestamp()
        moved = datetime.fromtimestamp(t + shift, UTC)
        return moved.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moved.microsecond // 1000:03d}+0000"

    text = _ISO.sub(move, (EVENTS / name).read_text())
    for sample, load in _SAMPLE_POINTS.items():
        text = text.replace(sample, f"{load:.1f}")
    return text.replace(_SAMPLE_ACCOUNT, SAM_LOCAL_ACCOUNT)


def _write(name: str, text: str) -> Path:
    path = OUT / "events" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


Check = Callable[[World, Invocation, dict[str, Any]], list[str]]


def _key(row: DecisionRecord | dict[str, Any]) -> str:
    if isinstance(row, DecisionRecord):
        return repr(row)
    return json.dumps(row, sort_keys=True, default=str)


def _before(world: World) -> dict[str, Any]:
    return {
        "desired": world.desired(),
        "decisions": {_key(r) for r in world.decisions()},
        "rejected": {_key(r) for r in world.rejected()},
        "results": {},
    }


def _new_decisions(world: World, before: dict[str, Any], source: str) -> list[DecisionRecord]:
    """Decisions recorded since ``before`` (an alarm's is stamped with the state change's time,
    so it may sort before older ones: compare sets, not counts)."""
    return [
        r for r in world.decisions() if r.source == source and _key(r) not in before["decisions"]
    ]


def _logged_decision(inv: Invocation) -> list[str]:
    """Powertools' structured line for the decision, with the event's correlation id."""
    for line in inv.logs.splitlines():
        try:
            entry = json.loads(line[line.index("{") :]) if "{" in line else None
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and entry.get("message") == "decision":
            if entry.get("target") != TARGET or not entry.get("correlation_id"):
                return [f"decision log line lacks target or correlation id: {entry}"]
            return []
    return ["no structured 'decision' log line in the function's output"]


def check_tick(world: World, inv: Invocation, before: dict[str, Any]) -> list[str]:
    problems = []
    if inv.result.get("status") != "ok" or TARGET not in inv.result.get("enqueued", []):
        problems.append(f"expected status ok with {TARGET} enqueued, got {inv.result}")
    queued = world.queued()
    if not any(m.get("target_id") == TARGET for m in queued):
        problems.append(f"no work item for {TARGET} on the work queue (found {queued})")
    return problems


def check_worker_malformed(world: World, inv: Invocation, before: dict[str, Any]) -> list[str]:
    problems = []
    if inv.result != {"batchItemFailures": []}:
        problems.append(f"a malformed item must be dropped, not retried: {inv.result}")
    new = [r for r in world.rejected() if _key(r) not in before["rejected"]]
    if not any("work message is not JSON" in str(r.get("reason")) for r in new):
        problems.append("the malformed item was not recorded as rejected")
    made = _new_decisions(world, before, "worker")
    if not made:
        problems.append("the well-formed item beside it was not processed")
    # 6,000 requests/min over tasks that serve 600 each: the plan is at least the observed
    # load (10 tasks), whatever the forecast expected.
    if world.desired() < 10:
        problems.append(f"desired count {before['desired']} -> {world.desired()}, expected >= 10")
    if not any(r.tick is not None and r.tick.forecast_status == "ok" for r in made):
        problems.append("the worker did not fit a forecast from three days of history")
    return problems + _logged_decision(inv)


def check_worker_batch(world: World, inv: Invocation, before: dict[str, Any]) -> list[str]:
    problems = []
    if inv.result != {"batchItemFailures": []}:
        problems.append(f"expected no failed item, got {inv.result}")
    if not _new_decisions(world, before, "worker"):
        problems.append("no decision recorded for the work item")
    return problems + _logged_decision(inv)


def check_worker_data_tiers(world: World, inv: Invocation, before: dict[str, Any]) -> list[str]:
    """Both items planned and carried out: the surge (6,000 a minute at 1,500 a unit) asks
    more nodes of the cluster and more instances of the group."""
    problems = []
    if inv.result != {"batchItemFailures": []}:
        problems.append(f"expected no failed item, got {inv.result}")
    for tid in DATA_TIERS:
        if not world.rt.store.decisions(tid, limit=10):
            problems.append(f"no decision recorded for {tid}")
    cluster = world.client("elasticache").describe_cache_clusters(CacheClusterId="page-cache")
    asked = (cluster["CacheClusters"][0].get("PendingModifiedValues") or {}).get("NumCacheNodes")
    if not asked or asked <= 2:
        problems.append(f"page-cache: no node change asked (pending {asked}, 2 nodes)")
    group = world.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["web-hosts"]
    )["AutoScalingGroups"][0]
    if group["DesiredCapacity"] <= 2:
        problems.append(f"web-hosts: desired capacity still {group['DesiredCapacity']}")
    return problems


def check_alarm(world: World, inv: Invocation, before: dict[str, Any]) -> list[str]:
    problems = []
    if inv.result.get("status") != "ok":
        problems.append(f"expected status ok, got {inv.result}")
    if not _new_decisions(world, before, "alarm"):
        problems.append("no alarm decision recorded")
    if world.alarm_state() != "ALARM":
        problems.append(f"the floor's alarm state is {world.alarm_state()}, expected ALARM")
    if world.desired() <= before["desired"]:
        problems.append(f"desired count {before['desired']} -> {world.desired()}: not raised")
    return problems


def check_alarm_redelivered(world: World, inv: Invocation, before: dict[str, Any]) -> list[str]:
    problems = []
    results = inv.result.get("results") or [{}]
    if inv.result.get("status") != "ok" or results[0].get("status") != "duplicate":
        problems.append(f"expected the change recognised as a duplicate, got {inv.result}")
    if _new_decisions(world, before, "alarm"):
        problems.append("the same state change was decided twice")
    if world.desired() != before["desired"]:
        problems.append(f"desired count moved again: {before['desired']} -> {world.desired()}")
    return problems


def check_ok(world: World, inv: Invocation, before: dict[str, Any]) -> list[str]:
    problems = []
    results = inv.result.get("results") or [{}]
    if inv.result.get("status") != "ok" or results[0].get("executed") is not False:
        problems.append(f"expected status ok and nothing executed, got {inv.result}")
    if world.alarm_state() != "OK":
        problems.append(f"the floor's alarm state is {world.alarm_state()}, expected OK")
    if world.desired() != before["desired"]:
        problems.append(f"desired count moved on OK: {before['desired']} -> {world.desired()}")
    return problems


def plan(tick: int) -> list[tuple[str, Path, Check]]:
    """Every sample event, in an order whose effects build on each other: the tick enqueues,
    the worker scales to the load, the alarm raises above the plan, OK starts the floor's
    expiry."""
    return [
        ("TickFunction", EVENTS / "tick-schedule.json", check_tick),
        (
            "WorkerFunction",
            stamped("worker-sqs-malformed.json", tick - 60),
            check_worker_malformed,
        ),
        ("WorkerFunction", stamped("worker-sqs-batch.json", tick), check_worker_batch),
        (
            "WorkerFunction",
            stamped("worker-sqs-batch-data-tiers.json", tick),
            check_worker_data_tiers,
        ),
        ("AlarmFunction", stamped("alarm-eventbridge-alarm.json", tick), check_alarm),
        ("AlarmFunction", stamped("alarm-lambda-action.json", tick), check_alarm_redelivered),
        ("AlarmFunction", stamped("alarm-sns.json", tick), check_alarm_redelivered),
        ("AlarmFunction", stamped("alarm-eventbridge-ok.json", tick), check_ok),
    ]


def unplanned_events(steps: list[tuple[str, Path, Check]]) -> list[str]:
    """Sample events the plan leaves out: every file in events/ must be invoked."""
    planned = {path.name for _, path, _ in steps}
    return sorted(p.name for p in EVENTS.glob("*.json") if p.name not in planned)


def keep_serving(world: World, port: int) -> None:
    """Leave the server up for the operator's CLI, until Ctrl-C."""
    s = world.settings
    print(
        "\nThe moto server stays up with what the functions left; in another shell:\n"
        f"  export AWS_ENDPOINT_URL=http://127.0.0.1:{port} AWS_DEFAULT_REGION={REGION} "
        "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing\n"
        f"  export STATE_TABLE={s.state_table} ALARM_PREFIX={s.alarm_prefix}\n"
        "  scaleahead status; scaleahead explain web; scaleahead forecast web --png web.png\n"
        "Ctrl-C stops it.",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def run(port: int, do_build: bool, keep: bool = False) -> int:
    if do_build:
        print("sam build ...", flush=True)
        build()
    failures = 0
    with moto_server(port, host="0.0.0.0") as endpoint:  # the containers reach it
        world = seed(endpoint)
        env_file = OUT / "env.json"
        env_file.write_text(json.dumps(container_env(world, port), indent=2))
        print(f"moto server on 0.0.0.0:{port}; containers reach it as {CONTAINER_HOST}", flush=True)
        steps = plan(int(time.time()) // 60 * 60)
        missing = unplanned_events(steps)
        if missing:
            print(f"FAIL: sample events never invoked: {', '.join(missing)}")
            return 1
        for function, event, check in steps:
            before = _before(world)
            inv = invoke(function, event, env_file)
            (OUT / f"{function}-{event.stem}.log").write_text(inv.logs)
            if not isinstance(inv.result, dict):
                problems = [f"no JSON result in sam's output ({inv.result!r})"]
            elif "errorType" in inv.result:
                problems = [f"the handler raised: {inv.result}"]
            else:
                problems = check(world, inv, before)
            status = "ok  " if not problems else "FAIL"
            print(
                f"{status} {function:<15} {event.name:<30} {inv.seconds:5.1f} s  "
                f"{json.dumps(inv.result)[:90]}",
                flush=True,
            )
            for p in problems:
                print(f"       - {p}")
            failures += bool(problems)
        print(
            f"{len(steps) - failures}/{len(steps)} invocations passed; logs in "
            f"{OUT.relative_to(REPO_ROOT)}/",
            flush=True,
        )
        if keep:
            keep_serving(world, port)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m scaleahead_tools.demo.sam_local", description=__doc__
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="moto server port")
    p.add_argument("--no-build", action="store_true", help="reuse .aws-sam/build")
    p.add_argument(
        "--keep", action="store_true", help="keep the moto server up afterwards, for the CLI"
    )
    args = p.parse_args(argv)
    return run(args.port, not args.no_build, args.keep)


if __name__ == "__main__":
    sys.exit(main())
