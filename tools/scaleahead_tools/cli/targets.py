"""Applying target files: validate, diff against DynamoDB, write, and keep the alarms in step.

An applied target gets its high-load alarm at once, so the reactive path works from the first
minute without any hand set-up; a removed target loses it.

Applying is all or nothing as far as AWS allows:

1. the whole file is read and validated (``read_target_file``), refusing hostile YAML;
2. every target's resource is looked up (``check``), and every problem is reported at once,
   including a resource scaleahead may not take over (``takeover``): one without the
   ``scaleahead:managed=true`` tag (``--tag`` adds it), or one Application Auto Scaling
   already drives (``--take-over`` suspends it, and removing the target restores it);
3. only then is anything written (``write``). Should AWS refuse a write half way, the apply
   stops, says exactly what was written and what was not (``ApplyInterrupted``), and running
   the same apply again finishes the job: what is not on record shows again as add or change.

Write order, per target: the alarm first, then the definition, then the state's alarm
threshold is forgotten. So a definition on record always has its alarm; a failure in between
leaves at worst an alarm ahead of its definition, which the next apply rewrites (an alarm for a
target not yet on record is refused by the alarm handler as "not defined"). Removals (--prune)
come after every write, alarm first then definition, so a failed removal still shows as
``remove`` in the next diff and is finished by re-running.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import BotoCoreError, ClientError

from scaleahead.aws.kind_adapter import kind_function
from scaleahead.domain.alarm import alarm_threshold, alarm_unavailable
from scaleahead.domain.alarm_events import target_id_from_alarm
from scaleahead.domain.aurora_readers import MANAGED_TAG
from scaleahead.domain.target import (
    Target,
    TargetError,
    parse_target,
    parse_targets,
    stored_definition,
)
from scaleahead.service.ports import CapacityReading, NotDrivable, NotFound, PortError
from scaleahead.service.runtime import Runtime
from scaleahead.store import Store
from scaleahead_tools.cli import takeover


@dataclass
class Change:
    target_id: str
    kind: str  # "add", "change", "remove", "same"
    fields: list[str] = field(default_factory=list)


_PAST = {"add": "added", "change": "changed", "same": "unchanged"}

# -- reading: YAML that cannot surprise ------------------------------------------------------

# A target file is a few KB (a target is ~1 KB of YAML); anything this large is not one.
MAX_FILE_BYTES = 4 * 1024 * 1024
# The deepest real path is ~12 levels (targets/-/load_metric/queries/-/MetricStat/Metric/
# Dimensions/-/Value); PyYAML's composer recurses per level and hits Python's recursion limit
# at a few hundred, so depth is bounded well before that.
MAX_DEPTH = 32
# Values after aliases are expanded (each use of an alias counts its whole subtree): a
# 1,000-target file is ~50,000; a "billion laughs" alias bomb is refused as it is read.
MAX_NODES = 250_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
_RETYPED = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
}


class _TargetLoader(yaml.SafeLoader):
    """``SafeLoader`` with the YAML 1.2 core schema for plain scalars, no duplicate keys and
    bounded nesting and alias expansion.

    YAML 1.1 (PyYAML's default) reads ``yes``/``no``/``on``/``off`` as booleans, ``010`` as 8,
    ``1:30`` as 90 and ``2026-01-01`` as a date. Here only ``true``/``false`` are booleans, and
    integers and floats are decimal, so ``enabled: yes`` reaches validation as the string
    "yes" and is refused there instead of silently meaning true.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def _peek(self) -> Any:
        return self.peek_event()  # type: ignore[no-untyped-call]

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self._peek()
            node: Any = super().compose_node(parent, index)
            if id(node) not in self._sizes:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"alias *{event.anchor} refers to a node that contains it",
                    event.start_mark,
                )
            return node
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested deeper than {MAX_DEPTH} levels",
                    self._peek().start_mark,
                )
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self._sizes[id(c)] for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            size = 1 + sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
        else:
            size = 1
        if size > MAX_NODES:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"the document expands to more than {MAX_NODES} values (each use of an alias "
                "counts all it refers to)",
                node.start_mark,
            )
        self._sizes[id(node)] = size
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    key: Any = "<<"
                else:
                    key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # an unhashable key: the base class refuses it
                line = key_node.start_mark.line + 1
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"duplicate key {_quote(key)} (first at line {first}, again at line "
                        f"{line}); a repeated key would silently keep only the last value",
                        key_node.start_mark,
                    )
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _quote(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


_TargetLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _RETYPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_TargetLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z"), list("tTfF")
)
# Decimal only, no leading zero (YAML 1.1 and PyYAML read 010 as octal 8), at most 300 digits
# (Python refuses to convert ints of more than 4,300 digits: a ValueError, not a YAML error):
# any other digit string stays a string and is refused as such. A float has a '.' or an
# exponent.
_TargetLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"[-+]?(?:0|[1-9][0-9]{0,299})\Z"), list("-+0123456789")
)
_TargetLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9]+[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z"
    ),
    list("-+.0123456789"),
)


