"""A results stream handed to a consumer on another thread, bounded or not (issue 13).

    python -m bench.backpressure <mode> --url URL --batch ID

Modes:

- ``inline``: ``results_streaming`` consumed in ``on_next`` on the client's loop;
- ``bounded_fast`` / ``unbounded_fast``: handed to an ``EventLoopScheduler`` thread
  through ``rbo.observe_on(..., max_pending=1000)`` / reactivex's ``ops.observe_on``,
  consumed at once;
- ``bounded_slow`` / ``unbounded_slow``: the same, with a consumer that sleeps 0.5 ms
  every 10 items (a repaint, a database write).

The client runs on this process's asyncio loop, beside a 10 ms ticker noting the
longest gap between its wakeups. Prints one JSON object: ``items``, ``in_order``
(every ``custom_id`` once, in file order), ``seconds``, ``maxrss`` (peak RSS of the
process) and the ticker's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from typing import Any

from reactivex import operators as ops
from reactivex.scheduler import EventLoopScheduler

from bench.child import API_KEY, peak_rss
from bench.loop_gaps import Ticker

MODES = ("inline", "bounded_fast", "unbounded_fast", "bounded_slow", "unbounded_slow")
MAX_PENDING = 1000


class Consumer:
    """Checks that ids arrive once and in order; optionally slow."""

    def __init__(self, slow: bool) -> None:
        self.slow = slow
        self.count = 0
        self.in_order = True
        self.previous = -1
        self.done = threading.Event()
        self.error: Exception | None = None

    def on_next(self, item: Any) -> None:
        index = int(item.custom_id.rsplit("-", 1)[-1])
        self.in_order &= index == self.previous + 1
        self.previous = index
        self.count += 1
        if self.slow and self.count % 10 == 0:
            time.sleep(0.0005)

    def on_error(self, error: Exception) -> None:
        self.error = error
        self.done.set()

    def on_completed(self) -> None:
        self.done.set()


async def measure(mode: str, url: str, batch: str) -> dict[str, Any]:
    import rxbatches.operators as rbo
    from rxbatches import Client

    consumer = Consumer(slow=mode.endswith("_slow"))
    async with Client(api_key=API_KEY, base_url=url, max_retries=0) as client:
        source = client.messages.batches.results_streaming(batch)
        if mode.startswith("bounded"):
            source = source.pipe(rbo.observe_on(EventLoopScheduler(), max_pending=MAX_PENDING))
        elif mode.startswith("unbounded"):
            source = source.pipe(ops.observe_on(EventLoopScheduler()))
        ticker = Ticker()
        ticker.start()
        start = time.perf_counter()
        source.subscribe(consumer.on_next, consumer.on_error, consumer.on_completed)
        await asyncio.to_thread(consumer.done.wait)
        seconds = time.perf_counter() - start
        gaps = await ticker.stop()
    if consumer.error is not None:
        raise consumer.error
    return {
        "items": consumer.count,
        "in_order": consumer.in_order,
        "seconds": seconds,
        "maxrss": peak_rss(),
        **gaps,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--url", required=True)
    parser.add_argument("--batch", required=True)
    args = parser.parse_args(argv)
    report = asyncio.run(measure(args.mode, args.url, args.batch))
    json.dump(report, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
