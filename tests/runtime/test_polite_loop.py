"""Big work never freezes the event loop it shares with the application (issue 10, defect 4).

A 10 ms ticker runs on the same loop as a large ``create`` and a ``run()`` cut into three
batches, against an emulator in another process; its longest gap stays under 100 ms
(the part of it this process spent computing: see :class:`~tests.ticker.Ticker`;
``python -m bench.loop_gaps`` measures the wall-clock gaps at the issue's full sizes).
The checks, the encoding and the reading of a job's input run in worker threads, never
on the loop's thread, and errors still arrive before anything is sent.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from reactivex import Observable
from reactivex import operators as ops

from rxbatches import BatchSubmitted, Client, CreateValidationError, JobEvent, ResultReceived
from rxbatches._base.body import FileBody
from rxbatches.emulator import Emulator
from tests.client.helpers import Collector, make_requests, outcome
from tests.conftest import API_KEY
from tests.runtime.conftest import heavy_request
from tests.ticker import Ticker

MAX_GAP = 0.100
"""The longest the loop may go without running the ticker, in seconds."""


async def test_a_large_create_never_stalls_its_loop(emulator_process: str) -> None:
    count = 20_000  # about 28 MB of body; the benchmark's row sends 100,000 (140 MB)
    requests = [heavy_request(i) for i in range(count)]

    async with (
        Client(api_key=API_KEY, base_url=emulator_process, timeout=60) as client,
        Ticker() as ticker,
    ):
        batch = await client.messages.batches.create(requests)

    assert batch.request_counts.processing + batch.request_counts.succeeded == count
    assert ticker.ticks > 10
    print(ticker)
    assert ticker.max_stall < MAX_GAP, str(ticker)


async def test_a_job_split_into_three_batches_never_stalls_its_loop(emulator_process: str) -> None:
    count = 18_000  # the benchmark's row runs 250,000
    requests = (heavy_request(i) for i in range(count))  # a stream: no graph of 18,000 dicts
    submitted: list[int] = []
    received: Counter[str] = Counter()

    def note(event: JobEvent) -> None:
        # Keep no event: a graph of 18,000 results would make each full garbage
        # collection, and so the loop's longest gap, grow with it.
        if isinstance(event, ResultReceived):
            received[event.response.custom_id] += 1
        elif isinstance(event, BatchSubmitted):
            submitted.append(event.requests)

    async with Client(api_key=API_KEY, base_url=emulator_process, timeout=60) as client:
        job = client.messages.batches.run(
            requests, interval=0.05, max_requests_per_batch=count // 3
        )
        async with Ticker() as ticker:
            noted: Observable[JobEvent] = job.pipe(ops.do_action(note))
            await noted.pipe(ops.count())

    assert sorted(submitted) == [count // 3] * 3
    assert len(received) == count  # none lost
    assert set(received.values()) == {1}  # none twice
    print(ticker)
    assert ticker.max_stall < MAX_GAP, str(ticker)


class Spy(Mapping[str, Any]):
    """A request that notes the thread each of its fields is read on."""

    def __init__(self, request: dict[str, Any], threads: set[str]) -> None:
        self._request = request
        self._threads = threads

    def __getitem__(self, key: str) -> Any:
        self._threads.add(threading.current_thread().name)
        return self._request[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._request)

    def __len__(self) -> int:
        return len(self._request)


async def test_create_checks_and_encodes_its_requests_off_the_loop_thread(
    emulator: Emulator,
) -> None:
    threads: set[str] = set()
    requests = [Spy(r, threads) for r in make_requests(120)]

    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        batch = await client.messages.batches.create(requests)

    assert batch.request_counts.processing + batch.request_counts.succeeded == 120
    assert threads, "the requests were read"
    assert threading.current_thread().name not in threads


async def test_run_reads_checks_and_spools_its_input_off_the_loop_thread(
    emulator: Emulator,
) -> None:
    threads: set[str] = set()

    def source() -> Iterator[dict[str, Any]]:
        for request in make_requests(9):
            threads.add(threading.current_thread().name)
            yield request

    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        job = client.messages.batches.run(source(), interval=0.01, max_requests_per_batch=3)
        collector: Collector[Any] = Collector()
        collector.subscribe(job)
        # subscribe returned without reading anything on this thread
        assert threading.current_thread().name not in threads
        await collector.wait()

    assert collector.error is None
    results = [e.response.custom_id for e in collector.items if isinstance(e, ResultReceived)]
    assert sorted(results) == sorted(r["custom_id"] for r in make_requests(9))
    assert threads
    assert threading.current_thread().name not in threads


async def test_a_bad_request_deep_in_a_large_create_fails_before_anything_is_sent(
    emulator: Emulator,
) -> None:
    requests: list[dict[str, Any]] = make_requests(5_000)
    requests[3_210]["params"]["max_tokens"] = 0  # in a late slice of the encoding
    requests[4_000]["custom_id"] = "r1"  # a later error: not the one named

    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        result = await outcome(client.messages.batches.create(requests))

    assert isinstance(result.error, CreateValidationError)
    assert result.error.index == 3_210
    assert result.error.field == "requests[3210].params.max_tokens"
    assert "greater than or equal to 1" in result.error.rule
    assert emulator.stats.requests["create"] == 0


async def test_two_attempts_reading_one_spooled_body_at_once_each_send_all_of_it() -> None:
    # An attempt abandoned mid-body may still have a read in flight in its worker
    # thread while the retry starts reading the same file from its start.
    body = FileBody()
    for index in range(3000):
        body.write(f"{index:08d}".encode() * 128)  # 3 MB: past the 1 MiB kept in memory
    expected = b"".join(body.blocks())

    async def read() -> bytes:
        return b"".join([block async for block in body.stream()])

    try:
        first, second = await asyncio.gather(read(), read())
    finally:
        await body.aclose()

    assert len(expected) == body.size
    assert first == expected
    assert second == expected


async def test_an_iterator_given_to_create_is_read_once_in_a_worker_thread_when_subscribed(
    emulator: Emulator,
) -> None:
    threads: list[str] = []

    def source() -> Iterator[dict[str, Any]]:
        threads.append(threading.current_thread().name)
        yield from make_requests(3)

    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        create = client.messages.batches.create(source())
        assert threads == []  # the call reads nothing (it may be on the event loop)

        first = await create
        second = await create  # the same requests: the iterator was read once

    assert first.request_counts.processing + first.request_counts.succeeded == 3
    assert second.request_counts.processing + second.request_counts.succeeded == 3
    assert len(threads) == 1
    assert threads[0] != threading.current_thread().name


async def test_an_iterator_that_fails_fails_every_create_subscription_and_sends_nothing(
    emulator: Emulator,
) -> None:
    def source() -> Iterator[dict[str, Any]]:
        yield from make_requests(2)
        raise OSError("the input file went away")

    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        create = client.messages.batches.create(source())  # raises nothing
        first = await outcome(create)
        second = await outcome(create)

    assert isinstance(first.error, OSError)
    assert second.error is first.error
    assert emulator.stats.requests["create"] == 0
