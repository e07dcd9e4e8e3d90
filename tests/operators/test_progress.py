from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reactivex.testing import TestScheduler

import rxbatches.operators as rbo
from rxbatches.operators import BatchProgress

from . import factories as f
from .rxtest import error, kinds, on_completed, on_error, on_next, subscribe, values


def _progress(
    processing: int,
    total: int,
    *,
    status: str = "in_progress",
    batch_id: str = "msgbatch_1",
    **outcomes: int,
) -> BatchProgress:
    counts = {"succeeded": 0, "errored": 0, "canceled": 0, "expired": 0} | outcomes
    return BatchProgress(
        batch_id=batch_id,
        processing_status=status,
        total=total,
        processing=processing,
        ended=status == "ended",
        **counts,
    )


def test_progress_measures_done_against_the_first_snapshots_processing() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_cold_observable(
        on_next(10, f.batch(processing=4)),
        on_next(20, f.batch(processing=3)),
        on_next(30, f.batch(processing=1)),
        on_next(40, f.batch(succeeded=2, errored=1, expired=1)),
        on_completed(40),
    )

    results = scheduler.start(lambda: source.pipe(rbo.progress()))

    assert results.messages == [
        on_next(210, _progress(4, 4)),
        on_next(220, _progress(3, 4)),
        on_next(230, _progress(1, 4)),
        on_next(240, _progress(0, 4, status="ended", succeeded=2, errored=1, expired=1)),
        on_completed(240),
    ]
    fractions = [p.fraction for p in values(results)]
    assert fractions == [0.0, 0.25, 0.75, 1.0]
    assert [p.done for p in values(results)] == [0, 1, 3, 4]


def test_progress_uses_a_given_total_for_a_batch_watched_midway() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_cold_observable(
        on_next(10, f.batch(processing=5)),
        on_next(20, f.batch(processing=2)),
        on_completed(30),
    )

    results = scheduler.start(lambda: source.pipe(rbo.progress(total=10)))

    assert [p.fraction for p in values(results)] == [0.5, 0.8]
    assert [p.total for p in values(results)] == [10, 10]


def test_progress_keeps_the_largest_total_seen() -> None:
    # Should the API ever count outcomes live, their sum still gives the total.
    scheduler = TestScheduler()
    source = scheduler.create_cold_observable(
        on_next(10, f.batch(processing=2)),
        on_next(20, f.batch(processing=2, succeeded=2)),
        on_next(30, f.batch(processing=1, succeeded=2)),
        on_completed(30),
    )

    results = scheduler.start(lambda: source.pipe(rbo.progress()))

    assert [(p.total, p.done) for p in values(results)] == [
        (2, 0),
        (4, 2),
        (4, 3),
    ]


def test_progress_of_an_ended_batch_is_whole_even_when_all_were_canceled() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_cold_observable(
        on_next(10, f.batch(processing=3, status="canceling")),
        on_next(20, f.batch(canceled=3)),
        on_completed(20),
    )

    results = scheduler.start(lambda: source.pipe(rbo.progress()))

    assert results.messages == [
        on_next(210, _progress(3, 3, status="canceling")),
        on_next(220, _progress(0, 3, status="ended", canceled=3)),
        on_completed(220),
    ]
    assert values(results)[1].fraction == 1.0


def test_progress_rejects_snapshots_of_a_second_batch_through_on_error() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_cold_observable(
        on_next(10, f.batch("msgbatch_a", processing=1)),
        on_next(20, f.batch("msgbatch_b", processing=1)),
        on_completed(30),
    )

    results = scheduler.start(lambda: source.pipe(rbo.progress()))

    assert results.messages[0] == on_next(210, _progress(1, 1, batch_id="msgbatch_a"))
    assert kinds(results) == [(210, "N"), (220, "E")]
    at, exception = error(results)
    assert at == 220
    assert isinstance(exception, ValueError)
    assert "msgbatch_a, msgbatch_b" in str(exception)
    assert source.subscriptions == [subscribe(200, 220)]


def test_progress_passes_errors_through_and_disposal_unsubscribes() -> None:
    scheduler = TestScheduler()
    error = TimeoutError("poll")
    source = scheduler.create_cold_observable(
        on_next(10, f.batch(processing=2)), on_error(20, error)
    )
    failing = scheduler.start(lambda: source.pipe(rbo.progress()))
    assert failing.messages == [on_next(210, _progress(2, 2)), on_error(220, error)]

    scheduler = TestScheduler()
    source = scheduler.create_cold_observable(
        on_next(10, f.batch(processing=2)), on_next(200, f.batch(succeeded=2)), on_completed(300)
    )
    disposed = scheduler.start(lambda: source.pipe(rbo.progress()), disposed=250)
    assert disposed.messages == [on_next(210, _progress(2, 2))]
    assert source.subscriptions == [subscribe(200, 250)]


def test_progress_rejects_a_negative_total_when_called() -> None:
    with pytest.raises(ValueError, match=r"^total: must be an int >= 0, got -1"):
        rbo.progress(total=-1)


def test_batch_progress_from_batch_reads_one_snapshot() -> None:
    progress = BatchProgress.from_batch(f.batch("msgbatch_x", processing=3), total=4)
    assert progress == _progress(3, 4, batch_id="msgbatch_x")
    assert (progress.done, progress.fraction) == (1, 0.25)


@given(
    total=st.integers(min_value=1, max_value=10_000),
    cuts=st.lists(st.floats(min_value=0, max_value=1), max_size=20),
    watched_from=st.integers(min_value=0, max_value=5),
)
def test_progress_fraction_stays_in_unit_interval_never_decreases_and_ends_at_one(
    total: int, cuts: list[float], watched_from: int
) -> None:
    left = sorted({round(total * (1 - c)) for c in cuts}, reverse=True)
    left = [n for n in left if n > 0][watched_from:]
    snapshots = [f.batch(processing=n) for n in left] + [f.batch(succeeded=total)]
    scheduler = TestScheduler()
    source = scheduler.create_cold_observable(
        *(on_next(10 + i, s) for i, s in enumerate(snapshots)), on_completed(100)
    )

    results = scheduler.start(lambda: source.pipe(rbo.progress()))

    progresses: list[BatchProgress] = values(results)
    fractions = [p.fraction for p in progresses]
    assert all(0.0 <= x <= 1.0 for x in fractions)
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert [p.ended for p in progresses] == [False] * len(left) + [True]
    assert progresses[-1].total == total
