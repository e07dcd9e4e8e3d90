"""Blocking handoff of an Observable's items to the calling thread, for scripts and notebooks.

reactivex 4 dropped the blocking operators of RxPY 1 (``to_blocking()``, ``for x in obs``),
and ``Observable.run()`` returns only the last item. In a plain script the items of an
rxbatches Observable arrive on the client's background loop thread, so a script that only
subscribes ends before they come. :func:`iterate` and :func:`to_list` subscribe, then
hand every notification to the calling thread through one queue (:class:`_Handoff`).
"""

from __future__ import annotations

import math
import queue
import time
from collections.abc import Generator
from typing import Any, Generic, Literal, TypeAlias, TypeVar

from reactivex import Observable

from .._base.checks import check_int, check_seconds
from .backpressure import DEFAULT_MAX_PENDING, Demand, DemandScheduler
from .loops import running_loop

__all__ = ["iterate", "to_list"]

_T = TypeVar("_T")

_Kind: TypeAlias = Literal["item", "error", "done"]


class _Handoff(Generic[_T]):
    """The queue between a subscription (any thread) and the blocked consumer.

    Every notification goes through here, counted by ``demand``: rxbatches' sources
    upstream wait (on their event loop, without blocking it) while ``max_pending``
    items are queued and not taken (see :mod:`rxbatches._rx.backpressure`).
    """

    __slots__ = ("_queue", "demand")

    def __init__(self, max_pending: int) -> None:
        self._queue: queue.SimpleQueue[tuple[_Kind, Any]] = queue.SimpleQueue()
        self.demand = Demand(max_pending)

    def on_next(self, item: _T) -> None:
        self.demand.received()
        self._queue.put(("item", item))

    def on_error(self, error: Exception) -> None:
        self._queue.put(("error", error))

    def on_completed(self) -> None:
        self._queue.put(("done", None))

    def take(self, deadline: float | None) -> tuple[_Kind, Any]:
        """The next notification, waiting until ``deadline`` (``time.monotonic()``) at most.

        Raises:
            queue.Empty: Nothing arrived before the deadline.
        """
        if deadline is None:
            return self._queue.get()
        return self._queue.get(timeout=max(0.0, deadline - time.monotonic()))


def iterate(
    observable: Observable[_T],
    *,
    timeout: float | None = None,
    max_pending: int = DEFAULT_MAX_PENDING,
) -> Generator[_T, None, None]:
    """Iterate over the items of ``observable``, blocking the calling thread between them.

    The Observable is subscribed to when the iteration starts (the first ``next()``),
    and each item is yielded as it arrives, in order. An error of the Observable is
    raised here, in the caller's thread, as it was emitted (a ``NotFoundError`` stays a
    ``NotFoundError``). Leaving the loop early (``break``, an exception, Ctrl-C) or
    closing the generator disposes the subscription: an rxbatches request in flight is
    aborted and its connection released.

    ::

        observable:  ──a────b──c──|           ──a──X(error)
        iterate():     a    b  c  (loop ends)   a  raise error

    At most ``max_pending`` items wait for the loop body: while they do, rxbatches'
    sources upstream (results, list, watch, a job's events) pause, without blocking
    their event loop, and read nothing more from the network, so a large results file
    is never held in memory whatever the loop body's speed. A source that is not
    rxbatches' is not slowed (see :func:`rxbatches.operators.observe_on`).

    This blocks, so it refuses to run on a thread whose asyncio event loop is running
    (inside a coroutine, or a notebook cell: IPython runs cells on its loop). There,
    ``await observable.pipe(ops.to_list())`` instead, or subscribe with callbacks.

    Args:
        observable: Any reactivex Observable; those of rxbatches run their requests on the
            client's background loop thread.
        timeout: Seconds from this call after which an item (or the end) that has not
            arrived raises ``TimeoutError``, as in ``concurrent.futures.as_completed``;
            ``None`` (or ``NO_TIMEOUT``) waits as long as it takes.
        max_pending: How many items may wait for the loop body, at most (>= 1).

    Returns:
        A generator of the items; ``close()`` it to stop early.

    Raises:
        RuntimeError: Called on a thread whose asyncio event loop is running.
        TimeoutError: ``timeout`` seconds have passed and the Observable has not ended
            (the subscription is disposed first).
        ValueError: ``timeout`` is not ``None`` or a number >= 0, or ``max_pending`` not
            an int >= 1 (raised by this call).
        Exception: Whatever the Observable emits with ``on_error``.

    Example:
        >>> for custom_id, text in rxbatches.iterate(results.pipe(rbo.texts())):
        ...     print(custom_id, text)
    """
    return _iterate(observable, timeout, "iterate", max_pending)


