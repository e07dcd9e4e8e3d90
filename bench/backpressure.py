"""A results stream handed to a consumer on another thread, bounded or not (issue 13).

    python -m bench.backpressure <mode> --url URL --batch ID

Modes:

- ``inline``: ``results_streaming`` consumed in ``on_next`` on the client's loop;
- ``bounded_fast`` / ``unbounded_fast``: handed to an ``EventLoopScheduler`` thread
  through ``rbo.observe_on(..., max_pending=1000)`` / reactivex's ``ops.observe_on``,
  consumed at once;
- ``bounded_slow`` / ``unbounded_slow``: the same, with a consumer that sleeps 0.5 ms
  every 10 items (a repaint, a database write);
- ``bounded_loop``: handed through ``rbo.observe_on(AsyncIOScheduler(loop),
  max_pending=1000)`` to a consumer on the producing loop itself (an asyncio UI or
  server), consumed at once;
- ``ceiling``: no network and no rxbatches source: a loop thread parses the same
  results line into models as fast as it can and hands them to a consumer inline,
  through ``rbo.observe_on`` and through ``ops.observe_on`` to an ``EventLoopScheduler``
  thread (best of 3 rounds each). It measures what handing Python objects from one
  thread to another costs in CPython (the GIL changing hands, the objects waiting in the
  queue surviving young garbage collections), whatever the operator: the ceiling of the
  other-thread ``*_fast`` rows. ``--url`` and ``--batch`` are not needed.

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
from reactivex.scheduler.eventloop import AsyncIOScheduler

from bench.child import API_KEY, peak_rss
from tests.ticker import Ticker

MODES = (
    "inline",
    "bounded_fast",
    "unbounded_fast",
    "bounded_slow",
    "unbounded_slow",
    "bounded_loop",
    "ceiling",
)
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
        if mode == "bounded_loop":
            loop_scheduler = AsyncIOScheduler(asyncio.get_running_loop())
            source = source.pipe(rbo.observe_on(loop_scheduler, max_pending=MAX_PENDING))
        elif mode.startswith("bounded"):
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


CEILING_ITEMS = 100_000


def _ceiling_once(handoff: str) -> float:
    """Seconds for CEILING_ITEMS models parsed on a loop thread to reach a consumer."""
    import reactivex
    from reactivex.disposable import Disposable

    import rxbatches.operators as rbo
    from bench.data import plain_succeeded_line
    from rxbatches import MessageBatchIndividualResponse

    lines = [plain_succeeded_line(i, "An answer of a few words.") for i in range(1000)]
    parse = MessageBatchIndividualResponse.model_validate_json
    threads: list[threading.Thread] = []

    def subscribe(observer: Any, _scheduler: Any = None) -> Disposable:
        async def produce() -> None:
            for i in range(CEILING_ITEMS):
                observer.on_next(parse(lines[i % 1000]))
                if i % 100 == 99:
                    await asyncio.sleep(0)  # a loop with other work, as a download's
            observer.on_completed()

        thread = threading.Thread(target=asyncio.run, args=(produce(),))
        threads.append(thread)
        thread.start()
        return Disposable()

    source: Any = reactivex.create(subscribe)
    if handoff == "bounded":
        source = source.pipe(rbo.observe_on(EventLoopScheduler(), max_pending=MAX_PENDING))
    elif handoff == "unbounded":
        source = source.pipe(ops.observe_on(EventLoopScheduler()))
    done = threading.Event()
    start = time.perf_counter()
    source.subscribe(lambda _: None, on_completed=done.set)
    done.wait()
    seconds = time.perf_counter() - start
    for thread in threads:
        thread.join()
    return seconds


def ceiling() -> dict[str, Any]:
    """Best of 3 alternating rounds of each handoff of :func:`_ceiling_once`."""
    best: dict[str, float] = {}
    for _round in range(3):
        for handoff in ("inline", "bounded", "unbounded"):
            seconds = _ceiling_once(handoff)
            best[handoff] = min(best.get(handoff, seconds), seconds)
    return {"items": CEILING_ITEMS, **{f"{k}_seconds": v for k, v in best.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--url")
    parser.add_argument("--batch")
    args = parser.parse_args(argv)
    if args.mode == "ceiling":
        json.dump(ceiling(), sys.stdout)
        print()
        return 0
    if not args.url or not args.batch:
        parser.error(f"{args.mode} needs --url and --batch")
    report = asyncio.run(measure(args.mode, args.url, args.batch))
    json.dump(report, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
