"""``scaleahead``: the operator's command line: targets, status, explain, forecast, events,
pause, decisions, backtest, demo.

Settings come from the deployed stack (``--stack``, ``$SCALEAHEAD_STACK``, or samconfig.toml's
stack when no table is named otherwise): its outputs and parameters, read with CloudFormation
``DescribeStacks``. Without a stack they come from the environment variables the functions
read (``STATE_TABLE``, ``ALARM_PREFIX``, ``MODE``...). ``--table`` and ``--alarm-prefix``
override either; ``--region`` and ``--profile`` choose the account; ``AWS_ENDPOINT_URL`` points
every call at a local moto server.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from scaleahead.domain.target import TargetError
from scaleahead.store.records import record_to_dict
from scaleahead_tools.cli.common import ConfigError, known_target, print_json, runtime


def cmd_targets_apply(args: argparse.Namespace) -> int:
    from rich.console import Console

    from scaleahead_tools.cli import targets as tg

    console = Console()
    # Phase 1: the whole file, validated (TargetError: exit 2, nothing written).
    defs = tg.read_target_file(args.file)
    rt = runtime(args)
    # Settings the file leaves unset that the resource gives (an Auto Scaling group's warm-up).
    defs, filled = tg.with_resource_defaults(defs)
    changes = tg.diff(rt, defs, prune=args.prune)
    # Phase 2: every target's resource looked up, every problem reported (exit 2, nothing
    # written). A dry run checks as much as a real one.
    readings = tg.check(rt, defs, tag=args.tag, take_over=args.take_over)
    as_json = args.output == "json"
    if as_json and args.dry_run:
        print_json({"dry_run": True, "changes": [c.__dict__ for c in changes], "done": []})
        return 0
    for line in filled if not as_json else ():
        console.print(f"[dim]{line}[/]")
    for c in changes if not as_json else ():
        style = {"add": "green", "change": "yellow", "remove": "red", "same": "dim"}[c.kind]
        extra = f" ({', '.join(c.fields)})" if c.fields else ""
        console.print(f"[{style}]{c.kind:>6}[/] {c.target_id}{extra}")
    if args.dry_run:
        console.print("dry run: nothing written")
        return 0
    # Phase 3: write. AWS refusing a write half way stops the apply with exactly what was
    # written and what was not; running the same apply again finishes it.
    # Before any write: the managed tag (--tag), Application Auto Scaling suspended and
    # recorded (--take-over).
    taken = tg.prepare(rt, defs, tag=args.tag, take_over=args.take_over)
    try:
        lines = taken + tg.write(rt, defs, changes, readings, time.time())
    except tg.ApplyInterrupted as err:
        if as_json:
            print_json(
                {
                    "dry_run": False,
                    "changes": [c.__dict__ for c in changes],
                    "done": taken + err.done,
                    "error": str(err),
                }
            )
        for line in taken if not as_json else ():
            console.print(line)
        print(f"error: {err.report()}", file=sys.stderr)
        return 1
    if as_json:
        print_json({"dry_run": False, "changes": [c.__dict__ for c in changes], "done": lines})
        return 0
    for line in lines:
        console.print(line)
    return 0


def cmd_targets_list(args: argparse.Namespace) -> int:
    rt = runtime(args)
    targets = rt.store.list_targets()
    if args.output == "json":
        print_json([json.loads(t.model_dump_json(by_alias=True)) for t in targets])
        return 0
    if not targets:
        print(
            f"no targets in {rt.settings.state_table} yet: "
            "`scaleahead targets apply FILE` declares them (examples/targets.yaml)"
        )
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="scaleahead targets")
    for col in ("id", "kind", "resource", "min", "max", "per unit", "warm-up", "mode", "enabled"):
        table.add_column(col)
    table.add_column("paused")
    pauses = rt.store.pauses()
    for t in targets:
        table.add_row(
            t.id,
            t.kind.value,
            t.resource_name,
            str(t.min_capacity),
            str(t.max_capacity),
            f"{t.capacity_per_unit:g}",
            f"{t.effective_warmup_seconds // 60} min",
            (t.mode or rt.settings.mode).value,
            "yes" if t.enabled else "no",
            held.by if (held := rt.store.pause_of(t.id, pauses)) else "",
        )
    Console().print(table)
    return 0


def cmd_targets_remove(args: argparse.Namespace) -> int:
    from scaleahead_tools.cli import targets as tg

    rt = runtime(args)
    if bool(args.target) == bool(args.all):
        raise TargetError("targets remove: name one target or give --all (not both)")
    if args.all:
        removed, restored, strays = tg.remove_all(rt)
        if args.output == "json":
            print_json({"removed": removed, "restored": restored, "stray_alarms_deleted": strays})
        else:
            for line in restored:
                print(line)
            print(f"removed {len(removed)} target(s) and their alarms: {', '.join(removed) or '-'}")
            if strays:
                print(f"deleted {len(strays)} managed alarm(s) with no target: {', '.join(strays)}")
        return 0
    known_target(rt, args.target)
    restored = tg.remove(rt, args.target)
    if args.output == "json":
        out: dict[str, object] = {"removed": args.target, "alarm_deleted": True}
        if restored:
            out["restored"] = restored
        print_json(out)
    else:
        for line in restored:
            print(line)
        print(f"removed {args.target} and its alarm")
    return 0


def _scope(args: argparse.Namespace, verb: str) -> str:
    """The target named, or every target with --all; exactly one of the two."""
    from scaleahead.store import ALL_TARGETS

    if bool(args.target) == bool(args.all):
        raise TargetError(f"{verb}: name one target or give --all (not both)")
    return ALL_TARGETS if args.all else str(args.target)


def cmd_pause(args: argparse.Namespace) -> int:
    rt = runtime(args)
    scope = _scope(args, "pause")
    if not args.all:
        known_target(rt, scope)
    by = args.by or os.environ.get("USER") or "cli"
    from scaleahead import clock

    rt.store.pause(scope, by, args.reason or "", clock.now())
    what = "every target" if args.all else scope
    if args.output == "json":
        print_json({"paused": scope, "by": by, "reason": args.reason or ""})
    else:
        print(
            f"paused {what}: no capacity changes from the next decision on; each one is still "
            f"recorded as what would have been done. `scaleahead resume` lifts it."
        )
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from scaleahead.store import ALL_TARGETS

    rt = runtime(args)
    scope = _scope(args, "resume")
    if scope == ALL_TARGETS:
        # --all lifts every pause, the global one and each target's.
        lifted = [p.target for p in rt.store.pauses() if rt.store.resume(p.target)]
    else:
        lifted = [scope] if rt.store.resume(scope) else []
    still = [p for p in rt.store.pauses() if p.target == ALL_TARGETS]
    if args.output == "json":
        print_json({"resumed": lifted, "still_paused": [p.describe() for p in still]})
        return 0
    if not lifted:
        print(f"nothing to resume: {'no pause' if args.all else scope + ' was not paused'}")
    for t in lifted:
        print(f"resumed {'every target' if t == ALL_TARGETS else t}")
    for p in still:
        print(f"warning: {p.describe()} still holds; `scaleahead resume --all` lifts it")
    return 0


def cmd_decisions(args: argparse.Namespace) -> int:
    rt = runtime(args)
    rows = rt.store.decisions(args.target, limit=args.limit)
    if not rows:
        # A removed target's decisions stay readable; nothing, for an unknown name, is a typo.
        known_target(rt, args.target)
    if args.output == "json":
        print_json([record_to_dict(r, keyed=True) for r in rows])
        return 0
    for r in reversed(rows):
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.at or 0.0))
        print(f"{at}Z [{r.source}] {r.reason}: {r.message}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from scaleahead import clock
    from scaleahead_tools.cli.status import status_of

    rt = runtime(args)
    now = clock.now()
    pauses = rt.store.pauses()
    targets = rt.store.list_targets()
    if args.target:
        targets = [known_target(rt, args.target)]
    rows = [status_of(rt, t, now, pauses) for t in targets]
    if args.output == "json":
        print_json([r.to_dict() for r in rows])
        return 0
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title="scaleahead status", box=box.SIMPLE_HEAD, collapse_padding=True)
    for col in ("target", "kind", "now", "plan", "in 1 h", "mode", "last action", "error"):
        table.add_column(col, no_wrap=col == "target")
    table.add_column("warm-up")
    for r in rows:
        last = "-"
        if r.last_action and r.last_action_at:
            last = f"{r.last_action} {time.strftime('%m-%d %H:%M', time.gmtime(r.last_action_at))}"
        table.add_row(
            r.target,
            r.kind,
            "?" if r.desired is None else f"{r.ready}/{r.desired}",
            "-" if r.planned_now is None else str(r.planned_now),
            "-" if r.planned_in_1h is None else str(r.planned_in_1h),
            r.mode,
            last,
            "-" if r.forecast_error is None else f"{100 * r.forecast_error:.0f}%",
            f"{r.warmup_seconds // 60} min"
            + (" (learned)" if "learned" in r.warmup_source else ""),
        )
    console = Console()
    console.print(table)
    console.print(
        "now: tasks/readers/shards serving / asked for · error: the forecast's mean absolute "
        "error over the last hour, relative to the load"
    )
    for r in rows:
        if r.problem:
            console.print(f"[yellow]{r.target}[/]: {r.problem}", highlight=False)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from scaleahead_tools.cli import explain as ex

    rt = runtime(args)
    target = known_target(rt, args.target)
    try:
        since = ex.parse_since(args.since)
    except ValueError as err:
        raise TargetError(str(err)) from None
    rows = rt.store.decisions(args.target, since=since, limit=args.limit)
    found = ex.entries(rows)
    if args.output == "json":
        print_json([e.to_dict() for e in found])
        return 0
    stored = rt.store.get_forecast(target)  # the driver's, for a target on one
    if stored is not None:
        print(ex.forecast_line(stored))
    if not found:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(since))
        print(f"no decision for {args.target} since {when}Z")
    for e in found:
        print(ex.render(e))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scaleahead", description=" ".join(__doc__.split("\n\n")[0].split())
    )
    _add_global_options(p, None)
    p.add_argument("--output", choices=["text", "json"], default="text")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("targets", help="declare what to scale")
    tsub = t.add_subparsers(dest="targets_command", required=True)
    ap = tsub.add_parser("apply", help="validate a target file, show the diff, write it")
    ap.add_argument("file")
    ap.add_argument("--dry-run", action="store_true", help="show the diff, write nothing")
    ap.add_argument("--prune", action="store_true", help="also remove targets not in the file")
    ap.add_argument(
        "--tag", action="store_true", help="add the scaleahead:managed=true tag where missing"
    )
    ap.add_argument(
        "--take-over",
        action="store_true",
        help="suspend Application Auto Scaling on the resources (`targets remove` restores it)",
    )
    ap.set_defaults(func=cmd_targets_apply)
    ls = tsub.add_parser("list", help="the targets in DynamoDB")
    ls.set_defaults(func=cmd_targets_list)
    rm = tsub.add_parser("remove", help="remove a target and its alarm (--all: teardown)")
    rm.add_argument("target", nargs="?")
    rm.add_argument(
        "--all",
        action="store_true",
        help="every target and every managed alarm, restoring what --take-over suspended",
    )
    rm.set_defaults(func=cmd_targets_remove)

    d = sub.add_parser("decisions", help="a target's decision log, oldest first")
    d.add_argument("target")
    d.add_argument("--limit", type=int, default=50)
    d.set_defaults(func=cmd_decisions)

    for verb, func, text in (
        ("pause", cmd_pause, "the kill switch: stop changing capacity, keep recording"),
        ("resume", cmd_resume, "lift a pause"),
    ):
        sp = sub.add_parser(verb, help=text, description=text)
        sp.add_argument("target", nargs="?", help="a target id")
        sp.add_argument("--all", action="store_true", help="every target")
        if verb == "pause":
            sp.add_argument("--reason", help="why, quoted in every decision while paused")
            sp.add_argument("--by", help="who (default: $USER)")
        sp.set_defaults(func=func)

    from scaleahead_tools.backtest.report import add_parser as add_backtest
    from scaleahead_tools.cli.activities import add_parser as add_activities
    from scaleahead_tools.cli.events import add_parser as add_events
    from scaleahead_tools.cli.forecast_chart import add_parser as add_forecast
    from scaleahead_tools.cli.shadow import add_parser as add_report
    from scaleahead_tools.cli.suggest import add_parser as add_suggest
    from scaleahead_tools.cost.run import add_parser as add_cost
    from scaleahead_tools.local.run import add_parser as add_local

    add_backtest(sub)
    add_forecast(sub)
    add_events(sub)
    add_activities(sub)
    add_report(sub)
    add_suggest(sub)
    add_local(sub)
    add_cost(sub)

    st = sub.add_parser(
        "status",
        help="every target: capacity, plan now and in an hour, mode, last action, forecast "
        "error, warm-up",
    )
    st.add_argument("target", nargs="?", help="only this target")
    st.set_defaults(func=cmd_status)

    ex = sub.add_parser(
        "explain",
        help="why a target scaled, or did not: its decisions in plain words",
        description="A target's decisions in plain words, oldest first; runs of decisions "
        "that changed nothing for the same reason are one line.",
    )
    ex.add_argument("target")
    ex.add_argument("--since", default="24h", help="30m, 2h, 1d, or an ISO time (default 24h)")
    ex.add_argument("--limit", type=int, default=2000, help="most decisions read (default 2000)")
    ex.set_defaults(func=cmd_explain)

    sub.add_parser("demo", help="run the end-to-end demo on moto (see `scaleahead demo --help`)")
    _accept_output_after_the_command(p)
    return p


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scaleahead")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _add_global_options(parser: argparse.ArgumentParser, default: str | None) -> None:
    """The options that say where the stack is: on the front door (``default`` None) and on
    every command (``default`` SUPPRESS, so the front door's value stays when not repeated)."""
    parser.add_argument(
        "--stack",
        default=default,
        help="the deployed stack: its outputs and parameters give the table, alarm prefix, "
        "mode and queue (default: $SCALEAHEAD_STACK, else samconfig.toml's stack_name when "
        "neither --table nor $STATE_TABLE is given)",
    )
    parser.add_argument(
        "--region", default=default, help="AWS region (default: $AWS_DEFAULT_REGION)"
    )
    parser.add_argument("--profile", default=default, help="AWS profile (default: $AWS_PROFILE)")
    parser.add_argument(
        "--table",
        default=default,
        help="state table name, over the stack's (default: the stack's, else $STATE_TABLE)",
    )
    parser.add_argument(
        "--alarm-prefix",
        default=default,
        help="managed alarm prefix, over the stack's (default: the stack's, else $ALARM_PREFIX)",
    )


# Commands with their own output files rather than an --output format, and no AWS stack.
_NO_OUTPUT_FORMAT = {"backtest", "demo", "local", "cost"}


def _accept_output_after_the_command(parser: argparse.ArgumentParser, top: bool = True) -> None:
    """``scaleahead status --output json`` as well as ``scaleahead --output json status``: each
    command also takes ``--output`` and the stack options, defaulting to the global ones
    (SUPPRESS keeps them unset)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in subs:
        for name, child in action.choices.items():
            if name not in _NO_OUTPUT_FORMAT:
                _accept_output_after_the_command(child, top=False)
    if not top and not subs:
        parser.add_argument(
            "--output",
            choices=["text", "json"],
            default=argparse.SUPPRESS,
            help="text (default) or json, for scripts",
        )
        _add_global_options(parser, argparse.SUPPRESS)


# The environment variables --region and --profile set for one command (botocore reads the
# region from AWS_DEFAULT_REGION, not AWS_REGION).
_AWS_VARIABLES = ("AWS_DEFAULT_REGION", "AWS_PROFILE")


@contextmanager
def _aws_environment(args: argparse.Namespace) -> Iterator[None]:
    """``--region`` and ``--profile`` for this command's clients (and the functions' wiring,
    which makes its clients from a default session), put back as they were afterwards."""
    from scaleahead.aws import clients

    saved = {k: os.environ.get(k) for k in _AWS_VARIABLES}
    if args.region:
        os.environ["AWS_DEFAULT_REGION"] = args.region
    if args.profile:
        os.environ["AWS_PROFILE"] = args.profile
    # Clients made for another region or profile are not this command's.
    if args.region or args.profile:
        clients.reset()
    try:
        yield
    finally:
        changed = any(os.environ.get(k) != v for k, v in saved.items())
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if changed:
            clients.reset()


def _region() -> str:
    import boto3

    try:
        return boto3.session.Session().region_name or "(none)"
    except BotoCoreError:
        return "(none)"


_TABLE_OPERATIONS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"}
_TABLE_OPERATIONS |= {"BatchGetItem", "BatchWriteItem", "TransactWriteItems", "TransactGetItems"}


def _aws_error(args: argparse.Namespace, err: BotoCoreError | ClientError) -> tuple[str, int]:
    """One line for an AWS error, naming what was not found and what to do; exit 2 when it is
    a configuration mistake (table, region, profile, credentials), 1 otherwise."""
    from botocore.exceptions import NoCredentialsError, NoRegionError, ProfileNotFound

    if isinstance(err, ClientError):
        code = err.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException" and err.operation_name in _TABLE_OPERATIONS:
            settings = getattr(args, "resolved_settings", None)
            table = settings.state_table if settings else "?"
            return (
                f"table {table!r} not found in region {_region()}: pass --stack or --table "
                "(or --region / AWS_DEFAULT_REGION if the stack is in another region)",
                2,
            )
    if isinstance(err, NoRegionError):
        return "no AWS region: pass --region or set AWS_DEFAULT_REGION", 2
    if isinstance(err, ProfileNotFound):
        return f"{err}: pass an existing --profile (see ~/.aws/config) or unset AWS_PROFILE", 2
    if isinstance(err, NoCredentialsError):
        return "no AWS credentials: pass --profile or set AWS_PROFILE (or the AWS_* keys)", 2
    return (
        f"AWS said: {err} (region {_region()}: pass --region or set AWS_DEFAULT_REGION, "
        "--profile or AWS_PROFILE, or AWS_ENDPOINT_URL for a local moto server)",
        1,
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["demo"]:
        # The demo has its own options (`scaleahead demo --help`).
        from scaleahead_tools.demo.run import main as demo_main

        return demo_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        with _aws_environment(args):
            try:
                rc: int = args.func(args)
            except (BotoCoreError, ClientError) as err:
                # Inside: the region the command ran in is still set.
                message, code = _aws_error(args, err)
                print(f"error: {message}", file=sys.stderr)
                return code
    except (TargetError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return rc


if __name__ == "__main__":
    sys.exit(main())
