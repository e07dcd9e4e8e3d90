"""Blocking on an Observable from the main thread, so that Ctrl-C still gets through.

``observable.run()`` would block the main thread in a way that delays
``KeyboardInterrupt``; instead we subscribe and wait on an event in short slices, so the
interrupt is raised here, the subscription is disposed (which aborts its request and
releases the connection) and the interrupt goes on up to the command line's handler.

On the main thread, Ctrl-C is caught by a SIGINT handler of our own that only sets a
flag. Python's default handler raises ``KeyboardInterrupt`` wherever the main thread
happens to be; when that is a finalizer run by the garbage collector (aiohttp's objects
have some), the exception is printed as "ignored" and lost, and the command would go on
waiting. A flag cannot be lost.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
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

    with _interrupts_to(done) as interrupted:
        subscription = observable.subscribe(on_next, on_error, done.set)
        try:
            while not done.wait(_SLICE):
                if tick is not None:
                    tick()
            if interrupted:
                raise KeyboardInterrupt
        except BaseException:
            subscription.dispose()
            raise
    if errors:
        raise errors[0]


@contextmanager
def _interrupts_to(done: threading.Event) -> Iterator[list[int]]:
    """While inside, SIGINT appends to the yielded list and sets ``done`` (main thread only)."""
    interrupted: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield interrupted  # signal handlers can only be installed from the main thread
        return

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        interrupted.append(signum)
        done.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)