def to_list(observable: Observable[_T], *, timeout: float | None = None) -> list[_T]:
    """Every item of ``observable``, in order, once it completes; blocks the calling thread.

    ``list(rxbatches.iterate(observable, timeout=timeout))``: the same subscription,
    errors, timeout and refusal to block a running event loop as :func:`iterate`.

    ::

        observable:  ──a────b──c──|
        to_list():                [a, b, c]

    Args:
        observable: Any reactivex Observable.
        timeout: Seconds from this call to wait at most for the Observable to end
            (``None`` or ``NO_TIMEOUT``: as long as it takes).

    Returns:
        The items (an empty list for an Observable that completes without any).

    Raises:
        RuntimeError: Called on a thread whose asyncio event loop is running.
        TimeoutError: The Observable had not ended after ``timeout`` seconds (the
            subscription is disposed first).
        ValueError: ``timeout`` is not ``None`` or a number >= 0.
        Exception: Whatever the Observable emits with ``on_error``.

    Example:
        >>> newest = rxbatches.to_list(batches.list().pipe(ops.take(2)))
    """
    return list(_iterate(observable, timeout, "to_list", DEFAULT_MAX_PENDING))


def _iterate(
    observable: Observable[_T], timeout: float | None, name: str, max_pending: int
) -> Generator[_T, None, None]:
    """Check the arguments now; the generator subscribes on its first ``next()``."""
    timeout = check_seconds("timeout", timeout, allow_none=True, allow_zero=True, allow_inf=True)
    check_int("max_pending", max_pending, at_least=1)
    _refuse_running_loop(name)
    # NO_TIMEOUT (math.inf) waits forever, as None does: no deadline a queue could overflow on.
    deadline = None if timeout is None or math.isinf(timeout) else time.monotonic() + timeout
    return _handed_off(observable, timeout, deadline, name, max_pending)


def _handed_off(
    observable: Observable[_T],
    timeout: float | None,
    deadline: float | None,
    name: str,
    max_pending: int,
) -> Generator[_T, None, None]:
    # Checked again here: the generator may first be advanced elsewhere than where it was made.
    _refuse_running_loop(name)
    handoff: _Handoff[_T] = _Handoff(max_pending)
    demand = handoff.demand
    subscription = observable.subscribe(
        handoff.on_next,
        handoff.on_error,
        handoff.on_completed,
        scheduler=DemandScheduler(None, demand),
    )
    try:
        while True:
            try:
                kind, value = handoff.take(deadline)
            except queue.Empty:
                raise TimeoutError(
                    f"the Observable had not ended {timeout} s after rxbatches.{name}() was called"
                ) from None
            if kind == "item":
                yield value
                del value  # hold nothing already handed out while waiting for the next
                demand.delivered()
            elif kind == "error":
                raise value
            else:
                return
    finally:
        subscription.dispose()
        demand.release()


def _refuse_running_loop(name: str) -> None:
    if running_loop() is None:
        return
    raise RuntimeError(
        f"rxbatches.{name}() blocks, and this thread runs an asyncio event loop (a coroutine, "
        "a loop callback or a notebook cell): waiting here would freeze that loop and every "
        "task on it. Use `await observable.pipe(ops.to_list())` there (or subscribe with "
        f"callbacks), or call rxbatches.{name}() from another thread, e.g. "
        "`await asyncio.to_thread(rxbatches.to_list, observable)`."
    )
