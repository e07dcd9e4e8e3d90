"""Any caller: asyncio, plain synchronous code, other threads; and a clean lifecycle."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import Iterator

import pytest
from reactivex import operators as ops
from reactivex.scheduler import EventLoopScheduler

from rxbatches import APIConnectionError, Client, ClientClosedError, MessageBatch
from rxbatches.emulator import Emulator, EmulatorThread, Fault
from tests.conftest import API_KEY

from .helpers import Collector, make_requests, result_line


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    """An emulator on its own thread, reachable from synchronous tests."""
    with EmulatorThread(request_latency=0.001) as emu:
        yield emu


def _background_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "rxbatches-loop"]


def test_run_from_synchronous_code_returns_the_item(emu: EmulatorThread) -> None:
    with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        batch = client.messages.batches.create(make_requests(2)).run()
        got = client.messages.batches.retrieve(batch.id).run()

    assert got.id == batch.id
    assert emu.stats.requests["create"] == 1


def test_items_arrive_on_the_background_loop_thread(emu: EmulatorThread) -> None:
    batch_id = emu.add_ended_batch([result_line(f"r{i}") + b"\n" for i in range(3)])
    with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        collector: Collector[object] = Collector()
        collector.subscribe(client.messages.batches.results_streaming(batch_id))
        assert collector.done_sync.wait(10)

    assert len(collector.items) == 3
    assert set(collector.threads) == {"rxbatches-loop"}
    assert collector.completed


def test_observe_on_moves_items_to_another_thread(emu: EmulatorThread) -> None:
    batch_id = emu.add_ended_batch([result_line("a") + b"\n"])
    ui = EventLoopScheduler(
        thread_factory=lambda target: threading.Thread(target=target, name="ui")
    )
    with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        collector: Collector[object] = Collector()
        collector.subscribe(client.messages.batches.retrieve(batch_id).pipe(ops.observe_on(ui)))
        assert collector.done_sync.wait(10)
    ui.dispose()

    assert collector.threads == ["ui"]


def test_subscribing_from_several_plain_threads_at_once(emu: EmulatorThread) -> None:
    batch_id = emu.add_ended_batch([])
    results: list[MessageBatch] = []
    errors: list[BaseException] = []
    with Client(api_key=API_KEY, base_url=emu.base_url) as client:

        def work() -> None:
            try:
                results.append(client.messages.batches.retrieve(batch_id).run())
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

    assert errors == []
    assert [b.id for b in results] == [batch_id] * 8
    assert emu.stats.requests["retrieve"] == 8


def test_with_block_closes_the_background_thread(emu: EmulatorThread) -> None:
    before = len(_background_threads())
    with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        client.messages.batches.list().pipe(ops.to_list()).run()
        assert len(_background_threads()) == before + 1

    assert client.closed
    assert len(_background_threads()) == before


def test_no_thread_is_started_before_a_synchronous_subscription(emu: EmulatorThread) -> None:
    before = len(_background_threads())
    with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        source = client.messages.batches.list()
        assert len(_background_threads()) == before
        source.pipe(ops.to_list()).run()


def test_a_closed_client_fails_new_subscriptions_in_on_error(emu: EmulatorThread) -> None:
    client = Client(api_key=API_KEY, base_url=emu.base_url)
    client.close()
    client.close()  # twice is fine

    with pytest.raises(ClientClosedError, match="closed"):
        client.messages.batches.list().run()
    assert sum(emu.stats.requests.values()) == 0
    assert client.closed


def test_close_aborts_a_request_in_flight_with_an_error_not_a_hang(emu: EmulatorThread) -> None:
    batch_id = emu.add_ended_batch([])
    emu.faults.script("retrieve", Fault.delay(5.0))
    client = Client(api_key=API_KEY, base_url=emu.base_url)
    collector: Collector[object] = Collector()
    collector.subscribe(client.messages.batches.retrieve(batch_id))
    emu.wait_for(lambda: emu.stats.requests["retrieve"] == 1)

    client.close()

    assert collector.done_sync.wait(5)
    assert isinstance(collector.error, APIConnectionError)
    assert "closed" in str(collector.error)


def test_run_inside_a_running_loop_uses_the_background_loop_instead_of_deadlocking(
    emu: EmulatorThread,
) -> None:
    # A notebook cell runs on the kernel's loop thread: run() blocks that thread, so the
    # request must not be scheduled on that loop.
    batch_id = emu.add_ended_batch([])

    async def cell(client: Client) -> MessageBatch:
        return client.messages.batches.retrieve(batch_id).run()

    with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        got = asyncio.run(cell(client))

    assert got.id == batch_id


def test_a_client_used_across_asyncio_run_calls_leaves_no_unclosed_session(
    emu: EmulatorThread,
) -> None:
    batch_id = emu.add_ended_batch([])
    client = Client(api_key=API_KEY, base_url=emu.base_url)

    async def use() -> str:
        return (await client.messages.batches.retrieve(batch_id)).id

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = asyncio.run(use())  # each run has its own loop, so its own session,
        second = asyncio.run(use())  # closed when that loop shuts down
        gc.collect()
    client.close()

    assert first == second == batch_id


async def test_inside_asyncio_items_arrive_on_the_loop_thread(emulator: Emulator) -> None:
    batch_id = emulator.add_ended_batch([result_line("a") + b"\n"])
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        collector: Collector[object] = Collector()
        collector.subscribe(client.messages.batches.results_streaming(batch_id))
        await collector.wait()

    assert collector.threads == [threading.current_thread().name]
    assert _background_threads() == []


async def test_await_returns_the_last_item(emulator: Emulator) -> None:
    batch_id = emulator.add_ended_batch([result_line("a") + b"\n", result_line("b") + b"\n"])
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        last = await client.messages.batches.results_streaming(batch_id)
        batch = await client.messages.batches.retrieve(batch_id)

    assert last.custom_id == "b"
    assert batch.id == batch_id


async def test_a_sync_with_block_inside_asyncio_via_aclose(emulator: Emulator) -> None:
    client = Client(api_key=API_KEY, base_url=emulator.base_url)
    await client.messages.batches.list().pipe(ops.to_list())
    await client.aclose()
    await client.aclose()

    assert client.closed


def test_the_background_thread_stops_when_a_forgotten_client_is_collected(
    emu: EmulatorThread,
) -> None:
    before = len(_background_threads())
    client = Client(api_key=API_KEY, base_url=emu.base_url)
    client.messages.batches.list().pipe(ops.to_list()).run()
    assert len(_background_threads()) == before + 1

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del client
        gc.collect()

    assert len(_background_threads()) == before
