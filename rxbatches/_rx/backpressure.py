"""Backpressure: a consumer's window that rxbatches' own sources wait on.

RxPY has no backpressure protocol, but rxbatches owns its sources, so it can give
them one. A bounded consumer (``rxbatches.operators.observe_on(..., max_pending=N)``,
``rxbatches.iterate``, ``rxbatches.aiterate``) makes a :class:`Demand` of ``N`` and
subscribes upstream with a :class:`DemandScheduler` carrying it. reactivex passes
the subscribe scheduler up through every operator (``map``, ``filter``,
``flat_map``...), so each rxbatches source of the pipeline finds the demand in
:func:`split` and, before each item, waits on its own event loop (without blocking
it) until the consumer has room. While a source waits it reads nothing more from
its socket: aiohttp then stops reading, and TCP slows the server.

The window counts what the consumer holds undelivered: items it received minus items
it handed on. A source emits at most the room left, so with operators that keep or
drop items (``map``, ``filter``, ``take``...) the consumer never holds more than
``N``. An operator that turns one item into several between the source and the
consumer can exceed ``N`` by its fan-out. A source that is not rxbatches' does not
know the demand and is not slowed: its items queue as in reactivex's own
``observe_on``.

A consumer on the source's own event loop (``observe_on`` with an
``AsyncIOScheduler`` of that loop, ``aiterate``) can only take items when the source
lets the loop run: such a demand names its loop (:attr:`Demand.loop`), and a source
on it yields to the loop once :data:`YIELD_AT` items wait, instead of filling the
whole window first. Items waiting in a queue outlive young garbage collections and
get promoted, and the full collections that follow cost more than the handoff
itself: a short queue keeps a fast consumer on the loop near the inline speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import datetime
from typing import TypeVar

from reactivex import abc, typing
from reactivex.scheduler import CurrentThreadScheduler, TimeoutScheduler
from reactivex.scheduler.periodicscheduler import PeriodicScheduler

from .._base.checks import check_int
from .loops import running_loop

__all__ = ["DEFAULT_MAX_PENDING", "YIELD_AT", "Demand", "DemandScheduler", "split"]

_TState = TypeVar("_TState")

DEFAULT_MAX_PENDING = 1000
"""The default window of the bounded consumers."""

YIELD_AT = 16
"""Waiting items at which a source yields to a consumer on its own loop (measured: 16
keeps 86% of the inline speed, 64 keeps 73%, and yielding at every item 75%)."""


class Demand:
    """How many items a consumer may hold undelivered, and the sources waiting for room.

    The consumer calls :meth:`received` for each item it gets and :meth:`delivered`
    once it has handed items on; sources read :meth:`room` and await
    :meth:`wait_for_room`. Safe across threads: each counter has one writer at a time
    (the consumer's), and waking a source goes through its own loop.
    """

    __slots__ = ("_delivered", "_lock", "_received", "_waiters", "limit", "loop")

    def __init__(self, limit: int, *, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.limit = check_int("max_pending", limit, at_least=1)
        # The loop the consumer takes its items on, if it is an event loop's: a source
        # on that same loop must yield for the consumer to run at all.
        self.loop = loop
        self._received = 0
        self._delivered = 0
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def __repr__(self) -> str:
        return f"<Demand pending={self.pending} limit={self.limit}>"

    @property
    def pending(self) -> int:
        """Items received and not delivered yet."""
        return self._received - self._delivered

    def room(self) -> int:
        """How many more items a source may emit now."""
        return self.limit - (self._received - self._delivered)

    # ----------------------------------------------------------------- consumer side

    def received(self, count: int = 1) -> None:
        """The consumer got ``count`` more items."""
        self._received += count

    def delivered(self, count: int = 1) -> None:
        """The consumer handed ``count`` items on: wake the sources once half the room is back."""
        self._delivered += count
        if self._waiters and self.room() * 2 >= self.limit:
            self._wake()

    def release(self) -> None:
        """The consumer is gone: let every waiting source go (its own dispose stops it)."""
        self._delivered = self._received
        self._wake()

    def _wake(self) -> None:
        with self._lock:
            waiters, self._waiters = self._waiters, []
        here = running_loop()
        for loop, future in waiters:
            if loop is here:
                _resolve(future)
            else:
                with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
                    loop.call_soon_threadsafe(_resolve, future)

    # ----------------------------------------------------------------- source side

    def shares_loop(self) -> bool:
        """Whether the consumer takes its items on the calling source's event loop."""
        return self.loop is not None and self.loop is running_loop()

    async def let_consumer_run(self) -> None:
        """On a source sharing the consumer's loop: yield to it once items wait."""
        if self.pending >= YIELD_AT:
            await asyncio.sleep(0)

    async def wait_for_room(self) -> None:
        """On a source's loop: wait, without blocking the loop, until there is room."""
        loop = asyncio.get_running_loop()
        while self.room() <= 0:
            future: asyncio.Future[None] = loop.create_future()
            with self._lock:
                self._waiters.append((loop, future))
            # Delivered between the check and the registration: do not sleep on it.
            if self.room() * 2 >= self.limit:
                _resolve(future)
            await future


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class DemandScheduler(PeriodicScheduler):
    """The subscribe scheduler a bounded consumer passes upstream, carrying its demand.

    For scheduling it stands for ``inner``, the scheduler the consumer itself was
    subscribed with. Without one, it does what reactivex's operators do with none:
    timed work on the ``TimeoutScheduler``, the rest on the ``CurrentThreadScheduler``.
    """

    def __init__(self, inner: abc.SchedulerBase | None, demand: Demand) -> None:
        super().__init__()
        self.inner = inner
        self.demand = demand

    def __repr__(self) -> str:
        return f"<DemandScheduler {self.demand!r} inner={self.inner!r}>"

    def _now_target(self) -> abc.SchedulerBase:
        return self.inner if self.inner is not None else TimeoutScheduler.singleton()

    @property
    def now(self) -> datetime:
        """The inner scheduler's notion of now."""
        return self._now_target().now

    def schedule(
        self, action: typing.ScheduledAction[_TState], state: _TState | None = None
    ) -> abc.DisposableBase:
        """Schedule ``action`` now, where the inner scheduler (or reactivex's default) would."""
        target = self.inner if self.inner is not None else CurrentThreadScheduler.singleton()
        return target.schedule(action, state)

    def schedule_relative(
        self,
        duetime: typing.RelativeTime,
        action: typing.ScheduledAction[_TState],
        state: _TState | None = None,
    ) -> abc.DisposableBase:
        """Schedule ``action`` after ``duetime``, where the inner scheduler would."""
        return self._now_target().schedule_relative(duetime, action, state)

    def schedule_absolute(
        self,
        duetime: typing.AbsoluteTime,
        action: typing.ScheduledAction[_TState],
        state: _TState | None = None,
    ) -> abc.DisposableBase:
        """Schedule ``action`` at ``duetime``, where the inner scheduler would."""
        return self._now_target().schedule_absolute(duetime, action, state)

    def schedule_periodic(
        self,
        period: typing.RelativeTime,
        action: typing.ScheduledPeriodicAction[_TState],
        state: _TState | None = None,
    ) -> abc.DisposableBase:
        """Schedule a periodic ``action``, where the inner scheduler would."""
        target = self._now_target()
        if isinstance(target, abc.PeriodicSchedulerBase):
            return target.schedule_periodic(period, action, state)
        return super().schedule_periodic(period, action, state)


def split(
    scheduler: abc.SchedulerBase | None,
) -> tuple[abc.SchedulerBase | None, Demand | None]:
    """The scheduler a subscription was really made with, and the demand it carries."""
    demand: Demand | None = None
    while isinstance(scheduler, DemandScheduler):
        # Nested bounded consumers: the nearest one to the source (outermost wrapper) binds.
        if demand is None:
            demand = scheduler.demand
        scheduler = scheduler.inner
    return scheduler, demand
