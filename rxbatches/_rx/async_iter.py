"""``async for`` over an Observable, with a bound on the items waiting for the loop body."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator
from typing import Any, TypeVar

from reactivex import Observable

from .._base.checks import check_int
from .backpressure import DEFAULT_MAX_PENDING, Demand, DemandScheduler
from .loops import running_loop

__all__ = ["aiterate"]

_T = TypeVar("_T")

_ITEM, _ERROR, _DONE = 0, 1, 2


def aiterate(
    observable: Observable[_T], *, max_pending: int = DEFAULT_MAX_PENDING
) -> AsyncGenerator[_T, None]:
    """Iterate over the items of ``observable`` with ``async for``, inside asyncio.

    The Observable is subscribed to when the iteration starts; rxbatches' requests
    then run on this event loop. Items come in order; an error of the Observable is
    raised in the loop body's task; leaving the loop early (``break``, an exception, a
    cancellation) or closing the generator disposes the subscription, which aborts the
    request. At most ``max_pending`` items wait for the loop body: while they do,
    rxbatches' sources upstream pause and read nothing more from the network, and other
    tasks of the loop keep running. A source that is not rxbatches' is not slowed.

    ::

        observable:  ──a────b──c──|           ──a──X(error)
        aiterate():    a    b  c  (loop ends)   a  raise error

    Args:
        observable: Any reactivex Observable.
        max_pending: How many items may wait for the loop body, at most (>= 1).

    Returns:
        An async generator of the items; ``aclose()`` it to stop early.

    Raises:
        ValueError: ``max_pending`` is not an int >= 1 (raised by this call).
        Exception: Whatever the Observable emits with ``on_error``.

    Example:
        >>> async for result in rxbatches.aiterate(batches.results(batch_id)):
        ...     await database.save(result)
    """
    return _aiterate(observable, check_int("max_pending", max_pending, at_least=1))


async def _aiterate(observable: Observable[_T], max_pending: int) -> AsyncGenerator[_T, None]:
    loop = asyncio.get_running_loop()
    demand = Demand(max_pending, loop=loop)
    queue: deque[tuple[int, Any]] = deque()
    arrived = asyncio.Event()

    def push(entry: tuple[int, Any]) -> None:
        queue.append(entry)
        if running_loop() is loop:
            arrived.set()
        else:  # a source on another thread
            loop.call_soon_threadsafe(arrived.set)

    def on_next(item: _T) -> None:
        demand.received()
        push((_ITEM, item))

    subscription = observable.subscribe(
        on_next,
        lambda error: push((_ERROR, error)),
        lambda: push((_DONE, None)),
        scheduler=DemandScheduler(None, demand),
    )
    try:
        while True:
            while not queue:
                arrived.clear()
                if queue:  # came between the check and the clear
                    break
                await arrived.wait()
            kind, value = queue.popleft()
            if kind == _ITEM:
                yield value
                del value  # hold nothing already handed out
                demand.delivered()
            elif kind == _ERROR:
                raise value
            else:
                return
    finally:
        subscription.dispose()
        demand.release()