def load_yaml(text: str) -> Any:
    """Parse a target file's text with ``_TargetLoader``; raises ``yaml.YAMLError``."""
    loader = _TargetLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_target_file(path: str | Path) -> tuple[Target, ...]:
    """Phase 1: read and validate the whole file, or raise ``TargetError`` naming each problem."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise TargetError(f"{p}: no such file") from None
    except OSError as err:
        raise TargetError(f"{p}: cannot be read: {err.strerror or err}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise TargetError(f"{p}: larger than {MAX_FILE_BYTES} bytes; not a target file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TargetError(
            f"{p}: not UTF-8 text (byte {raw[err.start]:#04x} at offset {err.start})"
        ) from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as err:
        raise TargetError(f"{p}: not valid YAML: {err}") from None
    except (RecursionError, ValueError, OverflowError) as err:  # belt and braces
        raise TargetError(f"{p}: not a usable YAML document: {type(err).__name__}") from None
    try:
        return parse_targets(data)
    except TargetError as err:
        raise TargetError(f"{p}: {err}") from None


# -- diff ------------------------------------------------------------------------------------


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): d}


def diff(rt: Runtime[Store], targets: Sequence[Target], *, prune: bool) -> list[Change]:
    current = {str(i["sk"]): json.loads(i["definition"]) for i in rt.store.iter_target_items()}
    changes = []
    for t in targets:
        new = json.loads(t.model_dump_json(by_alias=True, exclude_none=True))
        old = current.get(t.id)
        if old is None:
            changes.append(Change(t.id, "add"))
            continue
        fo, fn = _flat(old), _flat(new)
        fields = sorted(k for k in fo.keys() | fn.keys() if fo.get(k) != fn.get(k))
        changes.append(Change(t.id, "change" if fields else "same", fields))
    if prune:
        wanted = {t.id for t in targets}
        changes.extend(Change(tid, "remove") for tid in sorted(current) if tid not in wanted)
    return changes


# -- phase 2: every resource looked up before anything is written ----------------------------


def check(
    rt: Runtime[Store], targets: Sequence[Target], *, tag: bool = False, take_over: bool = False
) -> dict[str, CapacityReading]:
    """Read every target's resource; raise one ``TargetError`` listing every problem found.

    Besides being readable, a resource must be one scaleahead may take over: tagged
    ``scaleahead:managed=true`` (unless ``tag``: the apply adds it) and not driven by an
    active Application Auto Scaling scalable target (unless ``take_over``: the apply suspends
    it). Returns each target's reading (its current capacity sets the alarm threshold).
    """
    readings: dict[str, CapacityReading] = {}
    problems: list[str] = []
    refused: set[str] = set()
    for t in targets:
        before = len(problems)
        try:
            readings[t.id] = rt.adapter(t).read(t, scale_in=False)  # only the count is needed
        except (NotFound, NotDrivable, TargetError) as err:
            problems.append(f"target {t.id}: resource: {err}")
            refused.add(t.id)
            continue
        except PortError as err:
            problems.append(f"target {t.id}: resource could not be read: AWS said: {err}")
            refused.add(t.id)
            continue
        problems.extend(f"target {t.id}: {p}" for p in _takeover_problems(t, tag, take_over))
        if len(problems) > before:
            refused.add(t.id)
    if problems:
        n = len(refused)
        raise TargetError(
            f"{n} target{'s' if n > 1 else ''} cannot be applied; nothing was written:\n  "
            + "\n  ".join(problems)
        )
    return readings


def with_resource_defaults(targets: Sequence[Target]) -> tuple[tuple[Target, ...], list[str]]:
    """Each target with what its resource gives where the file leaves a setting unset (an Auto
    Scaling group's ``DefaultInstanceWarmup`` as the warm-up: the kind module's
    ``resource_defaults``), and a line per target filled. A resource that cannot be read fills
    nothing here: ``check`` reports it."""
    out: list[Target] = []
    notes: list[str] = []
    for t in targets:
        fill = kind_function(t.kind, "resource_defaults", optional=True)
        try:
            extra = fill(t) if fill is not None else {}
        except (ClientError, BotoCoreError, LookupError, IndexError):
            extra = {}
        if extra:
            data = json.loads(stored_definition(t))
            t = parse_target({**data, **extra})
            said = ", ".join(f"{k} {v}" for k, v in extra.items())
            notes.append(f"target {t.id}: {said} from {takeover.label(t)}")
        out.append(t)
    return tuple(out), notes


def _takeover_problems(t: Target, tag: bool, take_over: bool) -> list[str]:
    """What stops scaleahead taking the resource over, unless the apply is asked to fix it."""
    problems: list[str] = []
    try:
        if not tag and not takeover.is_tagged(t):
            problems.append(takeover.untagged_message(t))
    except (ClientError, BotoCoreError) as err:
        problems.append(f"the tags of {takeover.label(t)} could not be read: AWS said: {err}")
    try:
        problems.extend(
            takeover.conflict_message(c)
            for c in takeover.competitors(t)
            if c.active and not (take_over and c.can_suspend)
        )
    except (ClientError, BotoCoreError) as err:
        problems.append(
            f"{takeover.scaler_name(t)} on {takeover.label(t)} could not be read: AWS said: {err}"
        )
    return problems


def prepare(
    rt: Runtime[Store], targets: Sequence[Target], *, tag: bool = False, take_over: bool = False
) -> list[str]:
    """Take the checked resources over before anything else is written: add the managed tag
    (``tag``), suspend Application Auto Scaling on them (``take_over``), recording what was
    suspended first so that ``remove`` can restore it. One line per thing done."""
    done: list[str] = []
    for t in targets:
        if tag and not takeover.is_tagged(t):
            takeover.add_tag(t)
            done.append(
                f"tagged {takeover.label(t)} {MANAGED_TAG}={takeover.MANAGED_VALUE} (target {t.id})"
            )
        if not take_over:
            continue
        # ``check`` refused what cannot be suspended; never suspend half of it here either
        active = [c for c in takeover.competitors(t) if c.active and c.can_suspend]
        if not active:
            continue
        # The record is written before the suspension, and an earlier record is kept: what
        # is restored is always the state before scaleahead first took the target over.
        if rt.store.get_takeover(t.id) is None:
            rt.store.put_takeover(t.id, {"scalable_targets": [st.record() for st in active]})
        for st in active:
            takeover.suspend(st)
            done.append(
                f"suspended {st.describe()} (target {t.id}); `scaleahead targets remove {t.id}` "
                "restores it"
            )
    return done


def restore(rt: Runtime[Store], target_id: str) -> list[str]:
    """Restore what ``--take-over`` suspended for the target, then forget the record."""
    record = rt.store.get_takeover(target_id)
    if record is None:
        return []
    lines = [takeover.restore(st) for st in record.get("scalable_targets", [])]
    rt.store.delete_takeover(target_id)
    return lines


# -- phase 3: writing, and saying exactly how far it got -------------------------------------


class ApplyInterrupted(Exception):
    """AWS refused a write half way through an apply; ``report()`` says what was written."""

    def __init__(
        self,
        *,
        done: list[str],
        failed: Change,
        step: str,
        partial: list[str],
        remaining: list[Change],
        error: Exception,
    ) -> None:
        super().__init__(f"apply stopped at {failed.target_id}: {step}: {error}")
        self.done = done
        self.failed = failed
        self.step = step
        self.partial = partial
        self.remaining = remaining
        self.error = error

    def report(self) -> str:
        f = self.failed
        lines = [f"the apply stopped part way: {self.step} for {f.target_id} failed: {self.error}"]
        lines.append("written:" if self.done else "written: nothing")
        lines.extend(f"  {line}" for line in self.done)
        partial = "; ".join(self.partial) or "nothing written"
        if f.kind == "remove":
            lines.append(f"{f.target_id}: {partial}; still on record, its removal unfinished")
        elif "definition written" in self.partial:
            lines.append(f"{f.target_id}: {partial}")
        elif f.kind == "add":
            lines.append(f"{f.target_id}: {partial}; definition NOT written (not on record)")
        else:
            lines.append(
                f"{f.target_id}: {partial}; definition NOT written (the previous one stays)"
            )
        writes = [c.target_id for c in self.remaining if c.kind != "remove"]
        removes = [c.target_id for c in self.remaining if c.kind == "remove"]
        lines.append(f"not written: {', '.join(writes) or 'none'}")
        if removes:
            lines.append(f"not removed: {', '.join(removes)}")
        lines.append(
            "run the same `scaleahead targets apply` again to finish: its diff shows what is "
            "still to do"
        )
        return "\n".join(lines)


def write(
    rt: Runtime[Store],
    targets: Sequence[Target],
    changes: list[Change],
    readings: dict[str, CapacityReading],
    now: float,
) -> list[str]:
    """Write the changed targets and their alarms, then the removals; one line per change.

    Raises ``ApplyInterrupted`` when AWS refuses a write, saying how far it got.
    """
    by_id = {t.id: t for t in targets}
    ordered = [c for c in changes if c.kind != "remove"] + [
        c for c in changes if c.kind == "remove"
    ]
    done: list[str] = []
    for n, c in enumerate(ordered):
        partial: list[str] = []
        step = ""
        try:
            if c.kind == "remove":
                step = "restoring what --take-over suspended"
                restored = restore(rt, c.target_id)
                if restored:
                    partial.append("; ".join(restored))
                    done.extend(restored)
                step = "deleting the alarm"
                _delete_alarm(rt, c.target_id)
                partial.append("alarm deleted")
                step = "deleting the definition"
                rt.store.delete_target(c.target_id)
                done.append(f"removed {c.target_id} and its alarm")
                continue
            t = by_id[c.target_id]
            desired = readings[t.id].desired
            threshold = alarm_threshold(t, desired)
            no_alarm = alarm_unavailable(t.load_metric.region, rt.metrics.home_region)
            if no_alarm is None:
                step = "writing the alarm"
                name = rt.metrics.put_high_load_alarm(t, rt.settings.alarm_prefix, threshold)
                partial.append(f"alarm {name} written")
            else:
                step = "deleting an alarm left from before"  # the region changed
                _delete_alarm(rt, t.id)
            if c.kind != "same":
                step = "writing the definition"
                rt.store.put_target(t, now)
                partial.append("definition written")
            step = "resetting the recorded alarm threshold"
            rt.store.forget_alarm_threshold(t.id)
            done.append(
                f"{_PAST[c.kind]} {t.id}; no high-load alarm: {no_alarm}"
                if no_alarm
                else f"{_PAST[c.kind]} {t.id}; alarm {name} at load > {threshold:g} "
                f"(capacity {desired})"
            )
        except (ClientError, BotoCoreError, PortError) as err:
            raise ApplyInterrupted(
                done=done,
                failed=c,
                step=step,
                partial=partial,
                remaining=ordered[n + 1 :],
                error=err,
            ) from err
    return done


def apply(
    rt: Runtime[Store],
    targets: Sequence[Target],
    changes: list[Change],
    now: float,
    *,
    tag: bool = False,
    take_over: bool = False,
) -> list[str]:
    """Look every resource up (all problems at once), take the resources over as asked, then
    write; one line per thing done."""
    readings = check(rt, targets, tag=tag, take_over=take_over)
    done = prepare(rt, targets, tag=tag, take_over=take_over)
    return done + write(rt, targets, changes, readings, now)


def _delete_alarm(rt: Runtime[Store], target_id: str) -> None:
    """Delete the target's alarm; one already gone is fine (a re-run finishing a removal)."""
    with contextlib.suppress(NotFound):
        rt.metrics.delete_alarms(target_id, rt.settings.alarm_prefix)


