"""``rxbatches.iterate`` and ``rxbatches.to_list``: every item, in order, on the caller's thread.

The client tests run a real :class:`~rxbatches.emulator.EmulatorThread` over sockets on
127.0.0.1 (these helpers block, so the tests are synchronous and the emulator has its
own thread); pure Rx behaviour uses reactivex's own sources.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import reactivex
import reactivex.operators as ops
from reactivex import Observable, abc
from reactivex.disposable import Disposable

import rxbatches
from rxbatches import Client, MessageBatch, NotFoundError
from rxbatches.emulator import EmulatorThread, Fault
from tests.conftest import API_KEY


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(request_latency=0.001) as emulator:
        yield emulator


@pytest.fixture
def client(emu: EmulatorThread) -> Iterator[Client]:
    with Client(api_key=API_KEY, base_url=emu.base_url) as c:
        yield c


def _requests(n: int) -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"r{i:03d}",
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": f"question {i}"}],
            },
        }
        for i in range(n)
    ]


def _ended_batch(emu: EmulatorThread, client: Client, n: int) -> str:
    batch: MessageBatch = client.messages.batches.create(_requests(n)).run()
    emu.wait_for(lambda: emu.emulator.batch(batch.id).processing_status == "ended")
    return batch.id


def _counting(source: Observable[int]) -> tuple[Observable[int], list[int]]:
    """``source``, and a list that gets one entry per subscription and a 1 per dispose."""
    log: list[int] = []

    def subscribe(
        observer: abc.ObserverBase[int], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        log.append(0)
        inner = source.subscribe(observer, scheduler=scheduler)

        def dispose() -> None:
            log.append(1)
            inner.dispose()

        return Disposable(dispose)

    return reactivex.create(subscribe), log


# --- the client over the emulator ---------------------------------------------------------


def test_iterate_yields_every_result_in_the_order_of_the_file(
    emu: EmulatorThread, client: Client
) -> None:
    batch_id = _ended_batch(emu, client, 60)

    ids = [
        r.custom_id for r in rxbatches.iterate(client.messages.batches.results_streaming(batch_id))
    ]

    assert ids == [f"r{i:03d}" for i in range(60)]
    # The server counts the stream once its handler ends, which may be just after the
    # client has read the last byte.
    emu.wait_for(lambda: emu.stats.results_completed == 1)


def test_to_list_of_a_list_on_an_empty_workspace_is_empty(client: Client) -> None:
    assert rxbatches.to_list(client.messages.batches.list()) == []


def test_to_list_takes_every_item_where_run_takes_only_the_last(
    emu: EmulatorThread, client: Client
) -> None:
    ids = [_ended_batch(emu, client, 1) for _ in range(3)]
    batches = client.messages.batches

    listed = rxbatches.to_list(batches.list(limit=2))

    assert [b.id for b in listed] == ids[::-1]  # newest first, over two pages
    assert batches.list(limit=2).run().id == ids[0]


def test_breaking_out_of_the_loop_aborts_the_download(emu: EmulatorThread, client: Client) -> None:
    batch_id = _ended_batch(emu, client, 20)
    emu.faults.script("results", Fault.slow(chunk_bytes=64, interval=0.01))  # about 2 s in all

    taken = []
    for response in rxbatches.iterate(client.messages.batches.results_streaming(batch_id)):
        taken.append(response.custom_id)
        break

    assert taken == ["r000"]
    emu.wait_for(lambda: emu.stats.results_aborted == 1)
    assert emu.stats.results_completed == 0


def test_closing_the_generator_aborts_the_download(emu: EmulatorThread, client: Client) -> None:
    batch_id = _ended_batch(emu, client, 20)
    emu.faults.script("results", Fault.slow(chunk_bytes=64, interval=0.01))
    results = rxbatches.iterate(client.messages.batches.results_streaming(batch_id))

    assert next(results).custom_id == "r000"
    results.close()

    emu.wait_for(lambda: emu.stats.results_aborted == 1)
    assert emu.stats.results_completed == 0


def test_a_timeout_raises_and_aborts_the_download(emu: EmulatorThread, client: Client) -> None:
    batch_id = _ended_batch(emu, client, 20)
    emu.faults.script("results", Fault.slow(chunk_bytes=64, interval=0.01))

    with pytest.raises(TimeoutError, match=r"had not ended 0\.3 s after rxbatches\.to_list"):
        rxbatches.to_list(client.messages.batches.results_streaming(batch_id), timeout=0.3)

    emu.wait_for(lambda: emu.stats.results_aborted == 1)


def test_an_api_error_is_raised_in_the_callers_thread(client: Client) -> None:
    retrieve = client.messages.batches.retrieve("msgbatch_nope")

    with pytest.raises(NotFoundError) as caught:
        rxbatches.to_list(retrieve)

    # Caught here, in this thread, though the request failed on the client's loop thread.
    assert caught.value.status_code == 404


def test_a_worker_thread_of_a_running_loop_may_block(client: Client) -> None:
    # The way out the RuntimeError suggests: block another thread, await it on the loop.
    async def main() -> list[MessageBatch]:
        return await asyncio.to_thread(rxbatches.to_list, client.messages.batches.list())

    assert asyncio.run(main()) == []


# --- pure Rx -------------------------------------------------------------------------------


def test_items_arrive_in_order_from_another_thread() -> None:
    source = reactivex.from_iterable(range(5000)).pipe(
        ops.subscribe_on(reactivex.scheduler.NewThreadScheduler())
    )

    assert rxbatches.to_list(source) == list(range(5000))


def test_an_empty_observable_gives_an_empty_list_and_an_empty_loop() -> None:
    assert rxbatches.to_list(reactivex.empty()) == []
    assert list(rxbatches.iterate(reactivex.empty())) == []


def test_items_before_an_error_are_yielded_then_the_same_error_is_raised() -> None:
    error = ValueError("boom")
    items = rxbatches.iterate(reactivex.concat(reactivex.of(1, 2), reactivex.throw(error)))

    assert next(items) == 1
    assert next(items) == 2
    with pytest.raises(ValueError, match="boom") as caught:
        next(items)
    assert caught.value is error


def test_timeout_counts_from_the_call_and_disposes() -> None:
    source, log = _counting(reactivex.concat(reactivex.of(1), reactivex.never()))
    items = rxbatches.iterate(source, timeout=0.05)

    assert next(items) == 1
    with pytest.raises(TimeoutError):
        next(items)
    assert log == [0, 1]


def test_nothing_is_subscribed_before_the_first_next() -> None:
    source, log = _counting(reactivex.of(1, 2, 3))

    items = rxbatches.iterate(source)
    assert log == []

    assert next(items) == 1
    assert log.count(0) == 1
    assert list(items) == [2, 3]
    assert log.count(0) == 1


def test_leaving_the_loop_early_disposes_once() -> None:
    source, log = _counting(reactivex.concat(reactivex.of(1, 2, 3), reactivex.never()))

    for _ in rxbatches.iterate(source):
        break

    assert log == [0, 1]


@pytest.mark.parametrize("bad", [-1, float("nan"), True, "1"])
def test_a_bad_timeout_is_refused_by_the_call(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"^timeout: must be None or a number of seconds >= 0"):
        rxbatches.iterate(reactivex.of(1), timeout=bad)


def test_no_timeout_waits_as_none_does() -> None:
    # A deadline at infinity once overflowed the queue's wait (OverflowError).
    assert rxbatches.to_list(reactivex.of(1, 2), timeout=rxbatches.NO_TIMEOUT) == [1, 2]


def test_a_running_event_loop_is_refused_with_a_hint() -> None:
    async def main() -> None:
        rxbatches.to_list(reactivex.of(1))

    with pytest.raises(RuntimeError, match=r"rxbatches\.to_list\(\) blocks.*await observable"):
        asyncio.run(main())


def test_a_generator_made_outside_a_loop_is_refused_when_advanced_inside_one() -> None:
    items = rxbatches.iterate(reactivex.of(1))

    async def main() -> None:
        next(items)

    with pytest.raises(RuntimeError, match=r"rxbatches\.iterate\(\) blocks"):
        asyncio.run(main())
