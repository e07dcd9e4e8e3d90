"""list and list_pages: cursor rules, laziness, and every batch exactly once, newest first."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from hypothesis import given
from reactivex import operators as ops

from rxbatches import BatchService, Client, RequestOptions
from rxbatches.emulator import Emulator, EmulatorThread
from tests.conftest import API_KEY
from tests.strategies import listing_shapes

from .helpers import outcome


def _fill(emu: Emulator, n: int) -> list[str]:
    for _ in range(n):
        emu.add_ended_batch([])
    return emu.batch_ids()


async def test_list_emits_every_batch_newest_first(
    batches: BatchService, emulator: Emulator
) -> None:
    ids = _fill(emulator, 7)

    listed = await batches.list(limit=3).pipe(ops.to_list())

    assert [b.id for b in listed] == ids
    assert emulator.stats.requests["list"] == 3


async def test_list_fetches_no_page_it_does_not_need(
    batches: BatchService, emulator: Emulator
) -> None:
    ids = _fill(emulator, 20)

    first_five = await batches.list(limit=2).pipe(ops.take(5), ops.to_list())

    assert [b.id for b in first_five] == ids[:5]
    assert emulator.stats.requests["list"] == 3


async def test_list_of_an_empty_workspace_completes_after_one_request(
    batches: BatchService, emulator: Emulator
) -> None:
    result = await outcome(batches.list())

    assert result.items == []
    assert result.completed
    assert emulator.stats.requests["list"] == 1


async def test_after_id_lists_the_older_batches(batches: BatchService, emulator: Emulator) -> None:
    ids = _fill(emulator, 9)

    listed = await batches.list(limit=2, after_id=ids[3]).pipe(ops.to_list())

    assert [b.id for b in listed] == ids[4:]


async def test_before_id_pages_backwards_to_the_newest(
    batches: BatchService, emulator: Emulator
) -> None:
    ids = _fill(emulator, 9)

    pages = await batches.list_pages(limit=2, before_id=ids[6]).pipe(ops.to_list())

    listed = [b.id for page in pages for b in page.data]
    assert sorted(listed) == sorted(ids[:6])
    assert len(listed) == len(set(listed))
    # Each page is newest first; the pages walk towards the newest batch.
    assert [[b.id for b in p.data] for p in pages] == [ids[4:6], ids[2:4], ids[0:2]]


@pytest.mark.parametrize("limit", [0, 1001, -1, True, 2.5])
async def test_an_invalid_limit_fails_in_on_error_without_sending(
    batches: BatchService, emulator: Emulator, limit: object
) -> None:
    result = await outcome(batches.list(limit=limit))  # type: ignore[arg-type]

    assert isinstance(result.error, ValueError)
    assert "limit" in str(result.error)
    assert emulator.stats.requests["list"] == 0


async def test_list_options_apply_to_every_page(batches: BatchService, emulator: Emulator) -> None:
    _fill(emulator, 5)

    await batches.list(limit=2, options=RequestOptions(extra_headers={"x-trace": "t1"})).pipe(
        ops.to_list()
    )

    assert emulator.stats.requests["list"] == 3
    assert emulator.stats.last_headers["list"]["x-trace"] == "t1"


# --------------------------------------------------------------------------- property


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[EmulatorThread, Client]]:
    """One emulator (reset per example) and one synchronous client for the whole module."""
    with (
        EmulatorThread(request_latency=0.001) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        yield emu, client


@given(shape=listing_shapes())
def test_list_yields_every_batch_exactly_once_newest_first(
    shared: tuple[EmulatorThread, Client], shape: tuple[int, int]
) -> None:
    emu, client = shared
    n, limit = shape
    emu.reset()
    for _ in range(n):
        emu.add_ended_batch([])

    listed = client.messages.batches.list(limit=limit).pipe(ops.to_list()).run()

    assert [b.id for b in listed] == emu.batch_ids()
    assert len({b.id for b in listed}) == n
    assert emu.stats.requests["list"] == max(1, math.ceil(n / limit))
