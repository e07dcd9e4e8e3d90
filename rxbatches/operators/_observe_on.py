"""``observe_on(scheduler, max_pending=N)``: reactivex's ``observe_on`` with a bound."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable, SerialDisposable
from reactivex.scheduler.eventloop import AsyncIOScheduler

from .._base.checks import check_int
from .._rx.backpressure import DEFAULT_MAX_PENDING, Demand, DemandScheduler

__all__ = ["observe_on"]

T = TypeVar("T")

_NEXT, _ERROR, _COMPLETED = 0, 1, 2

_BURST = 1000
"""Items handed on per scheduled action, so that a UI's own events get a turn."""


def observe_on(
    scheduler: abc.SchedulerBase, *, max_pending: int = DEFAULT_MAX_PENDING
) -> Callable[[Observable[T]], Observable[T]]:
    """Hand items to ``scheduler``, never holding more than ``max_pending`` undelivered.

    A drop-in for ``reactivex.operators.observe_on`` for consumers slower than the
    stream: a UI thread, a database writer, a slow ``on_next``. Upstream, every
    rxbatches source of the pipeline (results, list, watch, a job's events) waits on
    its event loop, without blocking it, until the consumer has taken items: it reads
    nothing more from its socket meanwhile, so TCP slows the server instead of memory
    filling with parsed results. Other streams on the same loop keep flowing.

    The bound holds through operators that keep or drop items (``map``, ``filter``,
    ``take``, ``flat_map`` onto rxbatches sources...). An operator that turns one item
    into several between the source and this one can exceed it by its fan-out. A
    source that is not rxbatches' knows nothing of the bound and is not slowed: its
    items queue as with reactivex's ``observe_on``.

    With an ``AsyncIOScheduler`` of the source's own event loop (an asyncio UI or
    server), an rxbatches source yields to the loop once a few items wait, so the
    consumer keeps up instead of a full window piling up first.

    Notifications keep their order; ``on_error`` and ``on_completed`` come after every
    item before them. Items are handed on in bursts of up to 1,000 per scheduled action.

    Marble diagram::

        source:    ──1──2──3──4──5──6──|        (pauses while 2 are undelivered)
        observe_on(s, max_pending=2)
        result:    ───1──2──3──4──5──6──|       (on s)

    Args:
        scheduler: Where the items are handed on (a UI scheduler, an
            ``EventLoopScheduler``, an ``AsyncIOThreadSafeScheduler``...).
        max_pending: How many items may wait undelivered, at most (>= 1).

    Returns:
        An operator for ``Observable.pipe``: the same notifications, on ``scheduler``.

    Raises:
        ValueError: ``max_pending`` is not an int >= 1 (raised by this call).

    Example:
        >>> batches.results(batch_id).pipe(
        ...     rbo.observe_on(ui_scheduler, max_pending=1000)
        ... ).subscribe(show)
    """
    limit = check_int("max_pending", max_pending, at_least=1)

    def operator(source: Observable[T]) -> Observable[T]:
        def subscribe(
            observer: abc.ObserverBase[T], subscribe_scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            demand = Demand(limit, loop=_loop_of(scheduler))
            handoff = _Handoff(scheduler, observer, demand)
            upstream = source.subscribe(
                handoff.on_next,
                handoff.on_error,
                handoff.on_completed,
                scheduler=DemandScheduler(subscribe_scheduler, demand),
            )
            return CompositeDisposable(upstream, Disposable(handoff.dispose))

        return Observable(subscribe)

    return operator


def _loop_of(scheduler: abc.SchedulerBase) -> asyncio.AbstractEventLoop | None:
    """The event loop an asyncio scheduler runs its work on (``None`` for the others)."""
    if isinstance(scheduler, AsyncIOScheduler):
        # reactivex keeps the loop in a private field, set at construction, never changed.
        loop: asyncio.AbstractEventLoop = scheduler._loop
        return loop
    return None


class _Handoff:
    """The queue between the producing thread and ``scheduler``, counted by ``demand``."""

    __slots__ = (
        "_active",
        "_demand",
        "_lock",
        "_observer",
        "_queue",
        "_scheduled",
        "_scheduler",
        "_stopped",
    )

    def __init__(
        self, scheduler: abc.SchedulerBase, observer: abc.ObserverBase[Any], demand: Demand
    ) -> None:
        self._scheduler = scheduler
        self._observer = observer
        self._demand = demand
        self._queue: deque[tuple[int, Any]] = deque()
        self._lock = threading.Lock()
        self._active = False  # a drain is scheduled or running
        self._stopped = False
        self._scheduled = SerialDisposable()

    def on_next(self, value: Any) -> None:
        self._demand.received()
        self._queue.append((_NEXT, value))
        self._ensure_draining()

    def on_error(self, error: Exception) -> None:
        self._queue.append((_ERROR, error))
        self._ensure_draining()

    def on_completed(self) -> None:
        self._queue.append((_COMPLETED, None))
        self._ensure_draining()

    def _ensure_draining(self) -> None:
        # Unlocked first read: while a drain is active (the common case under load) it
        # will see what was just appended, because it re-checks the queue after
        # clearing ``_active`` (see _drain).
        if self._active:
            return
        with self._lock:
            if self._active or self._stopped:
                return
            self._active = True
        self._scheduled.disposable = self._scheduler.schedule(self._drain)

    def _drain(self, _scheduler: abc.SchedulerBase, _state: Any = None) -> None:
        queue, observer, demand = self._queue, self._observer, self._demand
        for _ in range(_BURST):
            if self._stopped:
                return
            try:
                kind, value = queue.popleft()
            except IndexError:
                with self._lock:
                    self._active = False
                if not queue:
                    return
                # Appended meanwhile: take the drain back, unless the producer did.
                with self._lock:
                    if self._active or self._stopped:
                        return
                    self._active = True
                continue
            if kind == _NEXT:
                try:
                    observer.on_next(value)
                except Exception:
                    self.dispose()
                    raise
                del value
                demand.delivered()
            else:
                self.dispose()
                if kind == _ERROR:
                    observer.on_error(value)
                else:
                    observer.on_completed()
                return
        # A full burst: give the scheduler's other work a turn, then go on.
        self._scheduled.disposable = self._scheduler.schedule(self._drain)

    def dispose(self) -> None:
        with self._lock:
            self._stopped = True
        self._queue.clear()
        self._scheduled.dispose()
        # Let a source waiting for room go; its own dispose (upstream) ends it.
        self._demand.release()
