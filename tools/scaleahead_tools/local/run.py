"""``scaleahead local``: the deployed stack, rehearsed on this machine in a minute, without Docker.

A moto server on 127.0.0.1 gets the real stack (``local.deploy``: SAM transform, package,
CloudFormation ``CreateStack``) and a sample workload (``local.sample``), and this process then
plays the part of the Lambda service: every ``--tick-seconds`` it runs the tick and the worker
handlers, in-process, with the environment CloudFormation gave the deployed functions, exactly
as the schedule rule and the queue's event source mapping would run them. (moto runs Lambda
code only in Docker, so the mapping is disabled and this process polls the queue instead.)
Alarms are not evaluated by moto: the alarm function is not driven here; ``make demo`` and
``make sam-local`` exercise it.

Every CLI command then works against the server with the printed ``export`` lines, ``--stack``
included, as it would against a real deploy.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from scaleahead_testkit.local_aws import REGION, REPO_ROOT
from scaleahead_tools.local.deploy import Deployed, deploy
from scaleahead_tools.local.sample import Sample, create
from scaleahead_tools.local.server import moto_server

DEFAULT_PORT = 4599
DEFAULT_STACK = "scaleahead-local"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
OUT = REPO_ROOT / "out" / "local"


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in os.environ for the block; the previous environment afterwards."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def clients_for(endpoint: str) -> Callable[[str], Any]:
    """boto3 clients bound to the server, whatever the caller's environment says."""
    import boto3

    def make(service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    return make


@dataclass
class Local:
    """The server, what was deployed on it, and the functions' stand-in."""

    endpoint: str
    deployed: Deployed
    sample: Sample
    log: TextIO
    function_env: dict[str, str] = field(default_factory=dict)

    @property
    def client_env(self) -> dict[str, str]:
        """What a shell needs for every CLI command to reach this stack."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            **CREDENTIALS,
            "SCALEAHEAD_STACK": self.deployed.stack_name,
        }

    def client(self, service: str) -> Any:
        return clients_for(self.endpoint)(service)

    def tick(self, now: float | None = None) -> int:
        """One schedule tick through the deployed functions' handlers; returns the work items
        the worker handled."""
        from scaleahead import clock
        from scaleahead.aws import clients
        from scaleahead.handlers import common
        from scaleahead.handlers import tick as tick_fn
        from scaleahead.handlers import worker as worker_fn
        from scaleahead_testkit.functions import adopt_environment, schedule_tick
        from scaleahead_testkit.lambda_context import LocalContext

        with environment(self.function_env):
            clock.set_clock(None)
            clients.reset()
            common.reset()
            adopt_environment()
            handler = common.logger.registered_handler
            console = handler.setStream(self.log)  # type: ignore[attr-defined]
            try:
                return schedule_tick(
                    tick_fn.handler,
                    worker_fn.handler,
                    self.client("sqs"),
                    self.deployed.outputs["WorkQueueUrl"],
                    LocalContext(),
                    time.time() if now is None else now,
                    self.log,
                    REGION,
                )
            finally:
                handler.setStream(console)  # type: ignore[attr-defined]
                clients.reset()
                common.reset()


def _function_env(local: Local) -> dict[str, str]:
    """The worker's environment as CloudFormation set it, pointed at this server."""
    lam = local.client("lambda")
    name = local.deployed.outputs["WorkerFunctionName"]
    env = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    return {
        **{k: str(v) for k, v in env.items()},
        **local.client_env,
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        "AWS_LAMBDA_FUNCTION_NAME": name,
    }


def _disable_event_source_mappings(local: Local) -> int:
    """moto would run the worker in Docker on each message; this process polls instead."""
    lam = local.client("lambda")
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    for m in mappings:
        lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False)
    return len(mappings)


@contextmanager
def start(
    port: int,
    *,
    stack: str = DEFAULT_STACK,
    mode: str = "ForecastOnly",
    days: float = 3.0,
    log_path: Path | None = None,
) -> Iterator[Local]:
    """Serve moto, deploy the stack and the sample; yields until the block ends."""
    log_path = log_path or OUT / "functions.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        environment({"AWS_DEFAULT_REGION": REGION, **CREDENTIALS}),
        moto_server(port) as endpoint,
        log_path.open("w") as log,
    ):
        deployed = deploy(clients_for(endpoint), stack, {"Mode": mode})
        sample = create(clients_for(endpoint), time.time(), days)
        local = Local(endpoint, deployed, sample, log)
        _disable_event_source_mappings(local)
        local.function_env = _function_env(local)
        yield local


def _summary(local: Local, port: int, days: float) -> str:
    d = local.deployed
    n = sum(d.resource_types.values())
    lines = [
        f"moto server on 127.0.0.1:{port}",
        f"stack {d.stack_name}: CREATE_COMPLETE through moto's CloudFormation, {n} resources "
        f"after the SAM transform (Mode={d.parameters.get('Mode')}, "
        f"AlarmPrefix={d.parameters.get('AlarmPrefix')})",
    ]
    if d.supplied:
        lines.append(
            "  moto's CloudFormation lacks " + ", ".join(d.supplied) + ": created by "
            "scaleahead_testkit/moto_cfn.py through moto's own backends"
        )
    if d.skipped:
        lines.append(
            "  NOT created (moto lacks them and nothing here makes them): " + ", ".join(d.skipped)
        )
    lines += [
        f"  outputs: StateTableName={d.outputs['StateTableName']}",
        f"sample: ECS service prod/web (untagged, with Application Auto Scaling policy "
        f"web-cpu-target-tracking), {days:g} days of RequestCount and RunningTaskCount",
        "the tick and worker handlers run in this process every tick (moto runs Lambda code "
        "only in Docker); their logs: " + str(Path(local.log.name).resolve()),
        "moto starts no containers: ECS reports 0 tasks running whatever is asked for",
        "",
        "In another shell:",
        "  export " + " ".join(f"{k}={v}" for k, v in local.client_env.items()),
        "  scaleahead targets apply examples/targets.yaml --tag --take-over",
        "  scaleahead status; scaleahead explain web; scaleahead suggest web",
        "Ctrl-C stops the server (everything on it is gone).",
    ]
    return "\n".join(lines)


def cmd_local(args: argparse.Namespace) -> int:
    try:
        with start(args.port, stack=args.stack_name, mode=args.mode, days=args.days) as local:
            print(_summary(local, args.port, args.days), flush=True)
            while True:
                started = time.time()
                try:
                    handled = local.tick(started)
                except RuntimeError as e:
                    print(f"{time.strftime('%H:%M:%S')} {e}", flush=True)
                else:
                    if handled:
                        print(
                            f"{time.strftime('%H:%M:%S')} tick: {handled} work item(s) "
                            "handled by the worker",
                            flush=True,
                        )
                time.sleep(max(1.0, args.tick_seconds - (time.time() - started)))
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "local",
        help="try everything locally: the real stack deployed into a moto server, no Docker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    p.add_argument("--stack-name", default=DEFAULT_STACK, help=f"default {DEFAULT_STACK}")
    p.add_argument(
        "--mode",
        choices=["ForecastOnly", "ForecastAndScale"],
        default="ForecastOnly",
        help="the stack's Mode parameter (default ForecastOnly, as a first deploy)",
    )
    p.add_argument("--days", type=float, default=3.0, help="days of sample history (default 3)")
    p.add_argument(
        "--tick-seconds", type=float, default=60.0, help="how often the functions run (60)"
    )
    p.set_defaults(func=cmd_local)
