"""Fixtures of the runtime tests: an emulator in its own process, and a loop ticker."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import pytest

TICK = 0.01
"""The ticker's period, in seconds."""


@pytest.fixture(scope="module")
def emulator_process() -> Iterator[str]:
    """The base URL of an emulator served by another process, whose batches end at once.

    Another process, not a thread: the emulator parses every create body it receives,
    and doing that under this process's GIL would stall the loop being measured.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "rxbatches", "emulator", "--port", "0", "--latency", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        url = process.stdout.readline().strip()  # its first line is its base URL
        assert url.startswith("http://"), f"the emulator printed {url!r}"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


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
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last, last_cpu = loop.time(), time.process_time()
        while not self._stop.is_set():
            await asyncio.sleep(TICK)
            now, cpu = loop.time(), time.process_time()
            self.max_gap = max(self.max_gap, now - last)
            self.max_stall = max(self.max_stall, min(now - last, cpu - last_cpu))
            self.ticks += 1
            last, last_cpu = now, cpu

    def __str__(self) -> str:
        return (
            f"longest gap {self.max_gap * 1000:.0f} ms (wall), {self.max_stall * 1000:.0f} ms"
            f" of it computing, over {self.ticks} ticks"
        )

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)  # let it take its first reading
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task


def heavy_request(index: int) -> dict[str, Any]:
    """A valid create request of about 1.4 KB, like the benchmark's (100,000 make 140 MB)."""
    text = f"request {index}: " + "the quick brown fox jumps over the lazy dog " * 30
    return {
        "custom_id": f"request-{index:06d}",
        "params": {
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "system": "You are a careful assistant.",
            "messages": [{"role": "user", "content": text}],
        },
    }
