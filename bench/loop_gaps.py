"""How long big work holds the event loop it shares with the application (issue 10).

    python -m bench.loop_gaps [--create 100000] [--run 250000] [--batches 3] [--quick]

A 10 ms ticker (an asyncio task noting the longest time between two of its wakeups)
runs on the client's loop while

- ``create`` sends ``--create`` requests from a list (100,000 make about 140 MB), and
- ``run()`` splits ``--run`` requests from a generator into ``--batches`` batches and
  streams every result back (each custom_id must arrive exactly once).

Each scenario runs in its own process (:func:`child`) against an emulator served by
this one, so the emulator's parsing does not hold the measured process's GIL. The
target is a longest gap under 100 ms; the gap is wall-clock time, so a busy machine
inflates it: ``computing`` is the part of the longest gap the client process spent on
a CPU (a gap where it was not scheduled at all is the machine's, not the library's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from reactivex import Observable
from reactivex import operators as ops

from bench.child import API_KEY, run_child
from bench.data import iter_request_dicts, request_dicts
from tests.ticker import Ticker

TARGET = 0.100
"""The longest gap allowed, in seconds."""


async def create_scenario(url: str, count: int) -> dict[str, Any]:
    from rxbatches import Client

    requests = request_dicts(count)
    async with Client(api_key=API_KEY, base_url=url, max_retries=0, timeout=600) as client:
        ticker = Ticker()
        ticker.start()
        await asyncio.sleep(0.05)  # a few ticks of an idle loop first
        start = time.perf_counter()
        batch = await client.messages.batches.create(requests)
        seconds = time.perf_counter() - start
        gaps = await ticker.stop()
    counts = batch.request_counts
    return {"requests": counts.processing + counts.succeeded, "seconds": seconds, **gaps}


async def run_scenario(url: str, count: int, batches: int) -> dict[str, Any]:
    from rxbatches import BatchSubmitted, Client, JobEvent, ResultReceived

    per_batch = -(-count // batches)
    seen = bytearray(count)  # results per request index: no graph of results kept
    submitted: list[int] = []

    def note(event: JobEvent) -> None:
        if isinstance(event, ResultReceived):
            index = int(event.response.custom_id.rpartition("-")[2])
            seen[index] = min(seen[index] + 1, 255)
        elif isinstance(event, BatchSubmitted):
            submitted.append(event.requests)

    async with Client(api_key=API_KEY, base_url=url, max_retries=2, timeout=600) as client:
        job = client.messages.batches.run(
            iter_request_dicts(count), interval=0.5, max_requests_per_batch=per_batch
        )
        ticker = Ticker()
        ticker.start()
        await asyncio.sleep(0.05)
        start = time.perf_counter()
        noted: Observable[JobEvent] = job.pipe(ops.do_action(note))
        await noted.pipe(ops.count())
        seconds = time.perf_counter() - start
        gaps = await ticker.stop()
    return {
        "requests": sum(submitted),
        "batches": len(submitted),
        "results_once": seen.count(1),
        "results_lost": seen.count(0),
        "results_twice": count - seen.count(1) - seen.count(0),
        "seconds": seconds,
        **gaps,
    }


def child(argv: list[str]) -> int:
    """One scenario in this process: print its figures as one JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["create", "run"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--batches", type=int, default=3)
    args = parser.parse_args(argv)
    if args.scenario == "create":
        report = asyncio.run(create_scenario(args.url, args.requests))
    else:
        report = asyncio.run(run_scenario(args.url, args.requests, args.batches))
    json.dump(report, sys.stdout)
    print()
    return 0


def verdict(figures: dict[str, Any]) -> str:
    return "PASS" if figures["max_gap"] < TARGET else "FAIL"


def describe(figures: dict[str, Any]) -> str:
    return (
        f"longest gap {figures['max_gap'] * 1000:.0f} ms (computing "
        f"{figures['max_computing'] * 1000:.0f} ms), {figures['over_50ms']} gaps over 50 ms "
        f"in {figures['ticks']} ticks; took {figures['seconds']:.2f} s"
    )


def measure(create: int, run: int, batches: int) -> list[tuple[str, dict[str, Any]]]:
    """Run both scenarios against one emulator; return each one's title and figures."""
    from rxbatches.emulator import EmulatorThread

    rows = []
    # Batches end as soon as they are made: the run streams its results at once.
    with EmulatorThread(request_latency=0.0) as emu:
        figures = run_child("bench.loop_gaps", "create", "--url", emu.base_url,
                             "--requests", str(create))  # fmt: skip
        if figures["requests"] != create:
            raise RuntimeError(f"create made a batch of {figures['requests']}, not {create}")
        rows.append((f"create of {create:,} requests from a list, inside asyncio", figures))
        emu.reset()
        figures = run_child("bench.loop_gaps", "run", "--url", emu.base_url, "--requests",
                             str(run), "--batches", str(batches))  # fmt: skip
        if (figures["requests"], figures["results_once"]) != (run, run):
            raise RuntimeError(f"run() lost or repeated requests or results: {figures}")
        rows.append(
            (f"run() of {run:,} requests from a generator in {figures['batches']} batches", figures)
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("create", "run"):
        return child(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--create", type=int, default=100_000, help="requests of the create")
    parser.add_argument("--run", type=int, default=250_000, help="requests of the job")
    parser.add_argument("--batches", type=int, default=3, help="batches the job is cut into")
    parser.add_argument("--quick", action="store_true", help="20,000 and 30,000 requests")
    args = parser.parse_args(argv)
    if args.quick:
        args.create, args.run = 20_000, 30_000
    failed = 0
    for title, figures in measure(args.create, args.run, args.batches):
        mark = verdict(figures)
        failed += mark == "FAIL"
        print(f"[{mark}] {title}: {describe(figures)} (target < {TARGET * 1000:.0f} ms)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
