"""The 404 grace of the command line, for any batch id.

A script may run ``rxbatches create`` and then, in another process, ``rxbatches retrieve
ID``: the API can answer 404 about a batch for a moment after its create, and the
second process has no memory of the create that the library's own grace could use. So
each command that takes an id asks again after a 404, for a window counted from the
first 404 (``--not-found-grace``, 2 s by default, as ``watch``'s), waiting 0.1 s, then
twice as long each time, at most 1 s apart; after the window the last 404 is reported.
The window starts at the first answer, not at the command's start, so a slow first
request (a cold connection, a loaded machine) does not use up the grace. A 404
that comes after the first item (a download already under way) is reported at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import reactivex
from reactivex import Observable, abc
from reactivex import operators as ops

from rxbatches import NotFoundError
from rxbatches._service.grace import grace_delay

__all__ = ["DEFAULT_GRACE", "retry_not_found"]

T = TypeVar("T")

DEFAULT_GRACE = 2.0
"""Seconds a 404 is asked again by default (the library's ``watch`` uses the same)."""


def retry_not_found(
    make: Callable[[], Observable[T]],
    grace: float,
    on_wait: Callable[[NotFoundError, float], None] = lambda error, remaining: None,
    *,
    scheduler: abc.SchedulerBase | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Observable[T]:
    """Subscribe to ``make()`` again after a 404 that comes before any item, for ``grace`` s.

    ::

        make():   ─X404   ─X404      ─(batch)|
        result:   ─────0.1s────0.2s──(batch)|        (grace not over yet)
        unknown:  ─X404 ... ─X404 ──X NotFoundError   (grace over: the last 404)
        other:    ─X500          ──X InternalServerError   (not a 404: at once)

    Args:
        make: Builds the work (called at each subscription, so it is asked anew).
        grace: Seconds from the first 404 during which a 404 is asked again (0: never).
        on_wait: Called before each wait with the 404 and the seconds of the window
            left, to say on stderr what is going on.
        scheduler: Where the waits are scheduled (default: a timer thread).
        clock: Seconds, monotonic (for tests in virtual time: the scheduler's clock).

    Returns:
        The items of the attempt that did not answer 404.
    """

    def subscribe_with_grace(_: abc.SchedulerBase | None) -> Observable[T]:
        deadline: float | None = None

        def attempt(misses: int) -> Observable[T]:
            emitted = False

            def seen(_: T) -> None:
                nonlocal emitted
                emitted = True

            def again(error: Exception, _: Observable[T]) -> Observable[T]:
                nonlocal deadline
                now = clock()
                if deadline is None:
                    deadline = now + grace
                remaining = deadline - now
                if not isinstance(error, NotFoundError) or emitted or remaining <= 0:
                    return reactivex.throw(error)
                on_wait(error, remaining)
                delay = grace_delay(misses, remaining)
                return reactivex.timer(delay, scheduler=scheduler).pipe(
                    ops.flat_map(lambda _: attempt(misses + 1))
                )

            return reactivex.defer(lambda _: make()).pipe(ops.do_action(seen), ops.catch(again))

        return attempt(0)

    return reactivex.defer(subscribe_with_grace)
