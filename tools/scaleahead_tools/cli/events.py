"""`scaleahead events add|list|remove`: planned events as first-class objects with an expiry.

The rules live in ``domain.events`` (validation, uplift, floor, exclusion from learning); this
module reads the operator's words, checks the event against its target and stores it.
"""

from __future__ import annotations

import argparse
import os
import re
from datetime import UTC, datetime
from typing import Any

from scaleahead.domain.events import EventError, PlannedEvent
from scaleahead.domain.target import TargetError
from scaleahead_tools.cli.common import known_target, print_json, runtime

_OFFSET = re.compile(r"^\+(\d+(?:\.\d+)?)\s*([mhd])$")
_UNIT = {"m": 60, "h": 3600, "d": 86400}


def parse_time(text: str, base: float, flag: str) -> float:
    """An ISO 8601 time (naive means UTC), or ``+90m``/``+2h``/``+1d`` after ``base``."""
    m = _OFFSET.match(text.strip())
    if m:
        return base + float(m.group(1)) * _UNIT[m.group(2)]
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TargetError(
            f"{flag} {text!r}: give a time (2026-12-01T09:00, UTC unless it says otherwise) "
            "or an offset (+30m, +2h, +1d)"
        ) from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%MZ")


def window(event: PlannedEvent) -> str:
    """``2026-12-01 09:00-12:00``, the end's date shown only when it differs."""
    a = datetime.fromtimestamp(event.start, UTC)
    b = datetime.fromtimestamp(event.end, UTC)
    end = b.strftime("%H:%M") if a.date() == b.date() else b.strftime("%m-%d %H:%M")
    return f"{a:%Y-%m-%d %H:%M}-{end}"


def phase(event: PlannedEvent, now: float) -> str:
    if now < event.start:
        return "upcoming"
    if now < event.end:
        return "on now"
    return "past: left out of learning"


def build_event(rt: Any, args: argparse.Namespace, now: float) -> tuple[PlannedEvent, list[str]]:
    """The event the command line describes, checked against its target; and warnings."""
    target = known_target(rt, args.target)
    start = parse_time(args.start, now, "--start")
    end = parse_time(args.end, start, "--end")
    event_id = args.id or "event-" + datetime.fromtimestamp(start, UTC).strftime("%m%d-%H%M")
    try:
        event = PlannedEvent(
            target=target.id,
            id=event_id,
            start=start,
            end=end,
            uplift=args.uplift,
            min_capacity=args.min,
            note=args.note or "",
            by=args.by or os.environ.get("USER") or "cli",
            created_at=now,
            forecast_key=target.forecast_key,
        )
    except EventError as err:
        raise TargetError(str(err)) from None
    if event.min_capacity is not None and event.min_capacity > target.max_capacity:
        raise TargetError(
            f"--min {event.min_capacity} is above {target.id}'s max_capacity "
            f"{target.max_capacity}: raise the target's maximum first (scaleahead never goes "
            "above it)"
        )
    if event.uplift is not None and not target.forecast.enabled:
        raise TargetError(
            f"{target.id} does not forecast (forecast.enabled: false), so an uplift has nothing "
            "to multiply; give --min instead"
        )
    warnings = []
    if end <= now:
        warnings.append(
            "this window is over: it changes no capacity, and only keeps its load out of what "
            "the model learns from"
        )
    elif start < now + target.effective_warmup_seconds:
        warnings.append(
            f"it starts within {target.id}'s warm-up ({target.effective_warmup_seconds // 60} "
            "min): capacity asked for now may not be ready when it opens"
        )
    return event, warnings


def cmd_add(args: argparse.Namespace) -> int:
    from scaleahead import clock

    rt = runtime(args)
    now = clock.now()
    event, warnings = build_event(rt, args, now)
    replaced = any(e.id == event.id for e in rt.store.planned_events(event.target))
    rt.store.put_event(event)
    if args.output == "json":
        print_json({**event.to_item(), "replaced": replaced, "warnings": warnings})
        return 0
    print(f"{'replaced' if replaced else 'added'} {event.describe()} for {event.target}")
    for w in warnings:
        print(f"warning: {w}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from scaleahead import clock

    rt = runtime(args)
    now = clock.now()
    if args.target:
        known_target(rt, args.target)
    events = rt.store.planned_events(args.target or None, now)
    if args.output == "json":
        print_json([{**e.to_item(), "phase": phase(e, now)} for e in events])
        return 0
    if not events:
        print("no planned event" + (f" for {args.target}" if args.target else ""))
        return 0
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title="scaleahead planned events", box=box.SIMPLE_HEAD)
    for col in ("target", "event", "effect", "window (UTC)", "now", "by"):
        table.add_column(col, no_wrap=True)
    table.add_column("note", overflow="fold", min_width=12)
    for e in events:
        effect = f"x{e.uplift:g}" if e.uplift is not None else f">= {e.min_capacity}"
        table.add_row(e.target, e.id, effect, window(e), phase(e, now), e.by, e.note)
    Console().print(table)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    import difflib

    rt = runtime(args)
    known_target(rt, args.target)
    if not rt.store.remove_event(args.target, args.event):
        ids = [e.id for e in rt.store.planned_events(args.target)]
        close = difflib.get_close_matches(args.event, ids, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise TargetError(
            f"no event {args.event!r} for {args.target!r}; {hint}`scaleahead events list` "
            "shows them"
        )
    if args.output == "json":
        print_json({"removed": args.event, "target": args.target})
    else:
        print(f"removed {args.event} of {args.target}: it no longer plans capacity")
    return 0


def add_parser(sub: Any) -> None:
    text = "planned events (a launch, a campaign): raise the forecast or the floor for a window"
    ev = sub.add_parser("events", help=text, description=text)
    esub = ev.add_subparsers(dest="events_command", required=True)
    add = esub.add_parser(
        "add",
        help="plan an event for a target",
        description="Plan an event: capacity is in place one warm-up before --start, and the "
        "window is left out of what the model learns from afterwards.",
    )
    add.add_argument("target")
    add.add_argument("--start", required=True, help="2026-12-01T09:00 (UTC) or +2h from now")
    add.add_argument("--end", required=True, help="a time, or an offset from --start (+3h)")
    effect = add.add_mutually_exclusive_group(required=True)
    effect.add_argument("--uplift", type=float, help="multiply the forecast by this (>1, <=20)")
    effect.add_argument("--min", type=int, help="hold at least this many units")
    add.add_argument("--id", help="a name (default: event-MMDD-HHMM of the start)")
    add.add_argument("--note", help="why, shown in the list")
    add.add_argument("--by", help="who (default: $USER)")
    add.set_defaults(func=cmd_add)
    ls = esub.add_parser("list", help="the planned events, by start")
    ls.add_argument("target", nargs="?")
    ls.set_defaults(func=cmd_list)
    rm = esub.add_parser("remove", help="drop a planned event")
    rm.add_argument("target")
    rm.add_argument("event")
    rm.set_defaults(func=cmd_remove)
