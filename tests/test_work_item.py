"""The work item model: typed, strict, and each refusal worded as the worker records it (the
handler-level cases, through SQS and the real function, are in test_work_items.py and the
hostile corpus)."""

from __future__ import annotations

import json

import pytest

from scaleahead.domain.work_item import MalformedWork, WorkItem, parse_work_item

NOW = 1_795_781_100.0
TICK = 1_795_781_100


def test_a_work_item_is_typed() -> None:
    item = parse_work_item(json.dumps({"target_id": "web", "tick": TICK, "extra": 1}), NOW)
    assert item == WorkItem(target_id="web", tick=TICK)
    assert item.model_dump() == {"target_id": "web", "tick": TICK}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"tick": TICK}, "work message needs a string target_id"),
        ({"target_id": "", "tick": TICK}, "work message needs a string target_id"),
        ({"target_id": "w{0}b", "tick": TICK}, "work message names no valid target id: 'w{0}b'"),
        ({"target_id": "web"}, "work message needs an integer tick (epoch seconds)"),
        ({"target_id": "web", "tick": float(TICK)}, "needs an integer tick"),
        ({"target_id": "web", "tick": False}, "needs an integer tick"),
        ({"target_id": 7, "tick": "x"}, "work message needs a string target_id"),  # first wins
        ({"target_id": "web", "tick": TICK + 600}, "work item for web: tick is stamped"),
        # past 1e308: once an OverflowError that failed the whole batch
        ({"target_id": "web", "tick": 10**400}, "more than 120 s in the future"),
        ({"target_id": "web", "tick": -(10**400)}, "min old"),
    ],
)
def test_each_refusal_gives_its_reason(body: object, reason: str) -> None:
    with pytest.raises(MalformedWork) as err:
        parse_work_item(json.dumps(body), NOW)
    assert reason in str(err.value)


def test_the_time_is_checked_only_against_a_present() -> None:
    assert parse_work_item(json.dumps({"target_id": "web", "tick": 0})).tick == 0
