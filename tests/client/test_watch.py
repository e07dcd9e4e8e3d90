"""watch: a snapshot now and after every interval, one poll at a time, done once ended."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest
from reactivex import operators as ops

from rxbatches import BatchService, Client, MessageBatch, NotFoundError, OverloadedError
from rxbatches.emulator import Emulator, Fault, ManualClock
from tests.conftest import API_KEY

from .helpers import Collector, make_requests, outcome


@pytest.fixture
async def frozen() -> AsyncIterator[tuple[Emulator, BatchService]]:
    """An emulator on a manual clock (batches end only when a test advances it)."""
    async with (
        Emulator(clock=ManualClock()) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        yield emu, client.messages.batches


def _clock(emu: Emulator) -> ManualClock:
    assert isinstance(emu.clock, ManualClock)
    return emu.clock


async def test_watch_completes_right_after_the_ended_snapshot(
    frozen: tuple[Emulator, BatchService],
) -> None:
    emu, batches = frozen
    batch = await batches.create(make_requests(2))
    collector: Collector[MessageBatch] = Collector()

    def on_next(snapshot: MessageBatch) -> None:
        collector.on_next(snapshot)
        if len(collector.items) == 3:
            _clock(emu).advance(3600)  # every request is done: the next poll sees `ended`

    batches.watch(batch.id, interval=0.001).subscribe(
        on_next, collector.on_error, collector.on_completed
    )
    await collector.wait()

    statuses = [s.processing_status for s in collector.items]
    assert statuses == ["in_progress", "in_progress", "in_progress", "ended"]
    assert collector.completed
    assert emu.stats.requests["retrieve"] == 4


async def test_watch_of_an_ended_batch_emits_one_snapshot(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch([])

    result = await outcome(batches.watch(batch_id))  # default 5 s interval: never reached

    assert [s.id for s in result.items] == [batch_id]
    assert result.completed
    assert emulator.stats.requests["retrieve"] == 1


async def test_watch_never_overlaps_polls_a_slow_answer_delays_the_next(
    frozen: tuple[Emulator, BatchService],
) -> None:
    emu, batches = frozen
    batch = await batches.create(make_requests(1))
    emu.faults.script("retrieve", *[Fault.delay(0.05)] * 3)
    seen_at_emit: list[int] = []

    def on_next(_: MessageBatch) -> None:
        seen_at_emit.append(emu.stats.requests["retrieve"])
        if len(seen_at_emit) == 4:
            _clock(emu).advance(3600)

    collector: Collector[MessageBatch] = Collector()
    batches.watch(batch.id, interval=0.001).subscribe(
        on_next, collector.on_error, collector.on_completed
    )
    await collector.wait()

    # With an interval far below the answer time, overlapping polls would have sent
    # more requests than snapshots by the time each snapshot is emitted.
    assert seen_at_emit == [1, 2, 3, 4, 5]
    assert collector.completed


async def test_watch_rides_over_transient_failures(
    frozen: tuple[Emulator, BatchService],
) -> None:
    emu, batches = frozen
    batch = await batches.create(make_requests(1))
    emu.faults.script(
        "retrieve",
        Fault.status(529, headers={"retry-after-ms": "1"}),
        Fault.reset(),
    )
    collector: Collector[MessageBatch] = Collector()

    def on_next(snapshot: MessageBatch) -> None:
        collector.on_next(snapshot)
        _clock(emu).advance(3600)

    batches.watch(batch.id, interval=0.001).subscribe(
        on_next, collector.on_error, collector.on_completed
    )
    await collector.wait()

    assert [s.ended for s in collector.items] == [False, True]
    assert collector.error is None
    assert emu.faults.pending("retrieve") == 0


async def test_watch_ends_in_on_error_once_retries_are_exhausted(
    frozen: tuple[Emulator, BatchService],
) -> None:
    emu, batches = frozen
    batch = await batches.create(make_requests(1))
    collector: Collector[MessageBatch] = Collector()

    def on_next(snapshot: MessageBatch) -> None:
        collector.on_next(snapshot)
        emu.faults.script("retrieve", *[Fault.status(529, headers={"retry-after-ms": "1"})] * 3)

    batches.watch(batch.id, interval=0.001).subscribe(
        on_next, collector.on_error, collector.on_completed
    )
    await collector.wait()

    assert len(collector.items) == 1
    assert isinstance(collector.error, OverloadedError)
    assert emu.stats.requests["retrieve"] == 4


async def test_watch_of_an_unknown_batch_fails_with_not_found_once_the_grace_is_over(
    batches: BatchService, emulator: Emulator
) -> None:
    result = await outcome(batches.watch("msgbatch_nope", interval=0.001, not_found_grace=0.2))

    assert result.items == []
    assert isinstance(result.error, NotFoundError)
    assert emulator.stats.requests["retrieve"] >= 3  # at 0, 0.1 and 0.2 s


async def test_watch_without_grace_reports_a_404_at_once(
    batches: BatchService, emulator: Emulator
) -> None:
    result = await outcome(batches.watch("msgbatch_nope", not_found_grace=0))

    assert isinstance(result.error, NotFoundError)
    assert emulator.stats.requests["retrieve"] == 1


async def test_take_stops_the_polling(frozen: tuple[Emulator, BatchService]) -> None:
    emu, batches = frozen
    batch = await batches.create(make_requests(1))

    snapshots = await batches.watch(batch.id, interval=0.001).pipe(ops.take(2), ops.to_list())

    assert len(snapshots) == 2
    assert emu.stats.requests["retrieve"] == 2


async def test_watch_follows_a_cancel_to_the_end(frozen: tuple[Emulator, BatchService]) -> None:
    emu, batches = frozen
    batch = await batches.create(make_requests(3))
    await batches.cancel(batch.id)

    snapshots = await batches.watch(batch.id, interval=0.001).pipe(
        ops.do_action(lambda _: _clock(emu).advance(1)), ops.to_list()
    )

    assert [s.processing_status for s in snapshots] == ["canceling", "ended"]
    assert snapshots[-1].request_counts.canceled == 3


@pytest.mark.parametrize("interval", [0, -1.0, math.nan, math.inf, True, "5"])
async def test_an_invalid_interval_is_rejected_at_the_call(
    batches: BatchService, interval: object
) -> None:
    with pytest.raises(ValueError, match="interval"):
        batches.watch("msgbatch_x", interval=interval)  # type: ignore[arg-type]
