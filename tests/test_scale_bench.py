"""The scale bench (``scaleahead_tools.perf.scale``) at a small N: the structural facts of the
fan-out that must hold at any N, never its timings.

- every due target is enqueued exactly once, one message each, ten to a SendMessageBatch, and
  drained in ceil(N/10) worker batches;
- the tick's DynamoDB reads are its Query's pages, not one per target: moto's page limit is
  lowered so that 120 targets span several pages, and the calls are bounded by the bytes read
  over the page size whatever N is;
- a worker batch reads its targets' definitions and forecasts ahead in one BatchGetItem each.
"""

from __future__ import annotations

import math

import pytest
from moto.dynamodb.models import table as moto_table

from scaleahead_tools.perf import scale

# A page of ~30 target items (each ~1.6 KB): 120 targets need four or five pages.
SMALL_PAGE = 50_000


@pytest.fixture(scope="module")
def runs() -> dict[int, scale.Report]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(moto_table, "RESULT_SIZE_LIMIT", SMALL_PAGE)
        return {n: scale.run(n, worker_sample=5, fit_samples=0) for n in (30, 120)}


@pytest.mark.parametrize("n", [30, 120])
def test_every_due_target_is_enqueued_once_in_batches_of_ten(
    runs: dict[int, scale.Report], n: int
) -> None:
    r = runs[n]
    assert r.targets == n == r.solo + 3 * r.drivers
    assert r.tick.enqueued == n and r.tick.invalid == 0  # on the hour every target is due
    assert r.tick.messages_on_queue == n
    assert r.tick.calls["sqs.SendMessageBatch"] == r.tick.send_batch_calls == math.ceil(n / 10)
    assert r.worker.enqueued_once
    assert r.worker.batches == math.ceil(n / 10)
    assert sum(r.worker.batch_sizes.values()) == r.worker.batches


@pytest.mark.parametrize("n", [30, 120])
def test_the_tick_reads_pages_not_targets(runs: dict[int, scale.Report], n: int) -> None:
    t = runs[n].tick
    # Only Queries, every one a page of the target listing: no read per target.
    assert {c for c in t.calls if c.startswith("dynamodb.")} == {"dynamodb.Query"}
    assert t.dynamodb_calls == t.query_pages
    assert t.items_read == n
    # moto ends a page before the item that would take it past the limit; the last page may
    # come back empty.
    assert t.query_pages <= math.ceil(t.bytes_read / SMALL_PAGE) + 1


def test_dynamodb_calls_grow_with_pages_not_with_targets(runs: dict[int, scale.Report]) -> None:
    small, large = runs[30].tick, runs[120].tick
    assert large.query_pages > small.query_pages  # the limit is low enough to page
    assert large.dynamodb_calls - small.dynamodb_calls < (120 - 30) / 10
    assert large.read_units > small.read_units


def test_the_worker_reads_each_batch_ahead_and_fails_nothing(
    runs: dict[int, scale.Report],
) -> None:
    w = runs[120].worker
    assert w.sampled_batches == 1 and w.sampled_targets == 10
    assert [r.label for r in w.rounds] == ["first", "steady"]
    for rd in w.rounds:
        assert rd.failed_items == 0
        assert sum(rd.decisions.values()) == w.sampled_targets  # one decision per item
        # definitions, then forecasts: two BatchGetItem for the batch of ten
        assert rd.calls_per_target["dynamodb.BatchGetItem"] == pytest.approx(2 / 10)
