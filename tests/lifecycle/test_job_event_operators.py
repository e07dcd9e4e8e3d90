"""results(), batch_snapshots(), job_progress(): one kind of a job's events, on virtual time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from reactivex import Observable
from reactivex.testing import TestScheduler

import rxbatches.operators as rbo
from rxbatches import BatchSnapshot, BatchSubmitted, JobEvent, JobProgressed, ResultReceived
from rxbatches.operators import JobProgress
from tests.operators import factories as f
from tests.operators.rxtest import error, kinds, on_completed, on_error, on_next, values

RUNNING = f.batch("msgbatch_a", processing=2)
ENDED = f.batch("msgbatch_a", succeeded=2)
R1 = f.succeeded("r1")
R2 = f.errored("r2")


def _progress(processing: int, *, ended: bool = False) -> JobProgress:
    return JobProgress(
        total=2,
        processing=processing,
        succeeded=0 if not ended else 2,
        errored=0,
        canceled=0,
        expired=0,
        ended=ended,
        batches=1,
        ended_batches=int(ended),
        unsubmitted=0,
    )


P0 = _progress(2)
P1 = _progress(0, ended=True)

JOB: list[tuple[int, JobEvent]] = [
    (210, BatchSubmitted(batch=RUNNING, batch_index=0, first_request=0, requests=2)),
    (220, JobProgressed(progress=P0)),
    (230, BatchSnapshot(batch=RUNNING, batch_index=0)),
    (240, JobProgressed(progress=P0)),
    (250, BatchSnapshot(batch=ENDED, batch_index=0)),
    (260, JobProgressed(progress=P1)),
    (270, ResultReceived(response=R1, batch_id="msgbatch_a")),
    (280, ResultReceived(response=R2, batch_id="msgbatch_a")),
]

Picker = Callable[[], Callable[[Observable[JobEvent]], Observable[Any]]]


@pytest.mark.parametrize(
    ("picker", "expected"),
    [
        (rbo.results, [(270, R1), (280, R2)]),
        (rbo.batch_snapshots, [(230, RUNNING), (250, ENDED)]),
        (rbo.job_progress, [(220, P0), (240, P0), (260, P1)]),
    ],
)
def test_each_picker_emits_its_kind_at_once_and_passes_completion(
    picker: Picker, expected: list[tuple[int, Any]]
) -> None:
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(*[on_next(t, e) for t, e in JOB], on_completed(300))

    observer = scheduler.start(lambda: source.pipe(picker()))

    assert values(observer) == [value for _, value in expected]
    assert kinds(observer) == [(t, "N") for t, _ in expected] + [(300, "C")]


@pytest.mark.parametrize("picker", [rbo.results, rbo.batch_snapshots, rbo.job_progress])
def test_each_picker_passes_the_jobs_error_through(picker: Picker) -> None:
    scheduler = TestScheduler()
    failure = RuntimeError("job failed")
    source = scheduler.create_hot_observable(on_next(210, JOB[0][1]), on_error(250, failure))

    observer = scheduler.start(lambda: source.pipe(picker()))

    assert error(observer) == (250, failure)
