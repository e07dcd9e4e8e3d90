"""The Observable bridge: coroutines and async iterators in, cold Observables out.

This is the only module that turns async code into Observables. Each subscription
starts its own task, so nothing happens before subscribe and every subscription does
the work again (``ops.retry(n)`` re-issues a request). Disposing the subscription
cancels the task: the request is aborted and its connection released, and nothing
is emitted afterwards.

Where the task runs (and so on which thread items arrive):

- subscribed on a thread whose asyncio loop is running (a coroutine, a callback of
  that loop, ``await observable``), with no scheduler or an asyncio / trampoline one:
  on that loop, so items arrive on that loop's thread;
- otherwise (plain synchronous code, a UI thread, ``observable.run()``, a subscription
  made with a thread-based scheduler): on a background event-loop thread the client
  starts on first use and stops on ``close()``; items arrive on that thread. A UI
  marshals them to its own thread with ``ops.observe_on(ui_scheduler)``.

``observable.run()`` passes a thread scheduler, so even when called from a thread
that runs a loop (a notebook cell) the work goes to the background loop instead of
deadlocking the blocked one.

Each subscription is started through the client's runtime of that loop
(:mod:`rxbatches._rx.runtime`), so that ``close()`` ends it with exactly one terminal
notification, and a subscription made after ``close()`` fails at once with
:class:`~rxbatches.ClientClosedError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import Disposable

from .._base.errors import APIConnectionError, ClientClosedError
from .backpressure import Demand, split
from .observable import create
from .runtime import Runtimes, Subscription, closed_error

__all__ = ["Bridge"]

T = TypeVar("T")


Body = Callable[[abc.ObserverBase[T], Subscription], Coroutine[Any, Any, None]]


class Bridge:
    """Makes cold Observables from async code, choosing the loop per subscription."""

    def __init__(self, runtimes: Runtimes) -> None:
        self.runtimes = runtimes

    def from_coroutine(self, factory: Callable[[], Awaitable[T]]) -> Observable[T]:
        """A cold Observable of the single value of ``factory()``'s awaitable.

        ::

            subscribe ──(value)|      or      subscribe ──X (the coroutine's exception)
        """

        async def body(observer: abc.ObserverBase[T], sub: Subscription) -> None:
            value = await factory()
            demand = sub.demand
            if demand is not None and demand.room() <= 0:
                await demand.wait_for_room()
            if not sub.disposed:
                observer.on_next(value)

        return self._observable(body)

    def from_async_iterable(self, factory: Callable[[], AsyncIterable[T]]) -> Observable[T]:
        """A cold Observable of the items of ``factory()``'s async iterable.

        The iterator is pulled one item at a time: a dispose (or a downstream
        ``take(n)``) stops it before it asks for anything more, and closes it.

        ::

            subscribe ──a──b──c──|
        """

        async def body(observer: abc.ObserverBase[T], sub: Subscription) -> None:
            iterator = aiter(factory())
            demand = sub.demand
            turn = demand.let_consumer_run if demand is not None and demand.shares_loop() else None
            try:
                async for item in iterator:
                    if demand is not None and demand.room() <= 0:
                        # Ask the iterator for nothing more until the consumer has room.
                        await demand.wait_for_room()
                        if sub.disposed:
                            return
                    observer.on_next(item)
                    if sub.disposed:
                        return
                    del item  # see from_async_batches: hold nothing already emitted
                    if turn is not None:
                        await turn()
            finally:
                aclose = getattr(iterator, "aclose", None)
                if aclose is not None:
                    await aclose()

        return self._observable(body)

    def from_async_batches(
        self, factory: Callable[[], AsyncIterable[Iterable[T]]]
    ) -> Observable[T]:
        """A cold Observable of every item of every batch ``factory()`` yields.

        Each batch is emitted in a tight loop (no task switch per item), which keeps
        the per-item cost of large streams low.

        ::

            batches:  ──[a,b]────[c]──|
            result:   ──a─b──────c────|
        """

        async def body(observer: abc.ObserverBase[T], sub: Subscription) -> None:
            iterator = aiter(factory())
            on_next = observer.on_next
            demand = sub.demand
            turn = demand.let_consumer_run if demand is not None and demand.shares_loop() else None
            try:
                async for batch in iterator:
                    if demand is not None:
                        if await _emit_within(batch, on_next, sub, demand):
                            return
                        if turn is not None:
                            await turn()
                    elif _emit_all(batch, on_next, sub):
                        return
                    # Hold no emitted batch while the next one is produced: items kept
                    # alive survive garbage collections and make full ones frequent.
                    del batch
            finally:
                aclose = getattr(iterator, "aclose", None)
                if aclose is not None:
                    await aclose()

        return self._observable(body)

    def _observable(self, body: Body[T]) -> Observable[T]:
        runtimes = self.runtimes

        def subscribe(
            observer: abc.ObserverBase[T], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            scheduler, demand = split(scheduler)
            try:
                runtime = runtimes.for_subscription(scheduler)
            except ClientClosedError as exc:
                observer.on_error(exc)
                return Disposable()
            sub = Subscription(runtime, observer, demand)

            def work() -> Coroutine[Any, Any, None]:
                return _drive(body, observer, sub)

            # The runtime keeps the task alive until it is done (the loop holds only a
            # weak reference), and is what the client's close goes through.
            runtime.start(sub, work)
            return Disposable(sub.dispose)

        return create(subscribe)


def _emit_all(batch: Iterable[T], on_next: Callable[[T], None], sub: Subscription) -> bool:
    """Emit every item of ``batch``; return whether the subscription was disposed meanwhile."""
    for item in batch:
        on_next(item)
        if sub.disposed:
            return True
    return False


async def _emit_within(
    batch: Iterable[T], on_next: Callable[[T], None], sub: Subscription, demand: Demand
) -> bool:
    """Emit ``batch`` no faster than ``demand`` allows; return whether ``sub`` was disposed.

    Waits on this loop (other tasks run meanwhile) while the consumer has no room, and
    asks the upstream iterator for nothing more until the whole batch is out.
    """
    items = batch if isinstance(batch, list) else list(batch)
    start, count = 0, len(items)
    while start < count:
        room = demand.room()
        if room <= 0:
            await demand.wait_for_room()
            if sub.disposed:
                return True
            continue
        end = min(count, start + room)
        for index in range(start, end):
            on_next(items[index])
            if sub.disposed:
                return True
        start = end
    return False


async def _drive(body: Body[T], observer: abc.ObserverBase[T], sub: Subscription) -> None:
    try:
        await body(observer, sub)
    except asyncio.CancelledError:
        if not sub.disposed:
            # Cancelled by a client close or a loop shutdown, not by the subscriber:
            # tell it, or a blocking run() would wait forever.
            sub.fail(sub.runtime.abort_error())
        raise
    except Exception as exc:  # every failure travels in the stream
        if (
            sub.runtime.closed
            and isinstance(exc, APIConnectionError | RuntimeError)
            and not isinstance(exc, ClientClosedError)
        ):
            # The close made the request fail (a closed session): say so.
            closed = closed_error("the request was aborted")
            closed.__cause__ = exc
            exc = closed
        sub.fail(exc)
    else:
        sub.finish(observer.on_completed)
