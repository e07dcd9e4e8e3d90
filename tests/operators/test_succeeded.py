from __future__ import annotations

from reactivex import Observable
from reactivex.testing import TestScheduler

import rxbatches.operators as rbo
from rxbatches import MessageBatchIndividualResponse, MessageBatchSucceededResult
from rxbatches.operators import SucceededMessage

from . import factories as f
from .rxtest import on_completed, on_error, on_next, subscribe, values


def _message_of(response: MessageBatchIndividualResponse) -> SucceededMessage:
    assert isinstance(response.result, MessageBatchSucceededResult)
    return SucceededMessage(response.custom_id, response.result.message)


def test_succeeded_keeps_only_succeeded_results_as_custom_id_message_pairs() -> None:
    scheduler = TestScheduler()
    s1, s4 = f.succeeded("r1"), f.succeeded("r4", "second")
    source = scheduler.create_hot_observable(
        on_next(150, f.succeeded("early")),
        on_next(210, s1),
        on_next(220, f.errored("r2")),
        on_next(230, f.canceled("r3")),
        on_next(240, s4),
        on_next(250, f.expired("r5")),
        on_next(260, f.unknown("r6")),
        on_completed(300),
    )

    def create() -> Observable[SucceededMessage]:
        return source.pipe(rbo.succeeded())

    results = scheduler.start(create)

    assert results.messages == [
        on_next(210, _message_of(s1)),
        on_next(240, _message_of(s4)),
        on_completed(300),
    ]
    assert values(results)[1].message.text == "second"
    assert source.subscriptions == [subscribe(200, 300)]


def test_succeeded_pairs_unpack_as_custom_id_and_message() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_cold_observable(on_next(10, f.succeeded("a", "hi")), on_completed(20))
    results = scheduler.start(lambda: source.pipe(rbo.succeeded()))

    custom_id, message = values(results)[0]
    assert (custom_id, message.text) == ("a", "hi")


def test_succeeded_passes_errors_through() -> None:
    scheduler = TestScheduler()
    error = RuntimeError("stream broke")
    s1 = f.succeeded("r1")
    source = scheduler.create_hot_observable(
        on_next(210, s1), on_error(220, error), on_next(230, f.succeeded("r2"))
    )

    results = scheduler.start(lambda: source.pipe(rbo.succeeded()))

    assert results.messages == [on_next(210, _message_of(s1)), on_error(220, error)]
    assert source.subscriptions == [subscribe(200, 220)]


def test_succeeded_disposal_unsubscribes_from_the_results() -> None:
    scheduler = TestScheduler()
    s1 = f.succeeded("r1")
    source = scheduler.create_hot_observable(
        on_next(210, s1), on_next(400, f.succeeded("r2")), on_completed(500)
    )

    results = scheduler.start(lambda: source.pipe(rbo.succeeded()), disposed=300)

    assert results.messages == [on_next(210, _message_of(s1))]
    assert source.subscriptions == [subscribe(200, 300)]
