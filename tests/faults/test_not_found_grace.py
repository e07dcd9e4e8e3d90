"""A 404 right after a create: asked again for a short window, only for this client's batches.

The emulator's ``propagation_delay`` makes a new batch answer 404 for that many emulator
seconds; on a :class:`ManualClock` it stays 404 until a test advances the clock, so the
tests decide when the batch becomes visible, without sleeping.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from reactivex import Observable
from reactivex import operators as ops

from rxbatches import (
    BatchService,
    Client,
    ClientOptions,
    MessageBatch,
    NotFoundError,
    RequestOptions,
)
from rxbatches._cli import main
from rxbatches._service.grace import CreatedBatches, grace_delay
from rxbatches.emulator import Emulator, EmulatorThread, ManualClock
from tests.client.helpers import Collector, make_requests, outcome
from tests.conftest import API_KEY, emulator_for_cli

PROPAGATION = 5.0
"""Emulator seconds a new batch answers 404 (the tests advance past it, or never)."""

LONG = 30.0
"""A grace no test waits out: it cannot run out on a slow machine."""

ENDED = 3600.0
"""Emulator seconds after which a batch of a few requests has ended and is visible."""


@dataclass
class Setup:
    """An emulator whose new batches are 404 until its clock is advanced, and a client."""

    emu: Emulator
    clock: ManualClock
    client: Client

    @property
    def batches(self) -> BatchService:
        return self.client.messages.batches


@pytest.fixture
async def hidden() -> AsyncIterator[Setup]:
    """New batches answer 404 until the test advances the clock; the client waits long."""
    clock = ManualClock()
    async with (
        Emulator(clock=clock, propagation_delay=PROPAGATION) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url, not_found_grace=LONG) as client,
    ):
        yield Setup(emu, clock, client)


Operation = Callable[[BatchService, str], Observable[Any]]

# name, endpoint, the operation, emulator seconds after which it succeeds.
OPERATIONS: list[tuple[str, Operation, float]] = [
    ("retrieve", lambda b, i: b.retrieve(i), PROPAGATION),
    ("cancel", lambda b, i: b.cancel(i), PROPAGATION),
    ("delete", lambda b, i: b.delete(i), ENDED),
    ("results", lambda b, i: b.results_streaming(i), ENDED),
]
IDS = [name for name, _, _ in OPERATIONS]


@pytest.mark.parametrize(("endpoint", "operation", "visible_after"), OPERATIONS, ids=IDS)
async def test_an_operation_right_after_a_create_asks_again_until_the_batch_is_visible(
    hidden: Setup, endpoint: str, operation: Operation, visible_after: float
) -> None:
    batch = await hidden.batches.create(make_requests(2))
    collector: Collector[Any] = Collector()
    collector.subscribe(operation(hidden.batches, batch.id))
    await hidden.emu.wait_for(lambda: hidden.emu.stats.requests[endpoint] >= 2)
    assert collector.items == []
    assert not collector.done.is_set()

    hidden.clock.advance(visible_after)
    await collector.wait()

    assert collector.error is None
    assert collector.completed
    assert collector.items
    assert hidden.emu.stats.requests[endpoint] >= 3


async def test_a_batch_ended_and_visible_is_not_asked_about_twice(hidden: Setup) -> None:
    batch = await hidden.batches.create(make_requests(3))
    hidden.clock.advance(ENDED)

    results = await hidden.batches.results_streaming(batch.id).pipe(ops.to_list())

    assert sorted(r.custom_id for r in results) == ["r0", "r1", "r2"]
    assert hidden.emu.stats.requests["results"] == 1


@pytest.mark.parametrize(("endpoint", "operation", "_"), OPERATIONS, ids=IDS)
async def test_a_404_about_a_batch_this_client_did_not_create_is_reported_at_once(
    hidden: Setup, endpoint: str, operation: Operation, _: float
) -> None:
    # Made by another client: it exists, and is just as invisible for now.
    async with Client(api_key=API_KEY, base_url=hidden.emu.base_url) as other:
        batch = await other.messages.batches.create(make_requests(1))

    result = await outcome(operation(hidden.batches, batch.id))

    assert isinstance(result.error, NotFoundError)
    assert hidden.emu.stats.requests[endpoint] == 1


async def test_the_404_is_reported_once_the_window_from_the_create_is_over() -> None:
    async with (
        Emulator(clock=ManualClock(), propagation_delay=PROPAGATION) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url, not_found_grace=0.25) as client,
    ):
        batch = await client.messages.batches.create(make_requests(1))
        result = await outcome(client.messages.batches.retrieve(batch.id))

    assert isinstance(result.error, NotFoundError)
    assert result.error.status_code == 404
    assert "after this client created it" in result.error.message
    assert emu.stats.requests["retrieve"] >= 2  # at 0 s and 0.1 s at least


async def test_a_window_already_over_at_the_call_reports_the_404_unchanged() -> None:
    async with (
        Emulator(clock=ManualClock(), propagation_delay=PROPAGATION) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url, not_found_grace=0.05) as client,
    ):
        batch = await client.messages.batches.create(make_requests(1))
        first = await outcome(client.messages.batches.retrieve(batch.id))
        requests = emu.stats.requests["retrieve"]
        second = await outcome(client.messages.batches.retrieve(batch.id))

    assert isinstance(first.error, NotFoundError)
    assert isinstance(second.error, NotFoundError)
    assert "after this client created it" not in second.error.message
    assert emu.stats.requests["retrieve"] == requests + 1


async def test_a_client_grace_of_zero_reports_the_404_at_once() -> None:
    async with (
        Emulator(clock=ManualClock(), propagation_delay=PROPAGATION) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url, not_found_grace=0) as client,
    ):
        batch = await client.messages.batches.create(make_requests(1))
        result = await outcome(client.messages.batches.retrieve(batch.id))

    assert isinstance(result.error, NotFoundError)
    assert emu.stats.requests["retrieve"] == 1


async def test_a_service_grace_of_zero_reports_the_404_at_once(hidden: Setup) -> None:
    batch = await hidden.batches.create(make_requests(1))

    result = await outcome(hidden.batches.with_options(not_found_grace=0).retrieve(batch.id))

    assert isinstance(result.error, NotFoundError)
    assert hidden.emu.stats.requests["retrieve"] == 1


async def test_a_per_call_grace_of_zero_reports_the_404_at_once(hidden: Setup) -> None:
    batch = await hidden.batches.create(make_requests(1))

    result = await outcome(
        hidden.batches.retrieve(batch.id, options=RequestOptions(not_found_grace=0))
    )

    assert isinstance(result.error, NotFoundError)
    assert hidden.emu.stats.requests["retrieve"] == 1


async def test_a_service_copy_knows_the_batches_its_parent_created() -> None:
    clock = ManualClock()
    async with (
        Emulator(clock=clock, propagation_delay=PROPAGATION) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url, not_found_grace=0) as client,
    ):
        batch = await client.messages.batches.create(make_requests(1))
        patient = client.messages.batches.with_options(not_found_grace=LONG)
        collector: Collector[MessageBatch] = Collector()
        collector.subscribe(patient.retrieve(batch.id))
        await emu.wait_for(lambda: emu.stats.requests["retrieve"] >= 2)
        clock.advance(PROPAGATION)
        await collector.wait()

    assert collector.error is None
    assert [b.id for b in collector.items] == [batch.id]


async def test_a_batch_this_client_deleted_is_reported_gone_at_once(hidden: Setup) -> None:
    batch = await hidden.batches.create(make_requests(1))
    hidden.clock.advance(ENDED)
    await hidden.batches.delete(batch.id)

    result = await outcome(hidden.batches.retrieve(batch.id))

    assert isinstance(result.error, NotFoundError)
    assert hidden.emu.stats.requests["retrieve"] == 1


async def test_watch_takes_its_grace_from_the_options_when_not_given(hidden: Setup) -> None:
    result = await outcome(
        hidden.batches.watch("msgbatch_nope", options=RequestOptions(not_found_grace=0))
    )

    assert isinstance(result.error, NotFoundError)
    assert hidden.emu.stats.requests["retrieve"] == 1


BAD_GRACES = [-0.1, -1, math.nan, math.inf, True, "2", None]


@pytest.mark.parametrize("value", BAD_GRACES)
def test_an_invalid_not_found_grace_is_rejected_naming_the_field(value: object) -> None:
    with pytest.raises(ValueError, match="not_found_grace"):
        ClientOptions(api_key=API_KEY, not_found_grace=value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not_found_grace"):
        Client(api_key=API_KEY, not_found_grace=value)  # type: ignore[arg-type]
    if value is not None:  # None means "inherit" per call
        with pytest.raises(ValueError, match="not_found_grace"):
            RequestOptions(not_found_grace=value)  # type: ignore[arg-type]


async def test_with_options_rejects_an_invalid_not_found_grace(hidden: Setup) -> None:
    with pytest.raises(ValueError, match="not_found_grace"):
        hidden.batches.with_options(not_found_grace=-1)


def test_the_grace_options_merge_and_show_in_the_reprs() -> None:
    base = RequestOptions(not_found_grace=1.5)
    options = ClientOptions(api_key=API_KEY, not_found_grace=3)

    assert options.not_found_grace == 3.0
    assert options.effective(None).not_found_grace == 3.0
    assert options.effective(RequestOptions(timeout=1.0)).not_found_grace == 3.0
    assert options.effective(base).not_found_grace == 1.5
    assert base.merged(RequestOptions(timeout=1.0)).not_found_grace == 1.5
    assert base.merged(RequestOptions(not_found_grace=0)).not_found_grace == 0.0
    assert "not_found_grace=3.0" in repr(options)
    assert "not_found_grace=1.5" in repr(base)
    assert ClientOptions(api_key=API_KEY).not_found_grace == 2.0


# --------------------------------------------------------------------------- the registry


class FakeClock:
    """A monotonic clock the test moves by hand (``time``); it never sleeps."""

    def __init__(self) -> None:
        self.time = 100.0

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        raise AssertionError(f"the registry tests do not sleep ({seconds} s)")


def test_the_registry_drops_an_entry_older_than_its_horizon_at_the_next_create() -> None:
    clock = FakeClock()
    created = CreatedBatches(2.0, clock=clock)
    created.add("a", 2.0)
    clock.time += 1.0
    created.add("b", 2.0)
    clock.time += 1.5  # a is 2.5 s old, b 1.5 s

    created.add("c", 2.0)

    assert created.created_at("a") is None
    assert created.created_at("b") == 101.0
    assert len(created) == 2


def test_a_longer_grace_at_a_create_keeps_entries_longer() -> None:
    clock = FakeClock()
    created = CreatedBatches(2.0, clock=clock)
    created.add("a", 10.0)
    clock.time += 5.0

    created.add("b", 2.0)

    assert created.created_at("a") == 100.0


def test_the_registry_keeps_only_the_newest_entries() -> None:
    created = CreatedBatches(60.0, max_entries=3, clock=FakeClock())
    for name in "abcde":
        created.add(name, 60.0)

    assert [n for n in "abcde" if created.created_at(n) is not None] == ["c", "d", "e"]


def test_a_forgotten_batch_is_no_longer_known() -> None:
    created = CreatedBatches(2.0, clock=FakeClock())
    created.add("a", 2.0)

    created.forget("a")
    created.forget("never-added")

    assert created.created_at("a") is None
    assert len(created) == 0


@pytest.mark.parametrize(
    ("misses", "remaining", "expected"),
    [
        (0, 5.0, 0.1),
        (1, 5.0, 0.2),
        (2, 5.0, 0.4),
        (3, 5.0, 0.8),
        (4, 5.0, 1.0),
        (9, 5.0, 1.0),
        (3, 0.3, 0.3),
    ],
)
def test_the_grace_backoff_doubles_up_to_a_second_and_never_passes_the_window(
    misses: int, remaining: float, expected: float
) -> None:
    assert grace_delay(misses, remaining) == pytest.approx(expected)


# --------------------------------------------------------------------------- command line


@pytest.fixture
def cli_emulator(monkeypatch: pytest.MonkeyPatch) -> Any:
    """An emulator thread whose new batches are 404 until its clock moves; the CLI uses it."""
    with emulator_for_cli(monkeypatch, clock=ManualClock(), propagation_delay=PROPAGATION) as emu:
        yield emu


def test_the_watch_command_with_no_grace_reports_a_404_at_once(
    cli_emulator: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["watch", "msgbatch_nope", "--not-found-grace", "0", "--quiet"])

    assert status == 1
    assert "404" in capsys.readouterr().err
    assert cli_emulator.stats.requests["retrieve"] == 1


def test_the_watch_command_asks_again_during_its_grace(
    cli_emulator: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["watch", "msgbatch_nope", "--not-found-grace", "0.15", "--quiet"])

    assert status == 1
    assert "404" in capsys.readouterr().err
    assert cli_emulator.stats.requests["retrieve"] >= 2


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon"])
def test_the_watch_command_rejects_a_bad_grace(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["watch", "msgbatch_x", f"--not-found-grace={value}"])

    assert status == 2  # a usage error, as argparse tools say it
    assert "--not-found-grace" in capsys.readouterr().err
