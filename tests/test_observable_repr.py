"""``RxBatchesObservable``: reactivex's Observable with a repr that says what to do with it."""

from __future__ import annotations

from typing import Any, cast

import reactivex
import reactivex.operators as ops
from reactivex import Observable, abc
from reactivex.disposable import Disposable
from reactivex.observable.connectableobservable import ConnectableObservable
from reactivex.testing import ReactiveTest, TestScheduler

from rxbatches._rx.observable import HINT, RxBatchesObservable, create


def _source(*items: int) -> Observable[int]:
    def subscribe(
        observer: abc.ObserverBase[int], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        for item in items:
            observer.on_next(item)
        observer.on_completed()
        return Disposable()

    return create(subscribe)


def _times_ten(x: int) -> int:
    return x * 10


def _over_ten(x: int) -> bool:
    return x > 10


def _plus_one(x: int) -> int:
    return x + 1


def test_the_repr_says_it_is_cold_and_how_to_take_its_items() -> None:
    text = repr(_source(1))

    assert text == HINT
    assert "nothing is sent until it is subscribed to" in text
    for way in ("rxbatches.iterate(obs)", "rxbatches.to_list(obs)", "obs.run()", "await obs"):
        assert way in text
    assert "reactivex.observable.observable.Observable object" not in text


def test_a_plain_observable_keeps_reactivex_repr() -> None:
    # The hint is ours to give: reactivex.create is untouched.
    assert repr(reactivex.of(1)).startswith("<reactivex.observable.observable.Observable object")


def test_pipe_keeps_the_hint_and_the_items() -> None:
    piped = _source(1, 2, 3).pipe(ops.map(_times_ten), ops.filter(_over_ten))

    assert isinstance(piped, RxBatchesObservable)
    assert repr(piped) == HINT
    assert piped.pipe(ops.to_list()).run() == [20, 30]


def test_pipe_with_no_operator_is_the_observable_itself() -> None:
    source = _source(1)

    assert cast(Any, source).pipe() is source  # reactivex types pipe() with one operator or more


def test_pipe_returns_other_results_as_they_are() -> None:
    published = _source(1, 2).pipe(ops.publish())

    assert type(published) is ConnectableObservable
    seen: list[int] = []
    published.subscribe(seen.append)
    published.connect()
    assert seen == [1, 2]


def test_a_piped_observable_behaves_as_reactivex_does_on_virtual_time() -> None:
    scheduler = TestScheduler()
    error = ValueError("boom")
    hot = scheduler.create_hot_observable(
        ReactiveTest.on_next(210, 1),
        ReactiveTest.on_next(220, 2),
        ReactiveTest.on_error(230, error),
    )

    def subscribe(
        observer: abc.ObserverBase[int], sched: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        return hot.subscribe(observer, scheduler=sched)

    piped = create(subscribe).pipe(ops.map(_plus_one))
    results = scheduler.start(lambda: piped)

    assert isinstance(piped, RxBatchesObservable)
    assert results.messages == [
        ReactiveTest.on_next(210, 2),
        ReactiveTest.on_next(220, 3),
        ReactiveTest.on_error(230, error),
    ]
    assert hot.subscriptions == [ReactiveTest.subscribe(200, 230)]


def test_disposing_a_piped_observable_disposes_the_source_on_virtual_time() -> None:
    scheduler = TestScheduler()
    hot = scheduler.create_hot_observable(
        ReactiveTest.on_next(210, 1), ReactiveTest.on_next(300, 2)
    )

    def subscribe(
        observer: abc.ObserverBase[int], sched: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        return hot.subscribe(observer, scheduler=sched)

    results = scheduler.start(lambda: create(subscribe).pipe(ops.map(lambda x: x)), disposed=250)

    assert results.messages == [ReactiveTest.on_next(210, 1)]
    assert hot.subscriptions == [ReactiveTest.subscribe(200, 250)]


def test_every_method_of_the_service_returns_an_observable_whose_repr_hints() -> None:
    from rxbatches import Client

    with Client(api_key="sk-ant-test", base_url="http://127.0.0.1:9") as client:
        batches = client.messages.batches
        made: list[Observable[Any]] = [
            batches.create([]),
            batches.retrieve("msgbatch_x"),
            batches.list(),
            batches.list_pages(),
            batches.cancel("msgbatch_x"),
            batches.delete("msgbatch_x"),
            batches.results("msgbatch_x"),
            batches.results_streaming("msgbatch_x"),
            batches.results_streaming_dicts("msgbatch_x"),
            batches.watch("msgbatch_x"),
            batches.with_raw_response.retrieve("msgbatch_x"),
            batches.list().pipe(ops.take(1)),
        ]

    assert [repr(source) for source in made] == [HINT] * len(made)
