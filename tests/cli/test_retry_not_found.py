"""``retry_not_found`` in virtual time: which 404s are asked again, when, and for how long."""

from __future__ import annotations

import reactivex
from reactivex import Observable
from reactivex import operators as ops
from reactivex.testing import TestScheduler

from rxbatches import InternalServerError, NotFoundError
from rxbatches._cli._not_found import retry_not_found


def _not_found() -> NotFoundError:
    return NotFoundError("no such batch", status_code=404)


class _Answers:
    """A source that fails with the given errors, one per subscription, then emits "found"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.subscriptions = 0

    def make(self) -> Observable[str]:
        self.subscriptions += 1
        if self.errors:
            return reactivex.throw(self.errors.pop(0))
        return reactivex.of("found")


def _run(answers: _Answers, grace: float) -> tuple[list[str], list[Exception], list[float]]:
    scheduler = TestScheduler()
    items: list[str] = []
    errors: list[Exception] = []
    waits: list[float] = []
    source = retry_not_found(
        answers.make,
        grace,
        lambda error, remaining: waits.append(round(remaining, 3)),
        scheduler=scheduler,
        clock=lambda: scheduler.now.timestamp(),
    )
    source.subscribe(items.append, errors.append, scheduler=scheduler)
    scheduler.start()
    return items, errors, waits


def test_a_404_is_asked_again_with_growing_waits_until_found() -> None:
    answers = _Answers(_not_found(), _not_found(), _not_found())

    items, errors, waits = _run(answers, grace=2.0)

    assert items == ["found"]
    assert errors == []
    # Asked at 0, 0.1, 0.3, 0.7 s: the window left shrinks accordingly.
    assert waits == [2.0, 1.9, 1.7]
    assert answers.subscriptions == 4


def test_after_the_window_the_last_404_is_reported() -> None:
    last = _not_found()
    answers = _Answers(*[_not_found() for _ in range(9)], last)

    items, errors, waits = _run(answers, grace=1.0)

    # Asked at 0, 0.1, 0.3, 0.7 s, then at 1.0 (the wait is cut at the window's end).
    assert items == []
    assert len(errors) == 1
    assert isinstance(errors[0], NotFoundError)
    assert answers.subscriptions == 5
    assert waits == [1.0, 0.9, 0.7, 0.3]


def test_no_grace_reports_the_404_at_once() -> None:
    answers = _Answers(_not_found())

    items, errors, waits = _run(answers, grace=0.0)

    assert (items, len(errors), waits, answers.subscriptions) == ([], 1, [], 1)


def test_another_error_is_reported_at_once() -> None:
    failure = InternalServerError("boom", status_code=500)
    answers = _Answers(failure)

    items, errors, waits = _run(answers, grace=2.0)

    assert (items, errors, waits, answers.subscriptions) == ([], [failure], [], 1)


def test_a_404_after_the_first_item_is_reported_at_once() -> None:
    scheduler = TestScheduler()
    subscriptions: list[int] = []

    def make() -> Observable[str]:
        subscriptions.append(1)
        return reactivex.concat(reactivex.of("line 1"), reactivex.throw(_not_found()))

    items: list[str] = []
    errors: list[Exception] = []
    retry_not_found(
        make, 2.0, scheduler=scheduler, clock=lambda: scheduler.now.timestamp()
    ).subscribe(items.append, errors.append, scheduler=scheduler)
    scheduler.start()

    assert items == ["line 1"]
    assert len(errors) == 1
    assert len(subscriptions) == 1


def test_the_window_starts_at_the_first_404_so_a_slow_first_answer_keeps_its_grace() -> None:
    scheduler = TestScheduler()
    subscriptions: list[float] = []

    def make() -> Observable[str]:
        subscriptions.append(scheduler.now.timestamp())
        if len(subscriptions) == 1:
            # The first answer takes longer than the whole grace (a cold connection).
            return reactivex.timer(0.5, scheduler=scheduler).pipe(
                ops.flat_map(lambda _: reactivex.throw(_not_found()))
            )
        return reactivex.of("found")

    items: list[str] = []
    retry_not_found(
        make, 0.15, scheduler=scheduler, clock=lambda: scheduler.now.timestamp()
    ).subscribe(items.append, scheduler=scheduler)
    scheduler.start()

    assert items == ["found"]
    # Asked again 0.1 s after the first 404, which came 0.5 s after the start.
    assert [round(t - subscriptions[0], 3) for t in subscriptions] == [0.0, 0.6]
