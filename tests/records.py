"""Narrowing helpers for the typed decision record in tests: a worker outcome that must be a
decision, and the inputs of a tick or of an alarm (each asserted, so a test reading the wrong
kind of record fails on the spot rather than on an attribute error)."""

from __future__ import annotations

from scaleahead.domain.record import AlarmInputs, DecisionRecord, TickInputs


def decision(outcome: object) -> DecisionRecord:
    assert isinstance(outcome, DecisionRecord), outcome
    return outcome


def tick_inputs(record: DecisionRecord) -> TickInputs:
    assert record.tick is not None, record
    return record.tick


def alarm_inputs(record: DecisionRecord) -> AlarmInputs:
    assert record.alarm is not None, record
    return record.alarm
