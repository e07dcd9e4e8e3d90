"""Load: one client, 1,000 concurrent watch streams and 100 concurrent result streams.

Every stream ends in its batch's ``ended`` snapshot or with every result exactly once,
and the requests share a small pool of connections: a TCP relay between the client and
the emulator counts the connections the client opens (the client is unchanged; it just
gets the relay's URL). A second test streams 100 MB of results over 100 streams at once
in bounded memory (tracemalloc's peak): apart, as tracemalloc slows everything it sees
(the two together took 6 to 13 s, most of it tracing the watches' polls).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from reactivex import Observable

from rxbatches import BatchService, Client, MessageBatch, MessageBatchIndividualResponse
from rxbatches.emulator import Emulator, ManualClock
from tests.client.helpers import make_requests, result_line
from tests.conftest import API_KEY

WATCHES = 1000
RESULT_STREAMS = 100
RESULTS_PER_STREAM = 100
PAD = 10_000
"""Bytes of filler per result line: 100 streams x 100 lines x ~10 kB = 100 MB of results.

Few long lines rather than many short ones: the volume is what the memory bound needs, and
every line costs a model (slow under tracemalloc) where a long one costs little more."""

PEAK_BUDGET = 48 * 1024 * 1024
"""The most memory (tracemalloc, the emulator's included) 100 result streams may take at
once: measured 17.8 MiB, mostly socket and stream buffers of the 100 connections.
Streaming holds a slice of each body; buffering would hold the 100 MB of JSON, more as
models."""

DEADLINE = 20.0
"""Real seconds for each phase (they take about one); a hang fails here, with a clearer
message, before the per-test timeout does."""


class ConnectionCountingRelay:
    """A TCP relay to ``host:port`` that counts the connections it accepts."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.accepted = 0

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def __aenter__(self) -> ConnectionCountingRelay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.ensure_future(self._relay(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(Exception):
                    await w.wait_closed()


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(64 * 1024):
            sink.write(data)
            await sink.drain()
    except ConnectionError:
        pass
    finally:
        sink.close()


_ID = b"@custom-id@"
_LINE = result_line(_ID.decode(), pad=PAD) + b"\n"
"""One padded result line, encoded once: each line swaps in its own custom_id (JSON-encoding
every line afresh took about a third of this test's time)."""
_SHORT_LINE = result_line(_ID.decode()) + b"\n"


def _result_lines(stream: int, line: bytes = _LINE) -> Callable[[], Iterator[bytes]]:
    """The results file of one stream, generated afresh for each download (no memory held)."""

    def lines() -> Iterator[bytes]:
        for i in range(RESULTS_PER_STREAM):
            yield line.replace(_ID, f"s{stream}-r{i}".encode())

    return lines


def _add_result_batches(emu: Emulator, line: bytes = _LINE) -> list[str]:
    """``RESULT_STREAMS`` ended batches, each with its ``RESULTS_PER_STREAM`` results."""
    # The counts are given, so the emulator does not read every file once to count them.
    return [
        emu.add_ended_batch(_result_lines(s, line), {"expired": RESULTS_PER_STREAM})
        for s in range(RESULT_STREAMS)
    ]


def _stream_results(
    batches: BatchService, result_ids: list[str]
) -> tuple[list[Tracker], list[Counter[str]]]:
    """Subscribe one results stream per batch; returns the trackers and each one's id counts."""
    seen: list[Counter[str]] = [Counter() for _ in result_ids]

    def on_result(counts: Counter[str]) -> Callable[[MessageBatchIndividualResponse], None]:
        return lambda result: counts.update((result.custom_id,))

    streams = [
        Tracker(on_result(counts)).subscribe(batches.results_streaming(batch_id))
        for batch_id, counts in zip(result_ids, seen, strict=True)
    ]
    return streams, seen


def _assert_each_result_once(seen: list[Counter[str]]) -> None:
    """Every result stream: each of its results exactly once (matched by custom_id)."""
    for stream, counts in enumerate(seen):
        assert set(counts) == {f"s{stream}-r{i}" for i in range(RESULTS_PER_STREAM)}
        assert set(counts.values()) == {1}


class Tracker:
    """An observer keeping what the test checks (never the results themselves)."""

    def __init__(self, on_item: Callable[[Any], None]) -> None:
        self._on_item = on_item
        self.error: Exception | None = None
        self.completed = False
        self.done = asyncio.Event()

    def subscribe(self, source: Observable[Any]) -> Tracker:
        source.subscribe(self._on_item, self._on_error, self._on_completed)
        return self

    def _on_error(self, error: Exception) -> None:
        self.error = error
        self.done.set()

    def _on_completed(self) -> None:
        self.completed = True
        self.done.set()


@pytest.mark.slow
async def test_a_thousand_watches_and_a_hundred_result_streams_on_one_client() -> None:
    clock = ManualClock()
    async with (
        Emulator(clock=clock, request_latency=1.0, results_chunk_size=16 * 1024) as emu,
        ConnectionCountingRelay("127.0.0.1", int(emu.base_url.rsplit(":", 1)[1])) as relay,
        Client(api_key=API_KEY, base_url=relay.base_url) as client,
    ):
        batches = client.messages.batches
        # 1,000 batches, still in progress while the clock stands still. Made in the
        # emulator, not by 1,000 creates over HTTP: they are not what is measured here.
        created = [emu.add_batch(make_requests(1)) for _ in range(WATCHES)]
        assert len(set(created)) == WATCHES
        # Short lines: the volume matters to the memory test below, not here.
        result_ids = _add_result_batches(emu, _SHORT_LINE)
        first_polls = asyncio.Event()
        snapshots: list[list[MessageBatch]] = [[] for _ in created]

        def on_snapshot(kept: list[MessageBatch]) -> Callable[[MessageBatch], None]:
            def on_next(batch: MessageBatch) -> None:
                kept.append(batch)
                if len(kept) == 1 and all(snapshots):
                    first_polls.set()

            return on_next

        watches = [
            Tracker(on_snapshot(kept)).subscribe(batches.watch(batch_id, interval=0.02))
            for batch_id, kept in zip(created, snapshots, strict=True)
        ]
        async with asyncio.timeout(DEADLINE):
            # Every watch has seen its batch in progress and polls on.
            await first_polls.wait()
            # The results stream while the 1,000 watches are live; now let every watch end.
            streams, seen = _stream_results(batches, result_ids)
            clock.advance(60.0)
            for collector in [*watches, *streams]:
                await collector.done.wait()
        requests = sum(emu.stats.requests.values())
        completed_downloads = emu.stats.results_completed

    # No errors, every stream completed.
    assert [c.error for c in [*watches, *streams] if c.error is not None] == []
    assert all(c.completed for c in [*watches, *streams])
    # Every watch: its own batch, in progress first, ended last, nothing after that.
    for batch_id, kept in zip(created, snapshots, strict=True):
        assert {s.id for s in kept} == {batch_id}
        assert kept[0].processing_status == "in_progress"
        assert kept[-1].processing_status == "ended"
        assert [s.ended for s in kept].count(True) == 1
        assert kept[-1].request_counts.succeeded == 1
    _assert_each_result_once(seen)
    assert completed_downloads == RESULT_STREAMS
    # One pool: a few connections carried thousands of requests.
    assert requests >= 2 * WATCHES + RESULT_STREAMS
    assert relay.accepted <= 200, f"{relay.accepted} connections for {requests} requests"
    assert relay.accepted * 10 <= requests


@pytest.mark.slow
async def test_a_hundred_result_streams_at_once_hold_a_bounded_amount_of_memory() -> None:
    async with (
        Emulator(request_latency=0.001, results_chunk_size=16 * 1024) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        result_ids = _add_result_batches(emu)
        gc.collect()
        tracemalloc.start()
        try:
            streams, seen = _stream_results(client.messages.batches, result_ids)
            async with asyncio.timeout(DEADLINE):
                for stream in streams:
                    await stream.done.wait()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        completed_downloads = emu.stats.results_completed

    assert [s.error for s in streams if s.error is not None] == []
    assert all(s.completed for s in streams)
    _assert_each_result_once(seen)
    assert completed_downloads == RESULT_STREAMS
    assert peak < PEAK_BUDGET, f"peak {peak / 2**20:.1f} MiB"
