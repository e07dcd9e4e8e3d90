"""The one clock behind the service's timed waits: the real one, unless a test passes its own.

``watch``'s interval and the 404 grace loops (:mod:`rxbatches._service.grace`) read the time
and sleep only through a :class:`Clock`, never through ``time.monotonic`` or
``asyncio.sleep`` directly, so that their timing logic runs on virtual time in tests
(each sleep recorded, none waited). The library itself only ever uses
:data:`SYSTEM_CLOCK`. Retry backoff is the HTTP layer's own business, not this clock's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Protocol

__all__ = ["SYSTEM_CLOCK", "Clock", "MonotonicClock"]


class Clock(Protocol):
    """Monotonic time in seconds, and a way to wait on it."""

    def now(self) -> float:
        """The current time, in seconds from an arbitrary origin (never goes back)."""
        ...

    def sleep(self, seconds: float) -> Awaitable[None]:
        """Wait ``seconds`` of this clock's time (a cancellable awaitable)."""
        ...


class MonotonicClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep`` on the running loop."""

    __slots__ = ()

    def now(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> Awaitable[None]:
        """``asyncio.sleep(seconds)``."""
        return asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "<MonotonicClock>"


SYSTEM_CLOCK: Clock = MonotonicClock()
"""The clock every operation uses unless given another."""
