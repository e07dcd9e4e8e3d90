"""Per-item cost of rxbatches' Observable path and of typical operators (no network).

    python -m bench.rx_overhead [--items N]

Items are already decoded; they come from an async generator yielding lists of 12
(the results of one decode slice of a results stream). Prints one JSON object of
microseconds per item (best of 3) for:

- ``bare``: ``async for batch in gen(): for item in batch: ...`` (the bound);
- ``bare_per_item``: an async generator yielding every item (what the SDK's loop is);
- ``create``: ``reactivex.create`` pushing each item with ``on_next`` (no asyncio);
- ``bridge``: rxbatches' own bridge (``from_async_batches``, the path of
  ``results_streaming``), subscribed inside asyncio;
- ``bridge+map``, ``+filter``, ``+scan``, ``+take_while``, ``+all4``: the bridge piped
  through those operators.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import reactivex
from reactivex import Observable, abc
from reactivex import operators as ops

from rxbatches._rx.bridge import Bridge
from rxbatches._rx.runtime import Runtimes

SLICE = 12


def _batches(n: int) -> list[list[int]]:
    return [list(range(i, min(i + SLICE, n))) for i in range(0, n, SLICE)]


async def _gen(batches: list[list[int]]) -> AsyncIterator[list[int]]:
    for batch in batches:
        yield batch


async def _gen_items(batches: list[list[int]]) -> AsyncIterator[int]:
    for batch in batches:
        for item in batch:
            yield item


async def bare(batches: list[list[int]]) -> int:
    count = 0
    async for batch in _gen(batches):
        for _item in batch:
            count += 1
    return count


async def bare_per_item(batches: list[list[int]]) -> int:
    count = 0
    async for _item in _gen_items(batches):
        count += 1
    return count


async def plain_create(batches: list[list[int]]) -> int:
    def subscribe(observer: abc.ObserverBase[int], _: abc.SchedulerBase | None = None) -> Any:
        on_next = observer.on_next
        for batch in batches:
            for item in batch:
                on_next(item)
        observer.on_completed()

    count = 0

    def counted(_: int) -> None:
        nonlocal count
        count += 1

    reactivex.create(subscribe).subscribe(counted)
    return count


def _bridged(operator: Callable[[Observable[int]], Observable[Any]] | None) -> Callable[..., Any]:
    async def run(batches: list[list[int]]) -> int:
        bridge = Bridge(Runtimes())
        source: Observable[Any] = bridge.from_async_batches(lambda: _gen(batches))
        if operator is not None:
            source = source.pipe(operator)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        count = 0

        def counted(_: Any) -> None:
            nonlocal count
            count += 1

        source.subscribe(counted, done.set_exception, lambda: done.set_result(None))
        await done
        return count

    return run


def _inc(x: int) -> int:
    return x + 1


def _non_negative(x: int) -> bool:
    return x >= 0


def _count(acc: int, _: int) -> int:
    return acc + 1


_ALL4: Callable[[Observable[int]], Observable[int]] = reactivex.compose(
    ops.map(_inc),
    ops.filter(_non_negative),
    ops.scan(_count, 0),
    ops.take_while(_non_negative),
)

CASES: dict[str, Callable[[list[list[int]]], Any]] = {
    "bare": bare,
    "bare_per_item": bare_per_item,
    "create": plain_create,
    "bridge": _bridged(None),
    "bridge+map": _bridged(ops.map(_inc)),
    "bridge+filter": _bridged(ops.filter(_non_negative)),
    "bridge+scan": _bridged(ops.scan(_count, 0)),
    "bridge+take_while": _bridged(ops.take_while(_non_negative)),
    "bridge+all4": _bridged(_ALL4),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    batches = _batches(args.items)
    out: dict[str, float] = {}
    for name, case in CASES.items():
        best = float("inf")
        for _ in range(3):
            gc.collect()
            start = time.perf_counter()
            count = asyncio.run(case(batches))
            best = min(best, time.perf_counter() - start)
            assert count == args.items, (name, count)
        out[name] = best / args.items * 1e6
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
