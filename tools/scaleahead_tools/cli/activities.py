"""`scaleahead activities`: every target's decisions in one list, newest first.

Why it exists: ``decisions`` and ``explain`` answer for one target, but an operator paged at
night asks "what did the autoscaler do across the stack in the last two hours?", and AWS's own
answer to that is ``aws application-autoscaling describe-scaling-activities
--include-not-scaled-activities``. This is that view for scaleahead: one line per decision, taken
or not (time UTC, target, worker or alarm, the action or "not scaled", capacity before -> after,
reason, message), filtered by ``--target``, ``--reason`` and ``--since``; ``--output json`` with
ISO 8601 UTC times.

Cost: decisions are stored under their target's partition, so there is no stack-wide index to
read: the view costs one query of the target definitions plus one DynamoDB Query per target
(one with ``--target``), each reading at most ``--limit`` items (one page unless they pass
1 MB). At 10,000 targets that is 10,000 Queries, run one after the other; ``--limit`` caps
what each reads, and ``--target`` makes it one. Reading the ``--limit`` newest of every target
is exactly enough for the ``--limit`` newest overall; ``--reason`` filters what was read, so
when a target had more decisions in the window than ``--limit`` an older matching one can be
missed, and the command says so on stderr.

The pieces (``merge_newest_first``, ``matching``, ``parse_reasons``, ``render_line``...) are pure
so they are tested without AWS; ``add_parser`` registers the subcommand with its ``func``.
"""

from __future__ import annotations

import argparse
import difflib
import heapq
import itertools
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from scaleahead.domain.decision import Action, Reason
from scaleahead.domain.record import DecisionRecord
from scaleahead.domain.target import TargetError
from scaleahead_tools.cli.common import iso, no_such_target, print_json, runtime
from scaleahead_tools.cli.explain import parse_since

DEFAULT_SINCE = "24h"
DEFAULT_LIMIT = 50
NOT_SCALED = "not scaled"
_VERB = {Action.SCALE_OUT: "scale out", Action.SCALE_IN: "scale in"}
_HEADER = ("time (UTC)", "target", "source", "action", "capacity", "reason")


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def parse_reasons(text: str | None) -> frozenset[Reason] | None:
    """``--reason plan`` or ``--reason failed,busy``: the reasons kept, or None for all.

    An unknown reason is a one-line error listing the valid ones."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    valid = [r.value for r in Reason]
    for name in names:
        if name not in valid:
            raise TargetError(
                f"--reason {name!r} is not a reason{_did_you_mean(name, valid)} "
                f"(valid: {', '.join(valid)})"
            )
    if not names:
        raise TargetError(f"--reason needs a reason (valid: {', '.join(valid)})")
    return frozenset(Reason(n) for n in names)


def check_target(target: str, known: Sequence[str]) -> None:
    """An unknown ``--target`` is an error naming it (and the closest known one)."""
    if target not in known:
        raise no_such_target(target, known)


def _at(record: DecisionRecord) -> float:
    return record.at if record.at is not None else 0.0


def merge_newest_first(per_target: Iterable[Sequence[DecisionRecord]]) -> Iterator[DecisionRecord]:
    """Each target's decisions, each list already newest first (as ``Store.decisions``
    returns them), merged into one stream newest first; lazily, so taking the first N reads
    no further. Equal times keep the order the lists were given in."""
    return heapq.merge(*per_target, key=lambda r: -_at(r))


def matching(
    records: Iterable[DecisionRecord], reasons: frozenset[Reason] | None
) -> Iterator[DecisionRecord]:
    """The records with one of ``reasons`` (every record when None)."""
    return (r for r in records if reasons is None or r.reason in reasons)


def newest(records: Iterable[DecisionRecord], limit: int) -> tuple[list[DecisionRecord], bool]:
    """The first ``limit`` records, and whether there were more."""
    taken = list(itertools.islice(records, limit + 1))
    return taken[:limit], len(taken) > limit


def action_text(record: DecisionRecord) -> str:
    """``scale out``/``scale in`` when it was done, else ``not scaled`` (a hold, a refusal,
    forecast-only or paused: the message says what would have been done)."""
    if record.executed and record.action in _VERB:
        return _VERB[record.action]
    return NOT_SCALED


def capacity_text(record: DecisionRecord) -> str:
    """``4 -> 6``; ``?`` for a figure the decision never read (lease held, unreadable)."""

    def n(v: int | None) -> str:
        return "?" if v is None else str(v)

    return f"{n(record.before)} -> {n(record.after)}"


def iso_utc(t: float) -> str:
    """``2026-11-27T12:05:00Z``: ISO 8601, UTC (the CLI's one format, ``common.iso``)."""
    return iso(t)


def _text_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def cells(record: DecisionRecord) -> tuple[str, str, str, str, str, str]:
    """The fixed columns of one line (the message follows them, unpadded)."""
    return (
        _text_time(_at(record)),
        record.target_id,
        record.source.value,
        action_text(record),
        capacity_text(record),
        record.reason.value,
    )


def render_lines(records: Sequence[DecisionRecord], *, header: bool = True) -> list[str]:
    """One line per decision, columns aligned over the rows given, the message last."""
    rows = [cells(r) for r in records]
    widths = [max(len(c) for c in col) for col in zip(_HEADER, *rows, strict=False)]

    def line(fixed: Sequence[str], message: str) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(fixed, widths, strict=True)) + "  " + message

    out = [line(_HEADER, "message").rstrip()] if header else []
    out += [line(row, r.message).rstrip() for row, r in zip(rows, records, strict=True)]
    return out


