"""Over real sockets: a slow consumer pauses rxbatches' results stream, and the server too.

The emulator produces each results line as it writes it (a generator), so how far it
has got shows how much the client has read. While the consumer is held, a bounded
consumer keeps the server from getting far; reactivex's own observe_on lets the client
read everything at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from reactivex import Observable
from reactivex import operators as ops
from reactivex.scheduler import EventLoopScheduler
from reactivex.scheduler.eventloop import AsyncIOScheduler

import rxbatches
import rxbatches.operators as rbo
from rxbatches import Client
from rxbatches.emulator import EmulatorThread
from tests.client.helpers import result_line
from tests.conftest import API_KEY

LINES = 3_000
PAD = 20_000  # 60 MB in all: far more than the socket buffers hold
FAR = 1_500  # a line the server must not reach while the consumer is held
HELD_FOR = 1.0  # seconds the consumer is held; the server must not reach FAR meanwhile
MAX_PENDING = 50


class Produced:
    """The results file as a generator that records how far the server has got.

    The emulator reads the file once when the batch is added (to count its results):
    only the runs after :meth:`arm` are watched.
    """

    def __init__(self) -> None:
        self.count = 0
        self.far = threading.Event()
        self.armed = False

    def arm(self, batch_id: str) -> str:
        self.armed = True
        return batch_id

    def lines(self) -> Iterator[bytes]:
        watched = self.armed
        for i in range(LINES):
            if watched:
                self.count = i + 1
                if i == FAR:
                    self.far.set()
            yield result_line(f"r{i}", pad=PAD) + b"\n"


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(request_latency=0.001) as emu:
        yield emu


def _counting(source: Observable[Any], produced: list[int]) -> Observable[str]:
    """Count items as the source emits them (on its loop), and keep only the ids."""

    def count(result: Any) -> str:
        produced[0] += 1
        return str(result.custom_id)

    return source.pipe(ops.map(count))


def test_a_held_consumer_pauses_the_download_and_the_server(emu: EmulatorThread) -> None:
    produced = Produced()
    batch_id = produced.arm(emu.add_ended_batch(produced.lines))
    release = threading.Event()
    done = threading.Event()
    taken: list[str] = []
    emitted = [0]
    worst = [0]
    errors: list[Exception] = []

    def failed(error: Exception) -> None:
        errors.append(error)
        done.set()

    def consume(custom_id: str) -> None:
        release.wait(5)
        taken.append(custom_id)
        worst[0] = max(worst[0], emitted[0] - len(taken))

    with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        batches = client.messages.batches
        stream = _counting(batches.results(batch_id), emitted)
        stream.pipe(rbo.observe_on(EventLoopScheduler(), max_pending=MAX_PENDING)).subscribe(
            consume, failed, done.set
        )
        reached_far = produced.far.wait(HELD_FOR)
        # Meanwhile, another stream on the same loop was not held up.
        other = batches.list().pipe(ops.to_list()).run()
        release.set()
        assert done.wait(10)

    assert not reached_far, f"the server got to line {produced.count} while the consumer was held"
    assert [b.id for b in other] == [batch_id]  # the list went through meanwhile
    assert errors == []
    assert taken == [f"r{i}" for i in range(LINES)]  # every item once, in order
    assert worst[0] <= MAX_PENDING


def test_reactivex_observe_on_reads_everything_while_the_consumer_is_held(
    emu: EmulatorThread,
) -> None:
    produced = Produced()
    batch_id = produced.arm(emu.add_ended_batch(produced.lines))
    release = threading.Event()
    done = threading.Event()

    def held(_result: object) -> None:
        release.wait(5)

    with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        client.messages.batches.results(batch_id).pipe(
            ops.observe_on(EventLoopScheduler())
        ).subscribe(held, on_completed=done.set)
        reached_far = produced.far.wait(5)
        release.set()
        assert done.wait(10)

    assert reached_far  # unbounded: the whole file is parsed and queued


def test_iterate_holds_at_most_max_pending_items_for_a_slow_loop_body(
    emu: EmulatorThread,
) -> None:
    produced = Produced()
    batch_id = produced.arm(emu.add_ended_batch(produced.lines))
    emitted = [0]
    worst = 0
    taken = 0

    with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        stream = _counting(client.messages.batches.results(batch_id), emitted)
        for custom_id in rxbatches.iterate(stream, max_pending=MAX_PENDING):
            if taken == 0:
                reached_far = produced.far.wait(HELD_FOR)  # a slow first item
            assert custom_id == f"r{taken}"
            taken += 1
            worst = max(worst, emitted[0] - taken)

    assert not reached_far
    assert taken == LINES
    assert worst <= MAX_PENDING


async def test_aiterate_pauses_the_download_while_other_tasks_run(emu: EmulatorThread) -> None:
    produced = Produced()
    batch_id = produced.arm(emu.add_ended_batch(produced.lines))
    emitted = [0]
    worst = 0
    taken = 0
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        tick_task = asyncio.create_task(ticker())
        stream = _counting(client.messages.batches.results(batch_id), emitted)
        async for custom_id in rxbatches.aiterate(stream, max_pending=MAX_PENDING):
            if taken == 0:
                reached_far = await asyncio.to_thread(produced.far.wait, HELD_FOR)
                ticks_while_held = ticks
            assert custom_id == f"r{taken}"
            taken += 1
            worst = max(worst, emitted[0] - taken)
        tick_task.cancel()

    assert not reached_far
    assert ticks_while_held >= 20  # the loop kept running while the stream waited
    assert taken == LINES
    assert worst <= MAX_PENDING


QUICK_LINES = 2_000


@pytest.mark.parametrize("consumer", ["observe_on", "aiterate"])
async def test_a_fast_consumer_on_the_sources_own_loop_is_never_a_window_behind(
    emu: EmulatorThread, consumer: str
) -> None:
    # A consumer on the producing loop runs only when the source lets the loop run:
    # the source yields once a few items wait, so the queue stays short (a full window
    # of waiting items outlives young garbage collections, which costs more than the
    # handoff itself).
    lines = [result_line(f"r{i}", pad=1_000) + b"\n" for i in range(QUICK_LINES)]
    batch_id = emu.add_ended_batch(lines)
    emitted = [0]
    behind: list[int] = []
    async with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        stream = _counting(client.messages.batches.results(batch_id), emitted)
        if consumer == "aiterate":
            async for custom_id in rxbatches.aiterate(stream, max_pending=1000):
                behind.append(emitted[0] - len(behind))
                assert custom_id == f"r{len(behind) - 1}"
        else:
            scheduler = AsyncIOScheduler(asyncio.get_running_loop())
            done = asyncio.Event()
            stream.pipe(rbo.observe_on(scheduler, max_pending=1000)).subscribe(
                lambda _: behind.append(emitted[0] - len(behind)), on_completed=done.set
            )
            await asyncio.wait_for(done.wait(), 10)

    assert len(behind) == QUICK_LINES
    # 16 waiting items let the consumer run; a slice of the body (8 KiB) adds its lines.
    assert max(behind) < 64, max(behind)
