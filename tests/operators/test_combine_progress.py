from __future__ import annotations

import pytest
from reactivex.testing import TestScheduler

import rxbatches.operators as rbo
from rxbatches.operators import BatchProgress, JobProgress

from . import factories as f
from .rxtest import on_completed, on_error, on_next, subscribe, values


def _batch(batch_id: str, processing: int, **outcomes: int) -> BatchProgress:
    snapshot = f.batch(
        batch_id,
        processing=processing,
        succeeded=outcomes.get("succeeded", 0),
        errored=outcomes.get("errored", 0),
        expired=outcomes.get("expired", 0),
    )
    return BatchProgress.from_batch(snapshot, total=processing + sum(outcomes.values()) or None)


def _job(
    processing: int,
    total: int,
    *,
    batches: int,
    ended_batches: int,
    unsubmitted: int = 0,
    ended: bool = False,
    **outcomes: int,
) -> JobProgress:
    counts = {"succeeded": 0, "errored": 0, "canceled": 0, "expired": 0} | outcomes
    return JobProgress(
        total=total,
        processing=processing,
        ended=ended,
        batches=batches,
        ended_batches=ended_batches,
        unsubmitted=unsubmitted,
        **counts,
    )


def test_combine_progress_sums_the_latest_progress_of_each_batch() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_cold_observable(
        on_next(10, _batch("a", 2)),
        on_next(20, _batch("b", 3)),
        on_next(30, _batch("a", 0, succeeded=1, errored=1)),
        on_next(40, _batch("b", 0, succeeded=3)),
        on_completed(50),
    )

    results = scheduler.start(lambda: source.pipe(rbo.combine_progress()))

    assert results.messages == [
        on_next(210, _job(2, 2, batches=1, ended_batches=0)),
        on_next(220, _job(5, 5, batches=2, ended_batches=0)),
        on_next(230, _job(3, 5, batches=2, ended_batches=1, succeeded=1, errored=1)),
        on_next(240, _job(0, 5, batches=2, ended_batches=2, ended=True, succeeded=4, errored=1)),
        on_completed(250),
    ]
    assert [p.fraction for p in values(results)] == [0.0, 0.0, 0.4, 1.0]


def test_combine_progress_counts_requests_in_no_batch_yet_as_unsubmitted() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_cold_observable(
        on_next(10, _batch("a", 2)),
        on_next(20, _batch("a", 0, succeeded=2)),
        on_next(30, _batch("b", 2)),
        on_next(40, _batch("b", 0, succeeded=2)),
        on_completed(50),
    )

    results = scheduler.start(lambda: source.pipe(rbo.combine_progress(total=4)))

    assert results.messages == [
        on_next(210, _job(4, 4, batches=1, ended_batches=0, unsubmitted=2)),
        # batch a is over, but half of the job is not even submitted: not ended
        on_next(220, _job(2, 4, batches=1, ended_batches=1, unsubmitted=2, succeeded=2)),
        on_next(230, _job(2, 4, batches=2, ended_batches=1, succeeded=2)),
        on_next(240, _job(0, 4, batches=2, ended_batches=2, ended=True, succeeded=4)),
        on_completed(250),
    ]
    assert [p.fraction for p in values(results)] == [0.0, 0.5, 0.5, 1.0]


def test_combine_progress_has_not_ended_before_the_expected_number_of_batches() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_cold_observable(
        on_next(10, _batch("a", 0, succeeded=1)),
        on_next(20, _batch("b", 0, expired=1)),
        on_completed(30),
    )

    results = scheduler.start(lambda: source.pipe(rbo.combine_progress(batches=2)))

    assert [p.ended for p in values(results)] == [False, True]


def test_combine_progress_passes_errors_through_and_disposal_unsubscribes() -> None:
    scheduler = TestScheduler()
    error = ConnectionError("poll failed")
    source = scheduler.create_cold_observable(on_next(10, _batch("a", 1)), on_error(20, error))
    failing = scheduler.start(lambda: source.pipe(rbo.combine_progress()))
    assert failing.messages == [
        on_next(210, _job(1, 1, batches=1, ended_batches=0)),
        on_error(220, error),
    ]

    scheduler = TestScheduler()
    source = scheduler.create_cold_observable(
        on_next(10, _batch("a", 1)), on_next(200, _batch("a", 0, succeeded=1)), on_completed(300)
    )
    disposed = scheduler.start(lambda: source.pipe(rbo.combine_progress()), disposed=250)
    assert disposed.messages == [on_next(210, _job(1, 1, batches=1, ended_batches=0))]
    assert source.subscriptions == [subscribe(200, 250)]


def test_combine_progress_keeps_a_separate_tally_per_subscription() -> None:
    scheduler = TestScheduler()
    combined = scheduler.create_cold_observable(on_next(10, _batch("a", 1)), on_completed(20)).pipe(
        rbo.combine_progress()
    )
    first, second = scheduler.create_observer(), scheduler.create_observer()
    scheduler.schedule_absolute(100, lambda *_: combined.subscribe(first))
    scheduler.schedule_absolute(300, lambda *_: combined.subscribe(second))

    scheduler.start()

    expected = _job(1, 1, batches=1, ended_batches=0)
    assert first.messages == [on_next(110, expected), on_completed(120)]
    assert second.messages == [on_next(310, expected), on_completed(320)]


@pytest.mark.parametrize(
    ("total", "batches", "message"),
    [
        (-1, None, "^total: must be an int >= 0, got -1"),
        (None, 0, "^batches: must be an int >= 1, got 0"),
    ],
)
def test_combine_progress_rejects_impossible_expectations_when_called(
    total: int | None, batches: int | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        rbo.combine_progress(total=total, batches=batches)
