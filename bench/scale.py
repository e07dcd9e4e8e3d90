"""Benchmarks of ``watch`` at scale and of ``create``, each run in its own process.

    python -m bench.scale watch --url URL [--watches 1000] [--interval 0.2]
    python -m bench.scale create-MODE --url URL --requests N
        (MODE: rx-list, sdk-list, rx-run-file, rx-run-generator)

``watch``: creates one single-request batch per watch (the runner's emulator takes
seconds to process a request), then watches them all at once on one client, and
reports the process CPU time per poll. ``create-*``: one create of ``N`` requests,
from a Python list (rxbatches and the official SDK), or from a JSONL file or a
generator through ``batches.run(...)`` (stopped at its first ``BatchSubmitted``),
reporting the time
and the peak RSS growth over the RSS just before the create.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterable
from typing import Any

from reactivex import operators as ops

from bench.child import API_KEY, current_rss, peak_rss
from bench.data import iter_request_dicts, request_dicts, requests_file


async def watch(args: argparse.Namespace) -> dict[str, Any]:
    from rxbatches import Client

    request = request_dicts(1)[0]
    async with Client(api_key=API_KEY, base_url=args.url, max_retries=2) as client:
        batches = client.messages.batches
        created = await asyncio.gather(*(batches.create([request]) for _ in range(args.watches)))
        loop = asyncio.get_running_loop()
        polls = 0
        ended = 0
        finished = loop.create_future()

        def on_next(_: Any) -> None:
            nonlocal polls
            polls += 1

        def on_completed() -> None:
            nonlocal ended
            ended += 1
            if ended == args.watches and not finished.done():
                finished.set_result(None)

        def on_error(exc: Exception) -> None:
            if not finished.done():
                finished.set_exception(exc)

        cpu0 = time.process_time()
        start = time.perf_counter()
        for batch in created:
            batches.watch(batch.id, interval=args.interval).subscribe(
                on_next, on_error, on_completed
            )
        await finished
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu0
    return {"watches": args.watches, "polls": polls, "seconds": seconds, "cpu": cpu}


async def create_rx_list(args: argparse.Namespace) -> dict[str, Any]:
    from rxbatches import Client

    requests = request_dicts(args.requests)
    async with Client(api_key=API_KEY, base_url=args.url, max_retries=0, timeout=600) as client:
        rss0, cpu0 = current_rss(), time.process_time()
        start = time.perf_counter()
        batch = await client.messages.batches.create(requests)
        seconds = time.perf_counter() - start
    return _created(_total(batch.request_counts), seconds, time.process_time() - cpu0, rss0)


async def create_sdk_list(args: argparse.Namespace) -> dict[str, Any]:
    import anthropic

    requests: Any = request_dicts(args.requests)
    async with anthropic.AsyncAnthropic(
        api_key=API_KEY, base_url=args.url, max_retries=0, timeout=600
    ) as sdk:
        rss0, cpu0 = current_rss(), time.process_time()
        start = time.perf_counter()
        batch = await sdk.messages.batches.create(requests=requests)
        seconds = time.perf_counter() - start
    return _created(_total(batch.request_counts), seconds, time.process_time() - cpu0, rss0)


async def create_rx_run_file(args: argparse.Namespace) -> dict[str, Any]:
    from rxbatches import read_requests_jsonl

    return await _run_job(args, read_requests_jsonl(requests_file(args.requests)))


async def create_rx_run_generator(args: argparse.Namespace) -> dict[str, Any]:
    return await _run_job(args, iter_request_dicts(args.requests))


async def _run_job(args: argparse.Namespace, requests: Iterable[Any]) -> dict[str, Any]:
    """``batches.run(requests)`` until its batch is submitted: the streamed-body create."""
    from rxbatches import BatchSubmitted, Client

    async with Client(api_key=API_KEY, base_url=args.url, max_retries=0, timeout=600) as client:
        job = client.messages.batches.run(requests, interval=60)
        rss0, cpu0 = current_rss(), time.process_time()
        start = time.perf_counter()
        submitted = await job.pipe(  # type: ignore[misc]
            ops.filter(lambda event: isinstance(event, BatchSubmitted)), ops.first()
        )
        seconds = time.perf_counter() - start
    return _created(submitted.requests, seconds, time.process_time() - cpu0, rss0)


def _total(counts: Any) -> int:
    """The number of requests of a batch (the SDK's counts have no ``total``)."""
    return sum(
        getattr(counts, name)
        for name in ("processing", "succeeded", "errored", "canceled", "expired")
    )


def _created(requests: int, seconds: float, cpu: float, rss0: int) -> dict[str, Any]:
    return {
        "requests": requests,
        "seconds": seconds,
        "cpu": cpu,
        "rss0": rss0,
        "maxrss": peak_rss(),
    }


MODES = {
    "watch": watch,
    "create-rx-list": create_rx_list,
    "create-sdk-list": create_sdk_list,
    "create-rx-run-file": create_rx_run_file,
    "create-rx-run-generator": create_rx_run_generator,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("--url", required=True)
    parser.add_argument("--watches", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args(argv)
    import anthropic  # noqa: F401  (imported before any RSS reading, for every mode alike)

    import rxbatches  # noqa: F401

    report = asyncio.run(MODES[args.mode](args))
    json.dump(report, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
