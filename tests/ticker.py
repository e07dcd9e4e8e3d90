"""A 10 ms ticker on the running loop: how long something kept the loop from running.

Used by the runtime tests (``async with Ticker() as ticker``) and by the benchmarks
(``start()`` then ``await stop()``, which returns the figures as a dict).
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any

__all__ = ["TICK", "Ticker"]

TICK = 0.01
"""The ticker's period, in seconds."""

_LONG = 0.05
"""A gap counted in :attr:`Ticker.over_50ms`, in seconds."""


class Ticker:
    """An asyncio task on the running loop that wakes every 10 ms and notes the longest gap.

    A gap is the time between two wakeups: 10 ms when nothing holds the loop; the
    longer, the longer something (a callback, a task, another thread holding the GIL)
    kept the loop from running.

    On a machine shared with other busy processes the operating system may also leave
    this process waiting for a core, which is no stall of ours: :attr:`max_stall` counts
    of each gap only the CPU time this process spent meanwhile (a gap where it was not
    even scheduled counts for little), while :attr:`max_gap` is the wall-clock figure.
    """

    def __init__(self) -> None:
        self.max_gap = 0.0
        self.max_stall = 0.0
        self.ticks = 0
        self.over_50ms = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last, last_cpu = loop.time(), time.process_time()
        while not self._stop.is_set():
            await asyncio.sleep(TICK)
            now, cpu = loop.time(), time.process_time()
            gap = now - last
            self.max_gap = max(self.max_gap, gap)
            self.max_stall = max(self.max_stall, min(gap, cpu - last_cpu))
            self.over_50ms += gap > _LONG
            self.ticks += 1
            last, last_cpu = now, cpu

    def start(self) -> None:
        """Start ticking on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> dict[str, Any]:
        """Stop ticking; the figures (``max_gap``, ``max_computing``: the stall, ...)."""
        self._stop.set()
        assert self._task is not None
        await self._task
        return {
            "max_gap": self.max_gap,
            "max_computing": self.max_stall,
            "ticks": self.ticks,
            "over_50ms": self.over_50ms,
        }

    def __str__(self) -> str:
        return (
            f"longest gap {self.max_gap * 1000:.0f} ms (wall), {self.max_stall * 1000:.0f} ms"
            f" of it computing, over {self.ticks} ticks"
        )

    async def __aenter__(self) -> Ticker:
        self.start()
        await asyncio.sleep(0)  # let it take its first reading
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
