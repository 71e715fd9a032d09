"""`scaleahead activities`: every target's decisions, newest first; pure pieces, then moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from scaleahead.domain.decision import Action, Reason
from scaleahead.domain.record import AlarmInputs, DecisionRecord, Source
from scaleahead.domain.target import TargetError
from scaleahead_tools.cli.activities import (
    NOT_SCALED,
    check_target,
    iso_utc,
    matching,
    merge_newest_first,
    newest,
    parse_reasons,
    render_line,
    render_lines,
    to_json,
)
from scaleahead_tools.cli.main import main
from tests.conftest import NOW, Aws, make_target


def rec(
    target: str,
    at: float,
    reason: Reason = Reason.AT_DESIRED,
    *,
    action: Action = Action.NONE,
    executed: bool = False,
    source: Source = Source.WORKER,
    before: int | None = 4,
    after: int | None = 4,
    message: str = "already at 4: plan 4",
    inputs: AlarmInputs | None = None,
) -> DecisionRecord:
    return DecisionRecord(
        source,
        action,
        executed,
        reason,
        message,
        before=before,
        after=after,
        target_id=target,
        at=at,
        inputs=inputs,
    )


# --- pure: merge, filter, render ---------------------------------------------------------


def test_merge_interleaves_targets_newest_first() -> None:
    web = [rec("web", 300.0), rec("web", 100.0)]
    db = [rec("db", 400.0), rec("db", 200.0), rec("db", 50.0)]
    cache: list[DecisionRecord] = []
    merged = list(merge_newest_first([web, db, cache]))
    assert [(r.target_id, r.at) for r in merged] == [
        ("db", 400.0),
        ("web", 300.0),
        ("db", 200.0),
        ("web", 100.0),
        ("db", 50.0),
    ]


def test_equal_times_keep_the_targets_order() -> None:
    merged = list(merge_newest_first([[rec("a", 10.0)], [rec("b", 10.0)]]))
    assert [r.target_id for r in merged] == ["a", "b"]


def test_newest_takes_the_first_n_and_says_whether_there_were_more() -> None:
    rows = [rec("web", float(t)) for t in (5, 4, 3)]
    assert newest(iter(rows), 2) == (rows[:2], True)
    assert newest(iter(rows), 3) == (rows, False)


def test_matching_keeps_the_reasons_asked_for() -> None:
    rows = [rec("web", 3.0, Reason.PLAN), rec("web", 2.0), rec("db", 1.0, Reason.FAILED)]
    assert list(matching(rows, None)) == rows
    kept = matching(rows, frozenset({Reason.PLAN, Reason.FAILED}))
    assert [r.reason for r in kept] == [Reason.PLAN, Reason.FAILED]


def test_reasons_are_parsed_and_an_unknown_one_lists_the_valid() -> None:
    assert parse_reasons(None) is None
    assert parse_reasons("plan") == frozenset({Reason.PLAN})
    assert parse_reasons("failed, busy") == frozenset({Reason.FAILED, Reason.BUSY})
    with pytest.raises(TargetError) as err:
        parse_reasons("plna")
    text = str(err.value)
    assert "\n" not in text and "did you mean 'plan'" in text
    assert all(r.value in text for r in Reason)
    with pytest.raises(TargetError, match="needs a reason"):
        parse_reasons(",")


def test_an_unknown_target_is_named_with_the_closest() -> None:
    check_target("web", ["web", "db"])
    with pytest.raises(
        TargetError, match=r"no target 'wbe'; did you mean 'web'\? `scaleahead targets list`"
    ):
        check_target("wbe", ["web", "db"])
    with pytest.raises(TargetError, match="no target 'zzz'; `scaleahead targets list`"):
        check_target("zzz", ["web", "db"])


def test_a_line_says_when_who_what_capacity_why() -> None:
    t = datetime(2026, 11, 27, 12, 5, tzinfo=UTC).timestamp()
    out = rec(
        "web",
        t,
        Reason.PLAN,
        action=Action.SCALE_OUT,
        executed=True,
        before=4,
        after=6,
        message="scale out 4 -> 6: plan 6",
    )
    line = render_line(out)
    assert " ".join(line.split()) == (
        "2026-11-27 12:05:00Z web worker scale out 4 -> 6 plan scale out 4 -> 6: plan 6"
    )
    held = rec("db", t, Reason.FORECAST_ONLY, action=Action.SCALE_OUT, message="would scale out")
    assert f" {NOT_SCALED} " in render_line(held)
    unread = rec("web", t, Reason.LEASE_HELD, before=None, after=None, message="lease held")
    assert "? -> ?" in render_line(unread)


def test_lines_are_aligned_under_a_header() -> None:
    rows = [
        rec("web", 120.0, Reason.PLAN, action=Action.SCALE_OUT, executed=True, after=6),
        rec("cache-eu-west", 60.0, Reason.REACTIVE_FLOOR, source=Source.ALARM),
    ]
    header, *lines = render_lines(rows)
    assert header.split()[:3] == ["time", "(UTC)", "target"]
    # Every column starts where the header's does.
    for col in ("target", "source", "action", "capacity", "reason", "message"):
        at = header.index(col)
        assert all(line[at - 2 : at] == "  " and line[at] != " " for line in lines), col


def test_json_has_iso_utc_times_and_the_alarm_name() -> None:
    t = datetime(2026, 11, 27, 12, 5, 30, tzinfo=UTC).timestamp()
    alarm = AlarmInputs(alarm="scaleahead-web-high-load", alarm_state="ALARM")
    item = to_json(
        rec(
            "web",
            t,
            Reason.REACTIVE_FLOOR,
            action=Action.SCALE_OUT,
            executed=True,
            source=Source.ALARM,
            after=8,
            inputs=alarm,
        )
    )
    assert item["at"] == "2026-11-27T12:05:30Z" == iso_utc(t)
    assert datetime.fromisoformat(item["at"]).timestamp() == t
    assert item["alarm"] == "scaleahead-web-high-load" and item["scaled"] is True
    assert (item["before"], item["after"], item["activity"]) == (4, 8, "scale out")
    json.dumps(item)
    quiet = to_json(rec("web", t))
    assert quiet["alarm"] is None and quiet["scaled"] is False and quiet["activity"] == NOT_SCALED


# --- end to end, against moto ------------------------------------------------------------


@pytest.fixture
def stack(aws: Aws) -> Aws:
    """Two targets with decisions interleaved in time, and one from before the window."""
    store = aws.rt.store
    store.put_target(make_target(), NOW)
    store.put_target(make_target(id="api", resource={"cluster": "prod", "service": "api"}), NOW)
    hold = DecisionRecord(
        Source.WORKER, Action.NONE, False, Reason.AT_DESIRED, "already at 4", before=4, after=4
    )
    store.record_decision("web", NOW - 3 * 3600, hold)  # outside --since 2h
    store.record_decision("web", NOW - 600, hold)
    store.record_decision(
        "api",
        NOW - 300,
        DecisionRecord(
            Source.ALARM,
            Action.SCALE_OUT,
            True,
            Reason.REACTIVE_FLOOR,
            "scale out 2 -> 5: high-load alarm",
            before=2,
            after=5,
        ),
    )
    store.record_decision(
        "web",
        NOW - 60,
        DecisionRecord(
            Source.WORKER,
            Action.SCALE_OUT,
            False,
            Reason.FORECAST_ONLY,
            "would scale out 4 -> 6 (forecast-only)",
            before=4,
            after=4,
            desired=6,
        ),
    )
    return aws


def test_every_target_newest_first(stack: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["activities", "--since", "2h"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    print("\n".join([header, *lines]))  # shown with -s
    assert header.startswith("time (UTC)")
    assert [line.split()[2] for line in lines] == ["web", "api", "web"]
    assert "not scaled" in lines[0] and "4 -> 4" in lines[0] and "forecast_only" in lines[0]
    assert "alarm" in lines[1] and "scale out" in lines[1] and "2 -> 5" in lines[1]
    assert lines[0].startswith(iso_utc(NOW - 60).replace("T", " "))


def test_json_filters_and_limits(stack: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--output", "json", "activities", "--since", "1d"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["target"], r["at"]) for r in rows] == [
        ("web", iso_utc(NOW - 60)),
        ("api", iso_utc(NOW - 300)),
        ("web", iso_utc(NOW - 600)),
        ("web", iso_utc(NOW - 3 * 3600)),
    ]
    assert rows[0]["desired"] == 6 and rows[0]["scaled"] is False

    assert main(["--output", "json", "activities", "--reason", "reactive_floor"]) == 0
    assert [r["target"] for r in json.loads(capsys.readouterr().out)] == ["api"]

    assert main(["--output", "json", "activities", "--target", "web", "--since", "2h"]) == 0
    assert [r["reason"] for r in json.loads(capsys.readouterr().out)] == [
        "forecast_only",
        "at_desired",
    ]

    assert main(["--output", "json", "activities", "--limit", "1"]) == 0
    out = capsys.readouterr()
    assert [r["target"] for r in json.loads(out.out)] == ["web"]
    assert "the 1 newest shown" in out.err


def test_a_capped_target_is_reported_when_filtering(
    stack: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    # web's newest decision is not a hold: with one read per target, its older hold is unread.
    assert main(["activities", "--reason", "at_desired", "--limit", "1"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("no decision with reason at_desired since")
    assert "read only the 1 newest decisions of api, web since" in out.err


def test_unknown_names_exit_2(stack: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["activities", "--target", "wbe"]) == 2
    assert "no target 'wbe'; did you mean 'web'?" in capsys.readouterr().err
    assert main(["activities", "--reason", "nope"]) == 2
    assert "valid: plan, reactive_floor" in capsys.readouterr().err
    assert main(["activities", "--since", "yesterday"]) == 2
    assert "give a duration" in capsys.readouterr().err


def test_no_decision_says_so(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.rt.store.put_target(make_target(), NOW)
    assert main(["activities", "--target", "web"]) == 0
    assert capsys.readouterr().out.startswith("no decision for web since 2026-11-26 12:05:00Z")