def remove(rt: Runtime[Store], target_id: str) -> list[str]:
    """Restore what ``--take-over`` suspended, delete the alarm, then the definition (a
    failure part way leaves the target on record: running the removal again finishes it).
    Returns a line per restored scalable target."""
    restored = restore(rt, target_id)
    _delete_alarm(rt, target_id)
    rt.store.delete_target(target_id)
    return restored


def remove_all(rt: Runtime[Store]) -> tuple[list[str], list[str], list[str]]:
    """Teardown: every target removed (``remove``: what ``--take-over`` suspended restored, its
    alarm and definition deleted), then every managed alarm left without a target (one whose
    definition was deleted by hand). Returns (targets removed, restored lines, stray alarms
    deleted); a failure part way leaves the rest on record, so running it again finishes."""
    removed: list[str] = []
    restored: list[str] = []
    for entry in rt.store.target_entries():
        restored += remove(rt, entry.target_id)
        removed.append(entry.target_id)
    prefix = rt.settings.alarm_prefix
    strays: list[str] = []
    for alarm in rt.metrics.managed_alarms(prefix):
        tid = target_id_from_alarm(prefix, str(alarm.get("AlarmName", "")))
        if tid is not None:
            _delete_alarm(rt, tid)
            strays.append(str(alarm["AlarmName"]))
    return removed, restored, strays


__all__ = [
    "ApplyInterrupted",
    "Change",
    "apply",
    "check",
    "diff",
    "load_yaml",
    "prepare",
    "read_target_file",
    "remove",
    "remove_all",
    "restore",
    "write",
]
