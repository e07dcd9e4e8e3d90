"""watch's interval and the 404 grace backoff, run on virtual time with exact sleeps.

The client's clock (:class:`tests.faults.clocks.VirtualClock`) drives the emulator's
``ManualClock``: a sleep of 60 s moves both by 60 s at once, so a watch of a batch that
takes five minutes, or a grace window of seconds, runs in milliseconds over real sockets.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from rxbatches import Client, MessageBatch, NotFoundError, RequestOptions
from rxbatches._service.grace import CreatedBatches, GraceWindow
from rxbatches._service.operations import retrieve, watch
from rxbatches.emulator import Emulator, ManualClock
from tests.client.helpers import make_requests
from tests.conftest import API_KEY
from tests.faults.clocks import VirtualClock

LATENCY = 100.0
"""Emulator seconds per request; one request at a time, so n requests end at n * 100 s."""

BACKOFF = [0.1, 0.2, 0.4, 0.8]


@dataclass
class Timeline:
    emulator: Emulator
    client: Client
    clock: VirtualClock


@pytest.fixture
async def timeline() -> AsyncIterator[Timeline]:
    """An emulator on a manual clock, a client, and a virtual clock driving the emulator's."""
    manual = ManualClock()
    async with (
        Emulator(clock=manual, request_latency=LATENCY, concurrency=1) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        started = time.monotonic()
        yield Timeline(emu, client, VirtualClock(drives=manual))
        assert time.monotonic() - started < 1.0  # minutes of virtual time, in real ms


async def _watch(
    line: Timeline, batch_id: str, interval: float, grace: float
) -> list[MessageBatch]:
    http = line.client._http
    snapshots = watch(
        http, batch_id, interval, http.options.effective(None), grace, clock=line.clock
    )
    return [raw.parse() async for raw in snapshots]


async def test_watch_sleeps_one_interval_after_each_snapshot_until_ended(
    timeline: Timeline,
) -> None:
    batch = await timeline.client.messages.batches.create(make_requests(3))  # ends at 300 s

    snapshots = await _watch(timeline, batch.id, 60.0, 0.0)

    assert timeline.clock.sleeps == [60.0] * 5
    assert [s.processing_status for s in snapshots] == ["in_progress"] * 5 + ["ended"]
    assert [s.request_counts.processing for s in snapshots] == [3, 3, 2, 2, 1, 0]
    assert timeline.emulator.stats.requests["retrieve"] == 6


async def test_watch_of_an_ended_batch_never_sleeps(timeline: Timeline) -> None:
    batch_id = timeline.emulator.add_ended_batch([])

    snapshots = await _watch(timeline, batch_id, 60.0, 0.0)

    assert [s.ended for s in snapshots] == [True]
    assert timeline.clock.sleeps == []


async def test_watch_backs_off_on_404s_then_polls_at_its_interval(timeline: Timeline) -> None:
    timeline.emulator.faults.propagation_delay = 1.0  # visible 1 s after its create
    batch = await timeline.client.messages.batches.create(make_requests(1))  # ends at 100 s

    snapshots = await _watch(timeline, batch.id, 60.0, 2.0)

    # 404 at 0, 0.1, 0.3 and 0.7 s; found at 1.5 s; polled at 61.5, ended at 121.5.
    assert timeline.clock.sleeps == [*BACKOFF, 60.0, 60.0]
    assert [s.ended for s in snapshots] == [False, False, True]
    assert timeline.emulator.stats.requests["retrieve"] == 7


async def test_watch_reports_the_404_when_the_grace_window_closes(timeline: Timeline) -> None:
    timeline.emulator.faults.propagation_delay = 10.0
    batch = await timeline.client.messages.batches.create(make_requests(1))

    with pytest.raises(NotFoundError):
        await _watch(timeline, batch.id, 60.0, 3.0)

    # At most 1 s apart, and the last wait ends exactly where the window does.
    assert timeline.clock.sleeps == [*BACKOFF, 1.0, 0.5]
    assert sum(timeline.clock.sleeps) == 3.0
    assert timeline.emulator.stats.requests["retrieve"] == 7


async def _retrieve_after_create(timeline: Timeline, visible_after: float) -> MessageBatch:
    """Create, then retrieve as this client does, on a registry that runs on virtual time."""
    timeline.emulator.faults.propagation_delay = visible_after
    batch = await timeline.client.messages.batches.create(make_requests(1))
    created = CreatedBatches(3.0, clock=timeline.clock)
    created.add(batch.id, 3.0)
    http = timeline.client._http
    options = http.options.effective(RequestOptions(not_found_grace=3.0))
    return (await retrieve(http, batch.id, options, created)).parse()


@pytest.mark.parametrize(
    ("visible_after", "sleeps"), [(1.0, BACKOFF), (0.0, [])], ids=["in-window", "at-once"]
)
async def test_a_retrieve_after_this_clients_create_backs_off_on_the_registry_clock(
    timeline: Timeline, visible_after: float, sleeps: list[float]
) -> None:
    found = await _retrieve_after_create(timeline, visible_after)

    assert found.processing_status == "in_progress"
    assert timeline.clock.sleeps == sleeps


async def test_a_retrieve_after_this_clients_create_fails_when_its_window_closes(
    timeline: Timeline,
) -> None:
    with pytest.raises(NotFoundError, match=r"asked 7 times during the 3\.0 s after this client"):
        await _retrieve_after_create(timeline, 10.0)

    assert timeline.clock.sleeps == [*BACKOFF, 1.0, 0.5]


async def _absorb_until_raised(window: GraceWindow, exc: NotFoundError) -> NotFoundError:
    while True:
        try:
            await window.absorb(exc)
        except NotFoundError as raised:
            return raised


async def test_the_grace_backoff_doubles_to_one_second_and_stops_at_the_window() -> None:
    clock = VirtualClock()
    window = GraceWindow.from_first_404("msgbatch_x", 6.0, clock)
    missing = NotFoundError("not found", status_code=404)

    raised = await _absorb_until_raised(window, missing)

    assert clock.sleeps == [*BACKOFF, 1.0, 1.0, 1.0, 1.0, 0.5]
    assert clock.time == 6.0
    assert raised is missing  # a watch's window reports the 404 as it came
    assert window.misses == 9


async def test_a_watch_window_starts_at_the_first_404_not_at_the_call() -> None:
    clock = VirtualClock()
    window = GraceWindow.from_first_404("msgbatch_x", 0.15, clock)
    clock.time = 5.0  # the first answer was slow: far longer than the whole window

    raised = await _absorb_until_raised(window, NotFoundError("not found", status_code=404))

    assert clock.sleeps == [0.1, pytest.approx(0.05)]
    assert window.start == 5.0
    assert isinstance(raised, NotFoundError)


async def test_no_window_means_no_wait() -> None:
    clock = VirtualClock()
    window = GraceWindow.after_create(CreatedBatches(5.0, clock=clock), "msgbatch_x", 5.0)

    with pytest.raises(NotFoundError):
        await window.absorb(NotFoundError("not found", status_code=404))

    assert clock.sleeps == []