def render_line(record: DecisionRecord) -> str:
    """One decision on its own line (columns sized to it alone)."""
    return render_lines([record], header=False)[0]


def to_json(record: DecisionRecord) -> dict[str, Any]:
    """One decision for ``--output json``: the same facts as the line, time in ISO 8601 UTC."""
    alarm = record.alarm
    return {
        "at": iso_utc(_at(record)),
        "target": record.target_id,
        "source": record.source.value,
        "alarm": alarm.alarm if alarm is not None and alarm.alarm else None,
        "action": record.action.value,
        "scaled": bool(record.executed and record.action in _VERB),
        "activity": action_text(record),
        "before": record.before,
        "after": record.after,
        "desired": record.desired,
        "reason": record.reason.value,
        "message": record.message,
        "detail": record.detail or None,
    }


def cmd_activities(args: argparse.Namespace) -> int:
    from scaleahead import clock

    reasons = parse_reasons(args.reason)
    now = clock.now()
    try:
        since = parse_since(args.since, now)
    except ValueError as err:
        raise TargetError(str(err)) from None
    rt = runtime(args)
    # Every stored target's id, a definition that no longer parses included: its decisions
    # are still worth reading (and ``list_targets`` would stop at it).
    target_ids = [e.target_id for e in rt.store.target_entries()]
    if args.target:
        check_target(args.target, target_ids)
        target_ids = [args.target]
    # One Query per target, each at most --limit items: see the module docstring.
    per_target = [rt.store.decisions(t, since=since, limit=args.limit) for t in target_ids]
    rows, more = newest(matching(merge_newest_first(per_target), reasons), args.limit)
    capped = [t for t, got in zip(target_ids, per_target, strict=True) if len(got) >= args.limit]
    if reasons is not None and capped and not more:
        names = ", ".join(capped[:5]) + (f" and {len(capped) - 5} more" if len(capped) > 5 else "")
        print(
            f"note: read only the {args.limit} newest decisions of {names} since "
            f"{_text_time(since)}; older ones with that reason may be missing: raise --limit "
            "or narrow --since",
            file=sys.stderr,
        )
    elif more or capped:
        print(
            f"note: the {args.limit} newest shown, there may be more: raise --limit or narrow "
            "--since",
            file=sys.stderr,
        )
    if args.output == "json":
        print_json([to_json(r) for r in rows])
        return 0
    if not rows:
        scope = f" for {args.target}" if args.target else ""
        kind = f" with reason {args.reason}" if reasons is not None else ""
        print(f"no decision{scope}{kind} since {_text_time(since)}")
        return 0
    for text in render_lines(rows):
        print(text)
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be 1 or more")
    return value


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``activities`` on the ``scaleahead`` subcommands, with its own ``func``."""
    text = "every target's decisions, newest first: what scaled, what did not and why"
    ap = sub.add_parser(
        "activities",
        help=text,
        description="Every target's decisions, taken or not, newest first (like "
        "describe-scaling-activities --include-not-scaled-activities). One DynamoDB Query per "
        "target, each reading at most --limit decisions.",
    )
    ap.add_argument(
        "--since",
        default=DEFAULT_SINCE,
        help=f"30m, 2h, 1d, or an ISO time (default {DEFAULT_SINCE})",
    )
    ap.add_argument("--target", help="only this target (one Query)")
    ap.add_argument(
        "--reason",
        help="only these reasons, comma-separated (plan, reactive_floor, failed, ...)",
    )
    ap.add_argument(
        "--limit",
        type=_positive,
        default=DEFAULT_LIMIT,
        help=f"the newest N shown, and the most read per target (default {DEFAULT_LIMIT})",
    )
    ap.set_defaults(func=cmd_activities)
