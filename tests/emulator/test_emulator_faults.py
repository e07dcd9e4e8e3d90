"""Scripted faults, stats and wait_for of the emulator, over real sockets."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from rxbatches.emulator import Emulator, Fault, ManualClock
from rxbatches.emulator._faults import parse_fault_spec
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


# --------------------------------------------------------------------------- issue 5 faults


async def _statuses(s: aiohttp.ClientSession, n: int) -> list[int]:
    statuses = []
    for _ in range(n):
        async with s.get(PATH) as r:
            await r.read()
            statuses.append(r.status)
    return statuses


async def _list_statuses(seed: int, n: int = 30) -> list[int]:
    async with (
        Emulator(fault_seed=seed) as emu,
        aiohttp.ClientSession(emu.base_url, headers=HEADERS) as s,
    ):
        emu.faults.randomly("list", 0.5, Fault.status(503))
        statuses = await _statuses(s, n)
        assert emu.faults.injected["list"] == statuses.count(503)
        return statuses


async def test_random_faults_are_drawn_from_a_seeded_generator_so_runs_repeat() -> None:
    first = await _list_statuses(seed=7)
    again = await _list_statuses(seed=7)
    other = await _list_statuses(seed=8)

    assert first == again
    assert set(first) == {200, 503}
    assert other != first


async def test_probability_zero_never_and_one_always_and_star_means_every_endpoint(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.faults.randomly("list", 0.0, Fault.status(500))
    assert await _statuses(session, 5) == [200] * 5
    emulator.faults.randomly("*", 1.0, Fault.status(529))
    assert await _statuses(session, 2) == [529, 529]
    async with session.get(f"{PATH}/msgbatch_x") as r:
        assert r.status == 529
    emulator.faults.clear()
    assert await _statuses(session, 1) == [200]


async def test_a_scripted_fault_wins_over_a_random_one(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.faults.randomly("list", 1.0, Fault.status(529))
    emulator.faults.script("list", Fault.status(429))

    assert await _statuses(session, 2) == [429, 529]


async def test_status_fault_helpers_set_the_retry_headers(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.faults.script(
        "list", Fault.status(529, retry_after=2, retry_after_ms=1500, should_retry=False)
    )
    async with session.get(PATH) as r:
        assert r.status == 529
        assert r.headers["retry-after"] == "2"
        assert r.headers["retry-after-ms"] == "1500"
        assert r.headers["x-should-retry"] == "false"


async def test_html_fault_is_a_proxy_error_page_not_json(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.faults.script("retrieve", Fault.html(502))
    async with session.get(f"{PATH}/msgbatch_x") as r:
        text = await r.text()
        assert r.status == 502
        assert r.headers["content-type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in text


async def test_slow_fault_trickles_the_whole_body_in_small_pieces(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch([LINE] * 10)
    emulator.faults.script("results", Fault.slow(chunk_bytes=64, interval=0.001))
    pieces = []
    async with session.get(f"{PATH}/{batch_id}/results") as r:
        async for chunk in r.content.iter_any():
            pieces.append(chunk)

    assert b"".join(pieces) == LINE * 10
    assert len(pieces) > 1
    assert max(len(p) for p in pieces) <= 2 * 64  # at most two pieces read at once


async def test_slow_fault_on_a_json_endpoint_still_answers_in_full(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.faults.script("list", Fault.slow(chunk_bytes=4, interval=0.0))
    status, body, _ = await get_json(session, PATH)
    assert (status, body["data"]) == (200, [])


@pytest.mark.parametrize(("mid_line", "tail"), [(True, LINE[: (len(LINE) - 1) // 2]), (False, b"")])
async def test_truncate_lines_cuts_after_whole_lines_and_maybe_half_the_next(
    session: aiohttp.ClientSession, emulator: Emulator, mid_line: bool, tail: bytes
) -> None:
    batch_id = emulator.add_ended_batch([LINE] * 10)
    emulator.faults.script("results", Fault.truncate_lines(3, mid_line=mid_line))
    received = bytearray()

    async def download() -> None:
        async with session.get(f"{PATH}/{batch_id}/results") as r:
            async for chunk in r.content.iter_any():
                received.extend(chunk)

    with pytest.raises(aiohttp.ClientPayloadError):
        await download()
    assert bytes(received) == LINE * 3 + tail


async def test_a_created_batch_is_not_found_during_the_propagation_delay() -> None:
    clock = ManualClock()
    async with (
        Emulator(clock=clock, propagation_delay=2.0) as emu,
        aiohttp.ClientSession(emu.base_url, headers=HEADERS) as s,
    ):
        request = {
            "custom_id": "a",
            "params": {
                "model": "m",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}],
            },
        }
        async with s.post(PATH, data=json.dumps({"requests": [request]})) as r:
            batch_id = (await r.json())["id"]
        seeded = emu.add_ended_batch([LINE])

        for suffix in ("", "/results"):
            async with s.get(f"{PATH}/{batch_id}{suffix}") as r:
                body = await r.json()
                assert (r.status, body["error"]["type"]) == (404, "not_found_error")
        async with s.post(f"{PATH}/{batch_id}/cancel") as r:
            assert r.status == 404
        status, listing, _ = await get_json(s, PATH)
        assert batch_id in [b["id"] for b in listing["data"]]
        status, _, _ = await get_json(s, f"{PATH}/{seeded}")
        assert status == 200  # seeded batches never went through a create

        clock.advance(2.0)
        status, body, _ = await get_json(s, f"{PATH}/{batch_id}")
        assert (status, body["id"]) == (200, batch_id)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("retrieve:529:0.2", ("retrieve", 0.2, Fault.status(529))),
        ("create:429=2:0.1", ("create", 0.1, Fault.status(429, retry_after=2))),
        ("results:truncate:0.1", ("results", 0.1, Fault.truncate_lines(5))),
        ("results:truncate=100", ("results", 1.0, Fault.truncate(100))),
        ("*:html=503:0.05", ("*", 0.05, Fault.html(503))),
        ("list:reset", ("list", 1.0, Fault.reset())),
        ("list:delay=0.5:1", ("list", 1.0, Fault.delay(0.5))),
        ("results:slow=0.1", ("results", 1.0, Fault.slow(64, 0.1))),
    ],
)
def test_fault_specs_parse_into_faults(spec: str, expected: tuple[str, float, Fault]) -> None:
    assert parse_fault_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("retrieve", "ENDPOINT:KIND"),
        ("upload:529", "unknown endpoint"),
        ("list:529:2", "probability"),
        ("list:529:often", "probability"),
        ("list:teapot", "unknown kind"),
        ("list:999", "not an HTTP status"),
        ("list:delay=soon", "not a number"),
        ("a:b:c:d", "ENDPOINT:KIND"),
    ],
)
def test_bad_fault_specs_say_what_is_wrong(spec: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_fault_spec(spec)


def test_an_invalid_propagation_delay_or_probability_is_rejected() -> None:
    with pytest.raises(ValueError, match="propagation_delay"):
        Emulator(propagation_delay=-1)
    emu = Emulator()
    with pytest.raises(ValueError, match="probability"):
        emu.faults.randomly("list", 1.5, Fault.reset())
    with pytest.raises(ValueError, match="propagation_delay"):
        emu.faults.propagation_delay = float("nan")


def test_the_emulator_command_serves_the_faults_it_was_given() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "rxbatches", "emulator", "--fault", "list:503", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        request = urllib.request.Request(base_url + PATH, headers=HEADERS)
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)
        assert caught.value.code == 503
        caught.value.close()
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err


def test_the_emulator_command_rejects_a_bad_fault_spec_with_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rxbatches", "emulator", "--fault", "list:teapot"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown kind 'teapot'" in done.stderr


def test_the_emulator_help_documents_the_fault_syntax() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rxbatches", "emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0
    for word in ("--fault SPEC", "ENDPOINT:KIND[=ARG][:PROBABILITY]", "truncate", "html"):
        assert word in done.stdout


async def test_truncate_lines_on_a_json_endpoint_cuts_the_body_in_the_middle(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.faults.script("list", Fault.truncate_lines(1))
    with pytest.raises(aiohttp.ClientPayloadError):
        await get_json(session, PATH)
    assert emulator.faults.injected["list"] == 1
