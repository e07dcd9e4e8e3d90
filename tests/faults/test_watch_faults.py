"""watch through faults: transient ones ridden over, a spent budget typed, a fresh batch's 404."""

from __future__ import annotations

from collections import Counter

import pytest
from reactivex import operators as ops

import rxbatches.operators as rbo
from rxbatches import (
    BatchService,
    Client,
    InternalServerError,
    MessageBatch,
    NotFoundError,
    OverloadedError,
    RequestOptions,
)
from rxbatches.emulator import Emulator, Fault, ManualClock
from tests.client.helpers import Collector, make_requests, outcome
from tests.conftest import API_KEY

HTML_502 = Fault.html(502, headers={"retry-after-ms": "1"})


async def test_watch_completes_through_random_transient_faults(
    frozen: tuple[Emulator, ManualClock, BatchService],
) -> None:
    emu, clock, batches = frozen
    batch = await batches.create(make_requests(2))
    emu.faults.randomly("retrieve", 0.25, Fault.status(529, retry_after_ms=1))
    emu.faults.randomly("retrieve", 0.1, Fault.status(503, retry_after=0.001))
    emu.faults.randomly("retrieve", 0.1, HTML_502)
    # No retry-after on a lost connection: the backoff (0.4 s or more) applies, so rarer.
    emu.faults.randomly("retrieve", 0.04, Fault.reset())
    emu.faults.randomly("retrieve", 0.04, Fault.truncate(5))
    collector: Collector[MessageBatch] = Collector()

    def on_next(snapshot: MessageBatch) -> None:
        collector.on_next(snapshot)
        if len(collector.items) == 10:
            clock.advance(3600)

    # A one-millisecond backoff floor is not configurable; max_retries covers the run.
    batches.watch(batch.id, interval=0.001, options=RequestOptions(max_retries=6)).subscribe(
        on_next, collector.on_error, collector.on_completed
    )
    await collector.wait()

    assert collector.error is None
    assert collector.completed
    assert [s.ended for s in collector.items] == [False] * 10 + [True]
    assert emu.faults.injected["retrieve"] >= 3


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.status(529, retry_after_ms=1), OverloadedError),
        (HTML_502, InternalServerError),
    ],
)
async def test_watch_fails_with_the_typed_error_once_the_budget_is_spent(
    frozen: tuple[Emulator, ManualClock, BatchService], fault: Fault, error: type[Exception]
) -> None:
    emu, _, batches = frozen
    batch = await batches.create(make_requests(1))
    emu.faults.script("retrieve", fault, fault)

    result = await outcome(
        batches.watch(batch.id, interval=0.001, options=RequestOptions(max_retries=1))
    )

    assert result.items == []
    assert isinstance(result.error, error)
    assert emu.stats.requests["retrieve"] == 2


async def test_an_html_error_page_becomes_a_status_error_with_the_page_text(
    frozen: tuple[Emulator, ManualClock, BatchService],
) -> None:
    emu, _, batches = frozen
    emu.faults.script("retrieve", Fault.html(502))

    result = await outcome(batches.retrieve("msgbatch_x", options=RequestOptions(max_retries=0)))

    assert isinstance(result.error, InternalServerError)
    assert result.error.status_code == 502
    assert "502 Bad Gateway" in result.error.message


async def test_watch_asks_again_while_a_just_created_batch_is_not_found() -> None:
    clock = ManualClock()
    async with (
        Emulator(clock=clock, propagation_delay=5.0) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        batches = client.messages.batches
        batch = await batches.create(make_requests(2))
        collector: Collector[MessageBatch] = Collector()
        collector.subscribe(batches.watch(batch.id, interval=0.001))
        await emu.wait_for(lambda: emu.stats.requests["retrieve"] >= 2)
        assert collector.items == []
        clock.advance(5.0)  # visible now, and every request is done
        await collector.wait()

    assert collector.error is None
    assert [s.ended for s in collector.items] == [True]
    assert emu.stats.requests["retrieve"] >= 3


async def test_watch_reports_not_found_once_the_grace_window_is_over() -> None:
    async with (
        Emulator(clock=ManualClock(), propagation_delay=5.0) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        batch = await client.messages.batches.create(make_requests(1))
        result = await outcome(
            client.messages.batches.watch(batch.id, interval=0.001, not_found_grace=0.15)
        )

    assert isinstance(result.error, NotFoundError)
    assert result.items == []
    assert emu.stats.requests["retrieve"] >= 2


async def test_a_404_after_a_snapshot_is_reported_at_once(
    frozen: tuple[Emulator, ManualClock, BatchService],
) -> None:
    emu, _, batches = frozen
    batch = await batches.create(make_requests(1))
    collector: Collector[MessageBatch] = Collector()

    def on_next(snapshot: MessageBatch) -> None:
        collector.on_next(snapshot)
        emu.faults.script("retrieve", Fault.status(404))

    batches.watch(batch.id, interval=0.001).subscribe(
        on_next, collector.on_error, collector.on_completed
    )
    await collector.wait()

    assert len(collector.items) == 1
    assert isinstance(collector.error, NotFoundError)
    assert emu.stats.requests["retrieve"] == 2


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf"), True, "2"])
async def test_an_invalid_not_found_grace_is_rejected_at_the_call(
    frozen: tuple[Emulator, ManualClock, BatchService], value: object
) -> None:
    _, _, batches = frozen
    with pytest.raises(ValueError, match="not_found_grace"):
        batches.watch("msgbatch_x", not_found_grace=value)  # type: ignore[arg-type]


async def test_a_whole_job_survives_faults_on_every_endpoint_and_loses_nothing() -> None:
    async with (
        Emulator(request_latency=0.001, propagation_delay=0.05, fault_seed=4) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url, max_retries=5) as client,
    ):
        emu.faults.randomly("create", 0.3, Fault.status(529, retry_after_ms=1))
        emu.faults.randomly("retrieve", 0.3, Fault.status(503, retry_after_ms=1))
        emu.faults.randomly("retrieve", 0.1, Fault.reset())
        emu.faults.randomly("results", 0.5, Fault.truncate_lines(7))
        job = client.messages.batches.run(
            make_requests(60), interval=0.01, max_requests_per_batch=20
        )
        results = await job.pipe(rbo.results(), ops.to_list())

    counts = Counter(r.custom_id for r in results)
    assert set(counts) == {f"r{i}" for i in range(60)}
    assert set(counts.values()) == {1}
    assert len(emu.batch_ids()) == 3  # no duplicate batch
    assert emu.faults.injected["results"] >= 1
