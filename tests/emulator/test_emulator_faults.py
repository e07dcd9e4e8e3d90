"""Scripted faults, stats and wait_for of the emulator, over real sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from rxbatches.emulator import Emulator, Fault, ManualClock
from tests.conftest import API_KEY

HEADERS = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
PATH = "/v1/messages/batches"
LINE = b'{"custom_id":"x","result":{"type":"canceled"}}\n'


@pytest.fixture
async def session(emulator: Emulator) -> AsyncIterator[aiohttp.ClientSession]:
    # A fresh connection per request: aiohttp would otherwise retry a reset keep-alive.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(emulator.base_url, headers=HEADERS, connector=connector) as s:
        yield s


async def get_json(s: aiohttp.ClientSession, path: str) -> tuple[int, Any, Any]:
    async with s.get(path) as r:
        return r.status, await r.json(), r.headers


async def test_status_script_is_used_once_per_request_in_order(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.faults.script(
        "list", Fault.status(529, headers={"retry-after-ms": "10"}), Fault.status(500)
    )
    assert emulator.faults.pending("list") == 2
    status, body, headers = await get_json(session, PATH)
    assert status == 529
    assert body["error"]["type"] == "overloaded_error"
    assert headers["retry-after-ms"] == "10"
    assert body["request_id"] == headers["request-id"]
    status, body, _ = await get_json(session, PATH)
    assert (status, body["error"]["type"]) == (500, "api_error")
    status, body, _ = await get_json(session, PATH)
    assert status == 200
    assert body["data"] == []
    assert emulator.stats.requests["list"] == 3
    assert emulator.faults.pending("list") == 0


async def test_status_fault_with_raw_body_and_error_type(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.faults.script("list", Fault.status(503, body=b"upstream down"))
    emulator.faults.script("list", Fault.status(429, error_type="custom_error"))
    async with session.get(PATH) as r:
        assert (r.status, await r.read()) == (503, b"upstream down")
    status, body, _ = await get_json(session, PATH)
    assert (status, body["error"]["type"]) == (429, "custom_error")


async def test_faults_apply_only_to_their_endpoint_and_clear_forgets_them(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.faults.script("retrieve", Fault.status(500))
    status, _, _ = await get_json(session, PATH)
    assert status == 200
    emulator.faults.clear()
    status, _, _ = await get_json(session, f"{PATH}/msgbatch_nope")
    assert status == 404


async def test_reset_closes_the_connection_without_an_answer(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    # A POST: aiohttp's client silently retries idempotent requests once on a reset.
    emulator.faults.script("cancel", Fault.reset())
    with pytest.raises(aiohttp.ClientConnectionError):
        await session.post(f"{PATH}/msgbatch_x/cancel")
    assert emulator.stats.requests["cancel"] == 1
    async with session.post(f"{PATH}/msgbatch_x/cancel") as r:
        assert r.status == 404


async def test_truncate_cuts_the_results_stream_after_that_many_bytes(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch([LINE] * 1000)
    emulator.faults.script("results", Fault.truncate(len(LINE) * 3 + 5))
    received = bytearray()

    async def download() -> None:
        async with session.get(f"{PATH}/{batch_id}/results") as r:
            assert r.status == 200
            async for chunk in r.content.iter_any():
                received.extend(chunk)

    with pytest.raises(aiohttp.ClientPayloadError):
        await download()
    assert bytes(received) == LINE * 3 + LINE[:5]
    async with session.get(f"{PATH}/{batch_id}/results") as r:
        assert await r.read() == LINE * 1000


async def test_truncate_of_a_short_stream_still_cuts_before_the_end(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch([LINE])
    emulator.faults.script("results", Fault.truncate(10_000))
    with pytest.raises(aiohttp.ClientPayloadError):
        async with session.get(f"{PATH}/{batch_id}/results") as r:
            await r.read()


async def test_truncate_cuts_a_json_body_short_of_its_length(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.faults.script("list", Fault.truncate(4))
    with pytest.raises(aiohttp.ClientPayloadError):
        await get_json(session, PATH)


async def test_delay_answers_normally_after_the_delay(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.faults.script("list", Fault.delay(0.2))
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, _, _ = await get_json(session, PATH)
    assert status == 200
    assert loop.time() - started >= 0.2


@pytest.mark.parametrize(
    "build",
    [lambda: Fault.status(99), lambda: Fault.truncate(-1), lambda: Fault.delay(-1)],
)
def test_invalid_faults_are_rejected(build: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        build()


def test_scripting_an_unknown_endpoint_is_rejected() -> None:
    emu = Emulator()
    with pytest.raises(ValueError, match="unknown endpoint"):
        emu.faults.script("upload", Fault.reset())


async def test_client_going_away_mid_stream_is_counted_as_aborted() -> None:
    async with (
        Emulator(results_chunk_size=4096) as emu,
        aiohttp.ClientSession(emu.base_url, headers=HEADERS) as s,
    ):
        batch_id = emu.add_ended_batch(
            lambda: (LINE for _ in range(1_000_000)), request_counts={"canceled": 1_000_000}
        )
        async with s.get(f"{PATH}/{batch_id}/results") as r:
            await r.content.readany()
            await emu.wait_for(lambda: emu.stats.results_open == 1)
            r.close()
        await emu.wait_for(lambda: emu.stats.results_aborted == 1)
        assert emu.stats.results_open == 0
        assert emu.stats.results_completed == 0


async def test_stats_count_requests_and_keep_last_headers(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    await get_json(session, PATH)
    await get_json(session, f"{PATH}/msgbatch_x")
    assert emulator.stats.requests == {"list": 1, "retrieve": 1}
    assert emulator.stats.last_headers["list"]["X-Api-Key"] == API_KEY
    assert API_KEY not in repr(emulator.stats)


async def test_wait_for_times_out_when_the_condition_never_holds(emulator: Emulator) -> None:
    with pytest.raises(TimeoutError):
        await emulator.wait_for(lambda: False, timeout=0.05)


async def test_wait_for_wakes_on_a_manual_clock_advance() -> None:
    clock = ManualClock()
    async with (
        Emulator(clock=clock, request_latency=30.0) as emu,
        aiohttp.ClientSession(emu.base_url, headers=HEADERS) as s,
    ):
        body = {
            "requests": [
                {
                    "custom_id": "a",
                    "params": {
                        "model": "m",
                        "max_tokens": 5,
                        "messages": [{"role": "user", "content": "hi"}],
                    },
                }
            ]
        }
        async with s.post(PATH, data=json.dumps(body)) as r:
            batch_id = (await r.json())["id"]
        waiter = asyncio.create_task(emu.wait_for(lambda: emu.batch(batch_id).ended, timeout=5))
        await asyncio.sleep(0)  # let the waiter start waiting
        assert not waiter.done()
        clock.advance(30)
        await waiter
        assert emu.batch(batch_id).request_counts.succeeded == 1


async def test_reset_drops_batches_stats_and_faults(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.add_ended_batch([LINE])
    await get_json(session, PATH)
    emulator.faults.script("list", Fault.status(500))
    emulator.reset()
    assert emulator.batch_ids() == []
    assert emulator.stats.requests == {}
    status, body, _ = await get_json(session, PATH)
    assert (status, body["data"]) == (200, [])
