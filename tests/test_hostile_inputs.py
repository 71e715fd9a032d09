"""Hostile alarm events and work items: each refused with its reason, recorded, nothing raised.

The corpus is events/invalid/alarm/ and events/invalid/worker/, one event per file, each a
payload `sam local invoke -e` accepts; events/invalid/cases.json says what each must come to
(issue 12). Every case goes through the real handler, resolved from template.yaml, on moto at
the sample events' clock (NOW, 2026-11-27T12:05:00Z), with target `web` applied (ECS prod/web
at 4 tasks), and is checked for:

- the answer: for alarms the top-level status and, per state change, its status and reason;
  for work items the exact ``batchItemFailures``;
- the effect: the desired count afterwards (4 unless a genuine change or item in the case acts);
- the record: how many REJECTED rows there are, that they carry the reason, and that each fits
  DynamoDB (reason <= 1,000 characters, payload <= 4,000);
- that no state item was left with a tick or an alarm time from the future.

Huge inputs (500 KB strings, 100,000 levels of nesting) are generated here from the small
``generate`` spec of their case, so the committed corpus stays small: ``path`` leads to the
value replaced (inside the JSON text there when ``json_field`` is given), ``pieces`` are
``[text, times]`` pairs concatenated. ``before`` lists genuine events/ samples invoked first (a
copy of a change needs the change), ``load`` a recent load to put (a good item that must scale).

A case on which the product is wrong today is listed in DEFECTS with what happens: it runs with
the right expectation as a strict xfail, so it fails loudly once the product is fixed.
"""

from __future__ import annotations

import functools
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from scaleahead.domain.timing import MAX_FUTURE_SKEW_SECONDS
from scaleahead.store import MAX_PAYLOAD_CHARS, MAX_REASON_CHARS
from scaleahead.store.keys import STATE_SK
from scaleahead_testkit.lambda_context import LocalContext
from tests.conftest import NOW, Aws, make_target
from tests.test_handlers import resolve_handler

EVENTS = Path(__file__).resolve().parents[1] / "events"
CORPUS = EVENTS / "invalid"
FOLDERS = {"alarm": "AlarmFunction", "worker": "WorkerFunction"}
CASES: list[dict[str, Any]] = json.loads((CORPUS / "cases.json").read_text())
# State attributes holding a time (or a tick) that the input supplied: never past now + skew.
STATE_TIMES = (
    "last_tick",
    "alarm_changed_at",
    "alarm_opened_at",
    "alarm_ok_at",
    "floor_raised_at",
    "last_action_at",
)
# Control characters (an ANSI escape, CR, NUL...) must never reach an operator's terminal raw.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

# file -> what the product does today, where it is wrong (see the module docstring).
DEFECTS: dict[str, str] = {}


def _param(case: dict[str, Any]) -> Any:
    marks = []
    if case["file"] in DEFECTS:
        marks.append(pytest.mark.xfail(strict=True, reason=DEFECTS[case["file"]]))
    return pytest.param(case, id=case["file"], marks=marks)


@functools.cache
def handler(function: str) -> Any:
    return resolve_handler(function)


def generated(spec: dict[str, Any]) -> str:
    return "".join(text * int(times) for text, times in spec["pieces"])


def load_event(case: dict[str, Any]) -> Any:
    """The case's event as Lambda would receive it, its huge part generated if it has one."""
    event = json.loads((CORPUS / case["file"]).read_text())
    spec = case.get("generate")
    if spec:
        *parents, last = spec["path"]
        holder = event
        for key in parents:
            holder = holder[key]
        if "json_field" in spec:
            inner = json.loads(holder[last])
            inner[spec["json_field"]] = generated(spec)
            holder[last] = json.dumps(inner)
        else:
            holder[last] = generated(spec)
    return event


def state_items(aws: Aws) -> list[dict[str, Any]]:
    table = aws.settings.state_table
    items = aws.dynamodb.scan(TableName=table)["Items"]
    return [i for i in items if i.get("sk", {}).get("S") == STATE_SK]


