"""Cold Observables: nothing before subscribe, one request per subscription, dispose aborts."""

from __future__ import annotations

import asyncio

from reactivex import Observable
from reactivex import operators as ops

from rxbatches import BatchService, Client, InternalServerError, RequestOptions
from rxbatches.emulator import Emulator, Fault
from tests.conftest import API_KEY

from .helpers import Collector, big_results, make_requests, outcome, result_line


async def test_no_request_is_sent_before_subscribe(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch([result_line("a") + b"\n"])
    made: list[Observable[object]] = [
        batches.create(make_requests(1)),
        batches.retrieve(batch_id),
        batches.list(),
        batches.list_pages(),
        batches.cancel(batch_id),
        batches.delete(batch_id),
        batches.results_streaming(batch_id),
        batches.watch(batch_id),
        batches.with_raw_response.retrieve(batch_id),
    ]
    # Let the loop run: a hot implementation would have started its request by now.
    await batches.retrieve(batch_id)

    assert len(made) == 9
    assert dict(emulator.stats.requests) == {"retrieve": 1}


async def test_each_subscription_sends_its_own_request(
    batches: BatchService, emulator: Emulator
) -> None:
    source = batches.create(make_requests(1))
    first = await source
    second = await source

    assert first.id != second.id
    assert emulator.stats.requests["create"] == 2
    assert len(emulator.batch_ids()) == 2


async def test_ops_retry_resubscribes_and_so_reissues_the_request(
    batches: BatchService, emulator: Emulator
) -> None:
    created = await batches.create(make_requests(1))
    emulator.faults.script("retrieve", Fault.status(500), Fault.status(500))
    no_retries = RequestOptions(max_retries=0)

    got = await batches.retrieve(created.id, options=no_retries).pipe(ops.retry(3))

    assert got.id == created.id
    assert emulator.stats.requests["retrieve"] == 3


async def test_ops_retry_gives_up_after_n_subscriptions(
    batches: BatchService, emulator: Emulator
) -> None:
    created = await batches.create(make_requests(1))
    emulator.faults.script("retrieve", *[Fault.status(500)] * 3)
    source = batches.retrieve(created.id, options=RequestOptions(max_retries=0))

    result = await outcome(source.pipe(ops.retry(2)))

    assert isinstance(result.error, InternalServerError)
    assert emulator.stats.requests["retrieve"] == 2


async def test_dispose_mid_results_closes_the_connection_on_the_server() -> None:
    async with (
        Emulator() as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        batch_id = emu.add_ended_batch(big_results())
        collector: Collector[object] = Collector()
        first = asyncio.Event()
        after_dispose: list[object] = []
        disposed = False

        def on_next(item: object) -> None:
            if disposed:
                after_dispose.append(item)
            collector.on_next(item)
            first.set()

        subscription = client.messages.batches.results_streaming(batch_id).subscribe(
            on_next, collector.on_error, collector.on_completed
        )
        await first.wait()
        subscription.dispose()
        disposed = True

        await emu.wait_for(lambda: emu.stats.results_aborted == 1)
        # The client is still usable after the abort.
        await client.messages.batches.retrieve(batch_id)

        assert after_dispose == []
        assert collector.error is None
        assert not collector.completed
        assert 0 < len(collector.items) < 8000
        assert emu.stats.results_completed == 0
        assert emu.stats.results_open == 0


async def test_take_ends_a_results_stream_early_and_aborts_the_download() -> None:
    async with (
        Emulator() as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        batch_id = emu.add_ended_batch(big_results())
        items = await client.messages.batches.results_streaming(batch_id).pipe(
            ops.take(3), ops.to_list()
        )
        await emu.wait_for(lambda: emu.stats.results_aborted == 1)

    assert [i.custom_id for i in items] == ["r0", "r1", "r2"]


async def test_dispose_during_a_slow_request_aborts_it_quietly(
    batches: BatchService, emulator: Emulator
) -> None:
    created = await batches.create(make_requests(1))
    emulator.faults.script("retrieve", Fault.delay(2.0))
    collector: Collector[object] = Collector()

    subscription = collector.subscribe(batches.retrieve(created.id))
    await emulator.wait_for(lambda: emulator.stats.requests["retrieve"] == 1)
    subscription.dispose()
    # The next request is answered at once: the aborted one did not hold anything up.
    again = await asyncio.wait_for(batches.retrieve(created.id), 1.5)

    assert again.id == created.id
    assert collector.items == []
    assert collector.error is None
    assert not collector.completed


async def test_dispose_right_after_subscribe_sends_nothing(
    batches: BatchService, emulator: Emulator
) -> None:
    collector: Collector[object] = Collector()
    collector.subscribe(batches.create(make_requests(1))).dispose()
    await batches.list().pipe(ops.to_list())  # lets the loop run past the aborted task

    assert emulator.stats.requests["create"] == 0
    assert collector.items == []
    assert collector.error is None


async def test_take_on_list_stops_fetching_pages(batches: BatchService, emulator: Emulator) -> None:
    for _ in range(6):
        emulator.add_ended_batch([])
    first = await batches.list(limit=2).pipe(ops.take(2), ops.to_list())

    assert [b.id for b in first] == emulator.batch_ids()[:2]
    assert emulator.stats.requests["list"] == 1


async def test_cancelling_an_await_disposes_the_subscription(
    batches: BatchService, emulator: Emulator
) -> None:
    created = await batches.create(make_requests(1))
    emulator.faults.script("retrieve", Fault.delay(2.0))

    async def fetch() -> object:
        return await batches.retrieve(created.id)

    task = asyncio.ensure_future(fetch())
    await emulator.wait_for(lambda: emulator.stats.requests["retrieve"] == 1)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=1.0)

    assert task in done
    assert task.cancelled()
    assert (await batches.retrieve(created.id)).id == created.id
