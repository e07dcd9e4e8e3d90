from __future__ import annotations

from typing import Any

import reactivex
from reactivex import Observable
from reactivex import operators as ops
from reactivex.testing import TestScheduler
from reactivex.testing.mockobserver import MockObserver

import rxbatches.operators as rbo
from rxbatches import MessageBatchIndividualResponse
from rxbatches.operators import ResultSplit

from . import factories as f
from .rxtest import on_completed, on_error, on_next, subscribe, values

S1, E2, C3, X4, S5, U6 = (
    f.succeeded("r1"),
    f.errored("r2"),
    f.canceled("r3"),
    f.expired("r4"),
    f.succeeded("r5"),
    f.unknown("r6"),
)
VIEWS = ("succeeded", "errored", "canceled", "expired", "unknown")


def _mixed(scheduler: TestScheduler) -> Any:
    return scheduler.create_cold_observable(
        on_next(10, S1),
        on_next(20, E2),
        on_next(30, C3),
        on_next(40, X4),
        on_next(50, S5),
        on_next(60, U6),
        on_completed(70),
    )


def _tagged(split: ResultSplit) -> Observable[tuple[str, str]]:
    """Every view's items as (view name, custom_id), merged."""

    def tag(name: str) -> Observable[tuple[str, str]]:
        view: Observable[MessageBatchIndividualResponse] = getattr(split, name)

        def tagged(response: MessageBatchIndividualResponse) -> tuple[str, str]:
            return (name, response.custom_id)

        return view.pipe(ops.map(tagged))

    return reactivex.merge(*(tag(name) for name in VIEWS))


def test_split_by_type_with_mapper_routes_each_result_to_its_type_once() -> None:
    scheduler = TestScheduler()
    source = _mixed(scheduler)

    results = scheduler.start(lambda: source.pipe(rbo.split_by_type(_tagged)))

    assert results.messages == [
        on_next(210, ("succeeded", "r1")),
        on_next(220, ("errored", "r2")),
        on_next(230, ("canceled", "r3")),
        on_next(240, ("expired", "r4")),
        on_next(250, ("succeeded", "r5")),
        on_next(260, ("unknown", "r6")),
        on_completed(270),
    ]
    # five views, one download
    assert source.subscriptions == [subscribe(200, 270)]


def test_split_by_type_with_mapper_is_cold_and_runs_once_per_subscription() -> None:
    scheduler = TestScheduler()
    source = _mixed(scheduler)
    counted = source.pipe(rbo.split_by_type(lambda split: split.succeeded.pipe(ops.count())))
    first, second = scheduler.create_observer(), scheduler.create_observer()
    scheduler.schedule_absolute(100, lambda *_: counted.subscribe(first))
    scheduler.schedule_absolute(300, lambda *_: counted.subscribe(second))

    scheduler.start()

    assert first.messages == [on_next(170, 2), on_completed(170)]
    assert second.messages == [on_next(370, 2), on_completed(370)]
    assert source.subscriptions == [subscribe(100, 170), subscribe(300, 370)]


def test_split_by_type_sends_the_source_error_to_every_view() -> None:
    scheduler = TestScheduler()
    error = ConnectionError("reset")
    source = scheduler.create_cold_observable(on_next(10, S1), on_error(20, error))

    results = scheduler.start(lambda: source.pipe(rbo.split_by_type(_tagged)))

    assert results.messages == [on_next(210, ("succeeded", "r1")), on_error(220, error)]


def test_split_by_type_disposal_unsubscribes_from_the_results() -> None:
    scheduler = TestScheduler()
    source = _mixed(scheduler)

    results = scheduler.start(lambda: source.pipe(rbo.split_by_type(_tagged)), disposed=235)

    assert values(results) == [
        ("succeeded", "r1"),
        ("errored", "r2"),
        ("canceled", "r3"),
    ]
    assert source.subscriptions == [subscribe(200, 235)]


def test_connectable_split_subscribes_only_on_connect_and_feeds_views_subscribed_before() -> None:
    scheduler = TestScheduler()
    source = _mixed(scheduler)
    split = source.pipe(rbo.split_by_type())
    observers: dict[str, MockObserver[MessageBatchIndividualResponse]] = {
        name: scheduler.create_observer() for name in VIEWS
    }
    late: MockObserver[MessageBatchIndividualResponse] = scheduler.create_observer()

    def subscribe_views(*_: Any) -> None:
        for name, observer in observers.items():
            getattr(split, name).subscribe(observer)

    scheduler.schedule_absolute(100, subscribe_views)
    scheduler.schedule_absolute(300, lambda *_: split.connect())
    scheduler.schedule_absolute(325, lambda *_: split.succeeded.subscribe(late))
    scheduler.start()

    assert source.subscriptions == [subscribe(300, 370)]
    assert observers["succeeded"].messages == [
        on_next(310, S1),
        on_next(350, S5),
        on_completed(370),
    ]
    assert observers["errored"].messages == [on_next(320, E2), on_completed(370)]
    assert observers["canceled"].messages == [on_next(330, C3), on_completed(370)]
    assert observers["expired"].messages == [on_next(340, X4), on_completed(370)]
    assert observers["unknown"].messages == [on_next(360, U6), on_completed(370)]
    # a view subscribed after connect only sees what comes next
    assert late.messages == [on_next(350, S5), on_completed(370)]


def test_connectable_split_disposing_the_connection_stops_the_stream() -> None:
    scheduler = TestScheduler()
    source = _mixed(scheduler)
    split = source.pipe(rbo.split_by_type())
    observer: MockObserver[MessageBatchIndividualResponse] = scheduler.create_observer()
    split.succeeded.subscribe(observer)
    connection = split.connect(scheduler)
    scheduler.schedule_absolute(35, lambda *_: connection.dispose())

    scheduler.start()

    assert source.subscriptions == [subscribe(0, 35)]
    assert observer.messages == [on_next(10, S1)]
