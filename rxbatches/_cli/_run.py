"""Blocking on an Observable from the main thread, so that Ctrl-C still gets through.

``observable.run()`` would block the main thread in a way that delays
``KeyboardInterrupt``; instead we subscribe and wait on an event in short slices, so the
interrupt is raised here, the subscription is disposed (which aborts its request and
releases the connection) and the interrupt goes on up to the command line's handler.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from reactivex import Observable

__all__ = ["drain"]

T = TypeVar("T")

_SLICE = 0.1  # seconds: how quickly a Ctrl-C is noticed


def drain(
    observable: Observable[T],
    on_next: Callable[[T], None] = lambda _: None,
    *,
    tick: Callable[[], None] | None = None,
) -> None:
    """Subscribe to ``observable`` and block until it completes.

    ::

        ──a──b──c──|   returns after calling on_next(a), on_next(b), on_next(c)
        ──a──X         raises X after on_next(a)

    Args:
        observable: The work to run (it runs on the client's background loop).
        on_next: Called for each item, on the thread the item arrives on. An exception
            it raises ends the stream and is raised here.
        tick: Called on this thread at every wait slice (to refresh a display).

    Raises:
        Exception: Whatever the stream signalled to ``on_error``.
        KeyboardInterrupt: After disposing the subscription.
    """
    done = threading.Event()
    errors: list[BaseException] = []

    def on_error(error: Exception) -> None:
        errors.append(error)
        done.set()

    subscription = observable.subscribe(on_next, on_error, done.set)
    try:
        while not done.wait(_SLICE):
            if tick is not None:
                tick()
    except BaseException:
        subscription.dispose()
        raise
    if errors:
        raise errors[0]