def check_records(aws: Aws, expect: dict[str, Any], reasons: list[str]) -> None:
    """The REJECTED rows: as many as expected, each reason expected among them, each fitting."""
    rows = aws.rt.store.rejected()
    assert len(rows) == expect["rejected_rows"], [r["reason"][:200] for r in rows]
    for needle in reasons:
        assert any(needle in r["reason"] for r in rows), (needle, [r["reason"] for r in rows])
    for r in rows:
        assert len(r["reason"]) <= MAX_REASON_CHARS and len(r["payload"]) <= MAX_PAYLOAD_CHARS
    for item in state_items(aws):
        for key in STATE_TIMES:
            if key in item:
                at = float(item[key]["N"])
                assert math.isfinite(at) and at <= NOW + MAX_FUTURE_SKEW_SECONDS, (key, at)


def check_reason(reason: Any) -> None:
    """A reason an operator can read: text, bounded, no raw control characters."""
    assert isinstance(reason, str) and reason
    assert len(reason) <= MAX_REASON_CHARS and not CONTROL.search(reason), reason[:300]


def check_alarm(out: Any, expect: dict[str, Any]) -> list[str]:
    """The alarm function's answer; returns the reasons the REJECTED rows must carry."""
    assert isinstance(out, dict) and out["status"] == expect["status"], out
    json.dumps(out, allow_nan=False)  # Lambda must be able to return it
    if expect["status"] == "rejected":
        assert set(out) == {"status", "reason"}, out
        check_reason(out["reason"])
        assert expect["reason_contains"] in out["reason"], out["reason"]
        return [expect["reason_contains"]]
    results = out["results"]
    assert [r["status"] for r in results] == [r["status"] for r in expect["results"]], results
    needles = []
    for got, want in zip(results, expect["results"], strict=True):
        if "executed" in want:
            assert got["executed"] is want["executed"], got
        if "reason_contains" in want:
            check_reason(got["reason"])
            assert want["reason_contains"] in got["reason"], got["reason"]
            needles.append(want["reason_contains"])
    return needles


def check_worker(out: Any, expect: dict[str, Any]) -> list[str]:
    assert out == {"batchItemFailures": expect["batchItemFailures"]}
    return [expect["reason_contains"]] if expect["rejected_rows"] else []


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_a_hostile_input_is_refused_recorded_and_never_acts(aws: Aws, case: dict[str, Any]) -> None:
    folder = case["file"].split("/")[0]
    expect = case["expect"]
    aws.apply(make_target())
    if "load" in case:
        aws.put_load([(NOW - 60 * i, float(case["load"])) for i in range(1, 21)])
    for sample in case.get("before", []):
        handler("AlarmFunction")(json.loads((EVENTS / sample).read_text()), LocalContext())
    out = handler(FOLDERS[folder])(load_event(case), LocalContext())
    needles = check_alarm(out, expect) if folder == "alarm" else check_worker(out, expect)
    assert aws.desired() == expect["desired"]
    check_records(aws, expect, needles)


def test_the_corpus_is_complete_and_every_file_is_in_the_manifest() -> None:
    files = [c["file"] for c in CASES]
    assert len(files) == len(set(files))
    on_disk = {f"{folder}/{p.name}" for folder in FOLDERS for p in (CORPUS / folder).iterdir()}
    assert set(files) == on_disk
    per_folder = {folder: sum(f.startswith(f"{folder}/") for f in files) for folder in FOLDERS}
    assert per_folder["alarm"] >= 30 and per_folder["worker"] >= 20, per_folder
    for case in CASES:
        assert set(case["expect"]) >= {"desired", "rejected_rows"}, case["file"]
        assert all((EVENTS / s).is_file() for s in case.get("before", [])), case["file"]
    assert set(DEFECTS) <= set(files)
    # the samples at the top of events/ stay apart from the corpus (test_handlers, sam_local)
    assert all(p.parent == EVENTS for p in EVENTS.glob("*.json"))
