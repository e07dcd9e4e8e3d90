"""A virtual clock for the service's timed waits: every sleep recorded, none waited."""

from __future__ import annotations

import asyncio

from rxbatches.emulator import ManualClock


class VirtualClock:
    """A :class:`rxbatches._base.clock.Clock` whose time moves only when it is slept on.

    Each ``sleep`` is recorded in :attr:`sleeps` and returns at once, after moving this
    clock (and the emulator's ``ManualClock`` it drives, if any) forward by that much:
    the client and the emulator then share one virtual timeline.
    """

    def __init__(self, drives: ManualClock | None = None) -> None:
        self.time = 0.0
        self.sleeps: list[float] = []
        self._drives = drives

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds
        if self._drives is not None:
            self._drives.advance(seconds)
        await asyncio.sleep(0)  # still a point where others run, as a real sleep is
