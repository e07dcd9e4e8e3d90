"""Helpers shared by the client tests: request lists, collecting observers, result lines."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from reactivex import Observable, abc

T = TypeVar("T")


def make_requests(n: int, prefix: str = "r") -> list[dict[str, Any]]:
    """``n`` valid create requests as plain dicts, custom ids ``r0``, ``r1``..."""
    return [
        {
            "custom_id": f"{prefix}{i}",
            "params": {
                "model": "claude-test",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": f"hello {i}"}],
            },
        }
        for i in range(n)
    ]


def result_line(custom_id: str, kind: str = "expired", pad: int = 0) -> bytes:
    """One results line without its newline (a result that needs no message).

    ``pad`` adds an unknown field of that many bytes (models keep unknown fields).
    """
    line = {"custom_id": custom_id, "result": {"type": kind}}
    if pad:
        line["pad"] = "x" * pad
    return json.dumps(line).encode()


def big_results(lines: int = 8000, pad: int = 5000) -> list[bytes]:
    """A results file far larger than the loopback socket buffers (40 MB by default).

    A server can only notice a client that went away while it still has bytes to
    write; with a small file everything is in the kernel's buffers at once.
    """
    return [result_line(f"r{i}", pad=pad) + b"\n" for i in range(lines)]


@dataclass
class Collector(Generic[T]):
    """An observer recording every notification, with an asyncio event set on termination."""

    items: list[T] = field(default_factory=list)
    error: Exception | None = None
    completed: bool = False
    threads: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    done_sync: threading.Event = field(default_factory=threading.Event)

    def on_next(self, value: T) -> None:
        self.items.append(value)
        self.threads.append(threading.current_thread().name)

    def on_error(self, error: Exception) -> None:
        self.error = error
        self._finish()

    def on_completed(self) -> None:
        self.completed = True
        self._finish()

    def _finish(self) -> None:
        self.done_sync.set()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_soon(self.done.set)

    def subscribe(
        self, source: Observable[T], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        return source.subscribe(self.on_next, self.on_error, self.on_completed, scheduler=scheduler)

    async def wait(self) -> None:
        async with asyncio.timeout(10.0):
            await self.done.wait()


async def outcome(source: Observable[T]) -> Collector[T]:
    """Subscribe inside the running loop and wait (10 s at most) for the termination."""
    collector: Collector[T] = Collector()
    collector.subscribe(source)
    await collector.wait()
    return collector
