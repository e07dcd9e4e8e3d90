"""rbo.observe_on(scheduler, max_pending=N) on virtual time.

A source that honours the demand the way rxbatches' own sources do (emit only while
the consumer has room) is driven by the TestScheduler, and the consumer's scheduler
runs each drain a few ticks late, as a slow UI would.
"""

from __future__ import annotations

from typing import Any, TypeVar

import pytest
import reactivex
from reactivex import Observable, abc, typing
from reactivex import operators as ops
from reactivex.scheduler.scheduler import Scheduler
from reactivex.testing import TestScheduler
from reactivex.testing.mockobserver import MockObserver

import rxbatches.operators as rbo
from rxbatches._rx.backpressure import Demand, DemandScheduler, split
from tests.operators.rxtest import kinds, on_completed, on_error, on_next, values

_TState = TypeVar("_TState")


class Late(Scheduler):
    """Runs every action ``delay`` ticks after it is scheduled, on a TestScheduler."""

    def __init__(self, test: TestScheduler, delay: int) -> None:
        super().__init__()
        self.test = test
        self.delay = delay

    def schedule(
        self, action: typing.ScheduledAction[_TState], state: _TState | None = None
    ) -> abc.DisposableBase:
        return self.test.schedule_relative(self.delay, action, state)

    def schedule_relative(
        self,
        duetime: typing.RelativeTime,
        action: typing.ScheduledAction[_TState],
        state: _TState | None = None,
    ) -> abc.DisposableBase:
        return self.test.schedule_relative(duetime, action, state)

    def schedule_absolute(
        self,
        duetime: typing.AbsoluteTime,
        action: typing.ScheduledAction[_TState],
        state: _TState | None = None,
    ) -> abc.DisposableBase:
        return self.test.schedule_absolute(duetime, action, state)


class PullSource:
    """Emits 0..count-1, one a tick, but only while the consumer's demand has room."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.max_pending = 0
        self.waited = 0
        self.demand: Demand | None = None

    def observable(self) -> Observable[int]:
        def subscribe(
            observer: abc.ObserverBase[int], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            inner, demand = split(scheduler)
            assert isinstance(inner, TestScheduler)
            self.demand = demand
            sent = 0

            def step(sched: abc.SchedulerBase, _state: Any = None) -> abc.DisposableBase | None:
                nonlocal sent
                if sent == self.count:
                    observer.on_completed()
                    return None
                if demand is None or demand.room() > 0:
                    observer.on_next(sent)
                    sent += 1
                    if demand is not None:
                        self.max_pending = max(self.max_pending, demand.pending)
                else:
                    self.waited += 1
                return sched.schedule_relative(1, step)

            return inner.schedule_relative(1, step)

        return reactivex.create(subscribe)


def test_the_source_pauses_while_max_pending_items_are_undelivered() -> None:
    test = TestScheduler()
    source = PullSource(40)

    observer = test.start(
        lambda: source.observable().pipe(rbo.observe_on(Late(test, 7), max_pending=3)),
        disposed=10_000,
    )

    assert values(observer) == list(range(40))
    assert kinds(observer)[-1][1] == "C"
    assert source.max_pending == 3
    assert source.waited > 0  # it was held back: a plain observe_on never holds it


def test_with_reactivex_observe_on_the_same_source_runs_ahead() -> None:
    test = TestScheduler()
    source = PullSource(40)

    observer = test.start(
        lambda: source.observable().pipe(ops.observe_on(Late(test, 7))), disposed=10_000
    )

    assert values(observer) == list(range(40))
    assert source.demand is None
    assert source.waited == 0


def test_map_and_filter_between_keep_the_bound() -> None:
    test = TestScheduler()
    source = PullSource(60)

    observer = test.start(
        lambda: source.observable().pipe(
            ops.filter(_not_a_multiple_of_3),
            ops.map(_times_10),
            rbo.observe_on(Late(test, 5), max_pending=4),
        ),
        disposed=10_000,
    )

    assert values(observer) == [i * 10 for i in range(60) if i % 3 != 0]
    assert source.max_pending <= 4


def test_an_error_comes_after_every_item_before_it() -> None:
    test = TestScheduler()
    error = RuntimeError("boom")
    hot = test.create_hot_observable(
        on_next(210, 1), on_next(220, 2), on_error(230, error), on_next(240, 3)
    )

    observer = test.start(lambda: hot.pipe(rbo.observe_on(Late(test, 50), max_pending=10)))

    # One drain, 50 ticks after the first item, hands on everything queued by then.
    assert observer.messages == [on_next(260, 1), on_next(260, 2), on_error(260, error)]


def test_a_source_that_is_not_rxbatches_is_not_slowed_and_loses_nothing() -> None:
    test = TestScheduler()
    hot = test.create_hot_observable(*[on_next(201 + i, i) for i in range(20)], on_completed(230))

    observer = test.start(lambda: hot.pipe(rbo.observe_on(Late(test, 100), max_pending=2)))

    assert values(observer) == list(range(20))  # queued past the bound: it cannot pause
    assert kinds(observer)[-1] == (301.0, "C")


def test_dispose_drops_what_is_queued_and_lets_a_waiting_source_go() -> None:
    test = TestScheduler()
    source = PullSource(1_000)

    observer = test.start(
        lambda: source.observable().pipe(rbo.observe_on(Late(test, 50), max_pending=5)),
        disposed=400,
    )

    assert values(observer) == list(range(len(values(observer))))
    assert 0 < len(values(observer)) < 1_000
    assert source.demand is not None
    assert source.demand.room() == 5  # released: nothing counts as pending any more


def test_max_pending_must_be_a_positive_int() -> None:
    test = TestScheduler()
    for bad in (0, -1, 1.5, True, "3"):
        with pytest.raises(ValueError, match=r"^max_pending: must be an int >= 1"):
            rbo.observe_on(test, max_pending=bad)  # type: ignore[arg-type]


def test_the_demand_scheduler_stands_for_the_one_it_wraps() -> None:
    test = TestScheduler()
    demand = Demand(2)
    wrapped = DemandScheduler(test, demand)
    seen: list[float] = []

    wrapped.schedule_relative(5, lambda s, _: seen.append(test.clock))
    wrapped.schedule(lambda s, _: seen.append(test.clock))
    test.start(lambda: reactivex.empty())

    assert seen == [0.0, 5.0]
    inner, found = split(DemandScheduler(wrapped, Demand(9)))
    assert inner is test
    assert found is not None
    assert found.limit == 9  # the wrapper nearest the source binds


def test_a_raising_on_next_stops_the_handoff_and_reaches_the_scheduler() -> None:
    test = TestScheduler()
    hot = test.create_hot_observable(on_next(210, 1), on_next(220, 2))
    observer: MockObserver[int] = test.create_observer()

    def fail(_value: int) -> None:
        raise ValueError("consumer broke")

    hot.pipe(rbo.observe_on(test, max_pending=3)).subscribe(fail, observer.on_error)
    with pytest.raises(ValueError, match="consumer broke"):
        test.start(lambda: reactivex.never(), disposed=300)
    assert observer.messages == []  # nothing after the consumer broke


def _not_a_multiple_of_3(i: int) -> bool:
    return i % 3 != 0


def _times_10(i: int) -> int:
    return i * 10
