"""The one close routine: every subscription ends once, nothing leaks, nothing is retried.

Each test here fails on the code before the runtime (commit 96b6d13): subscriptions
racing close() were left without any notification, aclose() let a request in flight
be retried on a closed session and end in a bare RuntimeError, and aclose() leaked the
session of a loop that was not running.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import reactivex
from reactivex import operators as ops

from rxbatches import APIConnectionError, Client, ClientClosedError
from rxbatches.emulator import EmulatorThread, Fault
from tests.conftest import API_KEY


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    """An emulator on its own thread, reachable from any thread of the test."""
    with EmulatorThread(request_latency=0.001) as emu:
        yield emu


class _Ends:
    """Counts the terminal notifications of many subscriptions, from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ends: dict[int, list[str]] = {}
        self.subscribed = 0
        self.all_ended = threading.Event()
        self.closed_at: float | None = None
        self.last_end = 0.0

    def observer(self, key: int) -> tuple[Any, Any, Any]:
        with self.lock:
            self.ends[key] = []
            self.subscribed += 1

        def end(kind: str) -> None:
            with self.lock:
                self.ends[key].append(kind)
                self.last_end = time.monotonic()
                if all(self.ends.values()) and self.subscribed == self.expected:
                    self.all_ended.set()

        return (
            lambda _item: None,
            lambda exc: end(type(exc).__name__),
            lambda: end("completed"),
        )

    expected = -1


def test_subscriptions_racing_close_from_three_threads_each_end_exactly_once(
    emu: EmulatorThread,
) -> None:
    batch_id = emu.add_ended_batch([])
    client = Client(api_key=API_KEY, base_url=emu.base_url, max_retries=0)
    retrieve = client.messages.batches.retrieve(batch_id)
    ends = _Ends()
    per_thread = 1_400
    ends.expected = 3 * per_thread
    halfway = threading.Barrier(4)

    def subscribe_many(offset: int) -> None:
        for i in range(per_thread):
            if i == per_thread // 3:
                halfway.wait()
            retrieve.subscribe(*ends.observer(offset + i))

    threads = [threading.Thread(target=subscribe_many, args=(n * per_thread,)) for n in range(3)]
    for thread in threads:
        thread.start()
    halfway.wait()  # every thread is subscribing: close in the middle of it
    client.close()
    closed_at = time.monotonic()
    for thread in threads:
        thread.join(5)

    assert ends.all_ended.wait(5), "some subscriptions never ended"
    with ends.lock:
        silent = [k for k, v in ends.ends.items() if not v]
        twice = [k for k, v in ends.ends.items() if len(v) > 1]
        kinds = {kind for v in ends.ends.values() for kind in v}
        last_end = ends.last_end
    assert ends.subscribed == 4_200
    assert silent == []
    assert twice == []
    assert kinds <= {"completed", "ClientClosedError"}
    assert "ClientClosedError" in kinds  # the close did cut some of them
    assert last_end - closed_at < 5.0


async def test_aclose_aborts_a_retrieve_in_flight_with_client_closed_error(
    emu: EmulatorThread,
) -> None:
    batch_id = emu.add_ended_batch([])
    emu.faults.script("retrieve", Fault.delay(3.0))
    client = Client(api_key=API_KEY, base_url=emu.base_url, max_retries=5)
    failed: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
    client.messages.batches.retrieve(batch_id).subscribe(
        on_error=failed.set_result, on_completed=lambda: None
    )
    await _on_the_wire(emu)

    started = time.monotonic()
    await client.aclose()
    error = await asyncio.wait_for(failed, 0.5)
    elapsed = time.monotonic() - started

    assert isinstance(error, ClientClosedError), repr(error)
    assert isinstance(error, APIConnectionError)
    assert elapsed < 0.5
    assert emu.stats.requests["retrieve"] == 1  # not retried on the closed session


async def test_close_called_on_the_running_loop_ends_a_request_in_flight(
    emu: EmulatorThread,
) -> None:
    batch_id = emu.add_ended_batch([])
    emu.faults.script("retrieve", Fault.delay(3.0))
    client = Client(api_key=API_KEY, base_url=emu.base_url)
    source = client.messages.batches.retrieve(batch_id)
    task = asyncio.ensure_future(source.pipe(ops.to_list()))  # awaits the Observable
    await _on_the_wire(emu)

    client.close()  # the synchronous close, on this very loop

    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(task, 1.0)


async def test_a_subscription_after_aclose_fails_at_once_and_sends_nothing(
    emu: EmulatorThread,
) -> None:
    client = Client(api_key=API_KEY, base_url=emu.base_url)
    await client.aclose()
    errors: list[BaseException] = []

    client.messages.batches.list().subscribe(on_error=errors.append)

    assert len(errors) == 1
    assert isinstance(errors[0], ClientClosedError)
    assert sum(emu.stats.requests.values()) == 0


def test_aclose_closes_the_session_of_a_loop_that_is_not_running(emu: EmulatorThread) -> None:
    batch_id = emu.add_ended_batch([])
    client = Client(api_key=API_KEY, base_url=emu.base_url)
    idle = asyncio.new_event_loop()
    try:
        # A session is made on `idle`, which then stops running (but is not closed).
        batch = idle.run_until_complete(_await(client.messages.batches.retrieve(batch_id)))
        assert batch.id == batch_id
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            asyncio.run(client.aclose())
            gc.collect()
        leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
        assert leaks == []
        assert client.closed
    finally:
        idle.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_close_from_inside_on_next_on_the_background_thread_ends_the_others(
    emu: EmulatorThread,
) -> None:
    batch_id = emu.add_ended_batch([])
    emu.faults.script("retrieve", Fault.delay(0.0), Fault.delay(3.0))
    client = Client(api_key=API_KEY, base_url=emu.base_url)
    slow_ended = threading.Event()
    slow_errors: list[BaseException] = []
    batches = client.messages.batches

    def on_slow_error(exc: BaseException) -> None:
        slow_errors.append(exc)
        slow_ended.set()

    batches.retrieve(batch_id).subscribe(lambda _b: client.close())
    batches.retrieve(batch_id).subscribe(on_error=on_slow_error, on_completed=slow_ended.set)

    assert slow_ended.wait(5)
    assert len(slow_errors) == 1
    assert isinstance(slow_errors[0], ClientClosedError)


def test_every_close_path_is_one_routine_that_is_safe_to_repeat(emu: EmulatorThread) -> None:
    with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        assert client.messages.batches.list().pipe(ops.to_list()).run() == []
    client.close()
    asyncio.run(client.aclose())

    async def in_asyncio() -> None:
        async with Client(api_key=API_KEY, base_url=emu.base_url) as other:
            assert await other.messages.batches.list().pipe(ops.to_list()) == []
        await other.aclose()
        other.close()

    asyncio.run(in_asyncio())


async def _on_the_wire(emu: EmulatorThread) -> None:
    """Wait (off this loop, which must keep sending) until the emulator has the retrieve."""
    await asyncio.to_thread(emu.wait_for, lambda: emu.stats.requests.get("retrieve", 0) > 0)


async def _await(source: reactivex.Observable[Any]) -> Any:
    return await source
