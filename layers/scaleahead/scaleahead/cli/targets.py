"""Applying target files: validate, diff against DynamoDB, write, and keep the alarms in step.

An applied target gets its high-load alarm at once, so the reactive path works from the first
minute without any hand set-up; a removed target loses it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scaleahead.aws.capacity import ResourceNotFound
from scaleahead.domain.controller import alarm_threshold
from scaleahead.domain.target import Target, TargetError, parse_targets
from scaleahead.service.runtime import Runtime


@dataclass
class Change:
    target_id: str
    kind: str  # "add", "change", "remove", "same"
    fields: list[str] = field(default_factory=list)


_PAST = {"add": "added", "change": "changed", "same": "unchanged"}


def read_target_file(path: str | Path) -> tuple[Target, ...]:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except FileNotFoundError:
        raise TargetError(f"{p}: no such file") from None
    except yaml.YAMLError as err:
        raise TargetError(f"{p}: not valid YAML: {err}") from None
    try:
        return parse_targets(data)
    except TargetError as err:
        raise TargetError(f"{p}: {err}") from None


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): d}


def diff(rt: Runtime, targets: Sequence[Target], *, prune: bool) -> list[Change]:
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


def apply(rt: Runtime, targets: Sequence[Target], changes: list[Change], now: float) -> list[str]:
    """Write the changed targets and their alarms; returns one line per thing done."""
    by_id = {t.id: t for t in targets}
    done = []
    for c in changes:
        if c.kind == "remove":
            remove(rt, c.target_id)
            done.append(f"removed {c.target_id} and its alarm")
            continue
        t = by_id[c.target_id]
        try:
            reading = rt.adapter(t).read(t, scale_in=False)  # only the count is needed
        except ResourceNotFound as err:
            raise TargetError(f"target {t.id}: resource: {err}") from None
        threshold = alarm_threshold(t, reading.desired)
        name = rt.metrics.put_high_load_alarm(t, rt.settings.alarm_prefix, threshold)
        if c.kind != "same":
            rt.store.put_target(t, now)
        rt.store.forget_alarm_threshold(t.id)
        done.append(
            f"{_PAST[c.kind]} {t.id}; alarm {name} at "
            f"load > {threshold:g} (capacity {reading.desired})"
        )
    return done


def remove(rt: Runtime, target_id: str) -> None:
    rt.metrics.delete_alarms(target_id, rt.settings.alarm_prefix)
    rt.store.delete_target(target_id)


__all__ = ["Change", "apply", "diff", "read_target_file", "remove"]
