"""The emulator's clock: real time scaled by a speed factor, or a manual clock for tests.

Every lifecycle decision of the emulator is a pure function of ``clock.time()``, so a
:class:`ManualClock` makes batches move only when a test says so.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "ManualClock", "ScaledClock"]


class Clock:
    """Base of the emulator's clocks: emulator time as POSIX seconds and as a datetime."""

    def time(self) -> float:
        """Return the emulator time in POSIX seconds."""
        raise NotImplementedError

    def now(self) -> datetime:
        """Return the emulator time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)

    def real_delay(self, emulator_seconds: float) -> float:
        """Return how many real seconds pass while ``emulator_seconds`` pass on this clock.

        ``math.inf`` when this clock does not move by itself.
        """
        raise NotImplementedError

    def add_listener(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` whenever the clock jumps (a manual advance).

        Returns:
            A function that removes the listener.
        """
        return lambda: None


class ScaledClock(Clock):
    """Real time, running ``speed`` times faster, starting from the current wall time.

    Args:
        speed: How many emulator seconds pass per real second (must be positive).
    """

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0 or math.isinf(speed):
            raise ValueError(f"speed must be a positive finite number, got {speed!r}")
        self.speed = speed
        self._wall = time.time()
        self._mono = time.monotonic()

    def time(self) -> float:
        """Return the emulator time in POSIX seconds."""
        return self._wall + (time.monotonic() - self._mono) * self.speed

    def real_delay(self, emulator_seconds: float) -> float:
        """Return the real seconds that ``emulator_seconds`` take on this clock."""
        return max(0.0, emulator_seconds / self.speed)

    def __repr__(self) -> str:
        return f"ScaledClock(speed={self.speed!r})"


class ManualClock(Clock):
    """A clock that stands still until :meth:`advance` moves it (for deterministic tests).

    Args:
        start: The initial time (aware datetime); the current wall time by default.

    Example:
        >>> clock = ManualClock(datetime(2025, 1, 1, tzinfo=UTC))
        >>> clock.advance(90)
        >>> clock.now().isoformat()
        '2025-01-01T00:01:30+00:00'
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._t = time.time() if start is None else start.timestamp()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def time(self) -> float:
        """Return the emulator time in POSIX seconds."""
        return self._t

    def real_delay(self, emulator_seconds: float) -> float:
        """Return ``math.inf``: a manual clock never moves by itself."""
        return math.inf

    def advance(self, seconds: float) -> None:
        """Move the clock forward and wake up whoever waits on emulator state.

        Args:
            seconds: How far to move (not negative).
        """
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._t += seconds
            listeners = list(self._listeners)
        for callback in listeners:
            callback()

    def add_listener(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` after every :meth:`advance`; returns the remover."""
        with self._lock:
            self._listeners.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return remove

    def __repr__(self) -> str:
        return f"ManualClock(now={self.now().isoformat()!r})"
