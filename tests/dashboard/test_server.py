"""The dashboard's server: token and Origin checks, CSP, no API key out, live pushes, actions.

Real sockets: the emulator and the dashboard each on 127.0.0.1, port 0.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from rxbatches import Client
from rxbatches.dashboard import PUSH_PERIOD, TOKEN, make_app
from rxbatches.dashboard._app import HUB
from rxbatches.dashboard._hub import Snapshot, delta
from rxbatches.emulator import Emulator

from .helpers import Served, apply, events, find, requests, serve, states

SECRET = "sk-ant-dashboard-secret-0123456789"

ROUTES = [
    ("GET", "/"),
    ("GET", "/static/app.js"),
    ("GET", "/static/app.css"),
    ("GET", "/events"),
    ("GET", "/batches/msgbatch_x/results"),
    ("GET", "/stores/0/export"),
    ("GET", "/nowhere"),
    ("POST", "/batches/msgbatch_x/cancel"),
]

CSP = "default-src 'self'; script-src 'self'; style-src 'self'"


@pytest.fixture
async def slow_emulator() -> AsyncIterator[Emulator]:
    """One request at a time, 20 ms each: a batch of 40 takes about 0.8 s."""
    async with Emulator(request_latency=0.02, concurrency=1) as emu:
        yield emu


@pytest.fixture
async def client(slow_emulator: Emulator) -> AsyncIterator[Client]:
    async with Client(api_key=SECRET, base_url=slow_emulator.base_url) as client:
        yield client


async def _call(
    served: Served, method: str, path: str, *, token: str | None, origin: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    url = served.url + path + (f"?token={token}" if token is not None and method == "GET" else "")
    headers = {}
    if method == "POST" and token is not None:
        headers["X-Dashboard-Token"] = token
    if origin is not None:
        headers["Origin"] = origin
    async with served.http.request(method, url, headers=headers) as response:
        body = b"" if path == "/events" and response.status == 200 else await response.read()
        return response.status, dict(response.headers), body


async def test_every_route_answers_403_without_the_token_or_with_a_wrong_one(
    client: Client,
) -> None:
    async with serve(client) as served:
        for method, path in ROUTES:
            for token in (None, "", "wrong", served.token + "x", served.token[:-1]):
                status, headers, _ = await _call(
                    served, method, path, token=token, origin=served.url
                )
                assert status == 403, (method, path, token)
                assert headers["Content-Security-Policy"].startswith(CSP), (method, path)


async def test_the_page_and_its_files_have_a_strict_csp_and_no_inline_script(
    client: Client,
) -> None:
    async with serve(client) as served:
        for path, kind in [
            ("/", "text/html"),
            ("/static/app.js", "text/javascript"),
            ("/static/app.css", "text/css"),
        ]:
            async with served.http.get(served.at(path)) as response:
                assert response.status == 200, path
                assert response.content_type == kind
                assert response.headers["Content-Security-Policy"].startswith(CSP)
                assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
                assert response.headers["X-Content-Type-Options"] == "nosniff"
                body = await response.text()
        async with served.http.get(served.at("/")) as response:
            page = await response.text()
        # Every script is a file of the package: none written into the page.
        assert page.count("<script") == 1
        assert f'<script src="static/app.js?token={served.token}" defer></script>' in page
        assert " style=" not in page
        assert "<style" not in page
        assert " on" + "click" not in page
        async with served.http.get(served.at("/static/other.js")) as response:
            assert response.status == 404
        assert body  # the CSS


async def test_a_post_needs_the_token_and_the_pages_own_origin(
    client: Client, slow_emulator: Emulator
) -> None:
    batch = await client.messages.batches.create(requests(200))
    async with serve(client) as served:
        path = f"/batches/{batch.id}/cancel"
        for origin in (None, "http://evil.example", "null", served.url + ".evil.example"):
            status, _, _ = await _call(served, "POST", path, token=served.token, origin=origin)
            assert status == 403, origin
        status, _, _ = await _call(served, "POST", path, token="wrong", origin=served.url)
        assert status == 403
        assert (await client.messages.batches.retrieve(batch.id)).processing_status == (
            "in_progress"
        )
        # A form field carries the token as well as the header does.
        async with served.http.post(
            served.url + path, data={"token": served.token}, headers={"Origin": served.url}
        ) as response:
            assert response.status == 200
            answer = await response.json()
        assert answer["batch"]["id"] == batch.id
        assert answer["batch"]["processing_status"] == "canceling"


async def test_a_batch_created_after_connecting_is_pushed_within_2_s_then_its_progress_to_ended(
    client: Client,
) -> None:
    async with (
        serve(client, interval=0.1) as served,
        served.http.get(served.at("/events")) as response,
    ):
        assert response.headers["Content-Type"] == "text/event-stream"
        pushed = states(response)
        first = await anext(pushed)
        assert first["batches"] == []
        batch = await client.messages.batches.create(requests(40))
        created = time.monotonic()
        seen: list[tuple[str, int]] = []
        async with asyncio.timeout(4):
            async for state in pushed:
                shown = find(state, batch.id)
                if shown is None:
                    continue
                if not seen:
                    assert time.monotonic() - created < 2.0
                counts = shown["request_counts"]
                # The API counts processing down; the outcomes appear at the end.
                seen.append((shown["processing_status"], 40 - counts["processing"]))
                if shown["processing_status"] == "ended":
                    break
    statuses = [status for status, _ in seen]
    assert statuses[0] == "in_progress"
    assert statuses[-1] == "ended"
    done = [succeeded for _, succeeded in seen]
    assert done == sorted(done)
    assert done[-1] == 40
    assert len({d for d in done if 0 < d < 40}) >= 1, seen  # progress in between
    assert all(d > 0 for d in done[1:]), seen  # each push a change


async def test_cancel_from_a_post_cancels_the_batch_and_the_push_shows_it(client: Client) -> None:
    batch = await client.messages.batches.create(requests(400))
    async with (
        serve(client, interval=0.1) as served,
        served.http.get(served.at("/events")) as events,
    ):
        pushed = states(events)
        async with served.http.post(
            served.url + f"/batches/{batch.id}/cancel",
            headers={"X-Dashboard-Token": served.token, "Origin": served.url},
        ) as response:
            assert response.status == 200
        async with asyncio.timeout(4):
            async for state in pushed:
                shown = find(state, batch.id)
                if shown and shown["processing_status"] == "ended":
                    break
    assert shown is not None
    assert shown["cancel_initiated_at"] is not None
    assert shown["request_counts"]["canceled"] > 0


async def test_pushes_are_at_most_4_a_second_under_a_burst_of_changes(client: Client) -> None:
    # A listing every 10 ms while a batch progresses: a new state nearly every listing.
    batch = await client.messages.batches.create(requests(200))
    async with (
        serve(client, interval=0.01) as served,
        served.http.get(served.at("/events")) as response,
    ):
        pushed = states(response)
        times = []
        counts = []
        async with asyncio.timeout(4):
            async for state in pushed:
                times.append(time.monotonic())
                shown = find(state, batch.id)
                counts.append(shown["request_counts"]["processing"] if shown else -1)
                if len(times) == 8:
                    break
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) > PUSH_PERIOD * 0.8, gaps
    assert len(set(counts)) == len(counts), counts  # each push a change


async def test_the_results_download_streams_every_result_through_the_server(
    client: Client,
) -> None:
    batch = await client.messages.batches.create(requests(30))
    async with asyncio.timeout(4):
        await client.messages.batches.watch(batch.id, interval=0.05)
    async with (
        serve(client) as served,
        served.http.get(served.at(f"/batches/{batch.id}/results")) as response,
    ):
        assert response.status == 200
        assert "attachment" in response.headers["Content-Disposition"]
        lines = (await response.text()).splitlines()
    assert sorted(line.split('"custom_id":"')[1].split('"')[0] for line in lines) == sorted(
        f"r{i}" for i in range(30)
    )


async def test_no_response_holds_the_api_key(client: Client, tmp_path: Path) -> None:
    ended = await client.messages.batches.create(requests(5, "e"))
    async with asyncio.timeout(4):
        await client.messages.batches.watch(ended.id, interval=0.05)
    live = await client.messages.batches.create(requests(100, "l"))
    missing_store = tmp_path / "missing.db"
    seen: list[bytes] = []

    def record(status: int, headers: dict[str, str], body: bytes) -> None:
        seen.append(str(status).encode() + repr(headers).encode() + body)

    async with serve(client, stores=[missing_store], interval=0.05) as served:
        for method, path in [
            *ROUTES,
            ("GET", f"/batches/{ended.id}/results"),
            ("GET", f"/batches/{live.id}/results"),  # not ended: an API error
            ("GET", "/batches/msgbatch_unknown/results"),
            ("POST", "/batches/msgbatch_unknown/cancel"),
            ("POST", f"/batches/{live.id}/cancel"),
        ]:
            for token in (None, served.token):
                record(*await _call(served, method, path, token=token, origin=served.url))
        async with served.http.get(served.at("/events")) as response:
            record(response.status, dict(response.headers), b"")
            async with asyncio.timeout(3):
                async for state in states(response):
                    seen.append(repr(state).encode())
                    if state["stores"] and state["listed"] and find(state, live.id):
                        break
    assert len(seen) > 2 * (len(ROUTES) + 5)
    assert any(b"missing.db" in s for s in seen)  # the store's error was shown
    assert not [s for s in seen if SECRET.encode() in s]


async def test_a_job_store_is_shown_with_its_totals_tokens_and_cost(
    client: Client, tmp_path: Path
) -> None:
    store = tmp_path / "job.db"
    job = client.messages.batches.run(requests(6, "j"), store=store, interval=0.05)
    async with asyncio.timeout(4):
        await job
    async with (
        serve(client, stores=[store], interval=0.5) as served,
        served.http.get(served.at("/events")) as response,
    ):
        async with asyncio.timeout(3):
            async for state in states(response):
                if state["stores"]:
                    break
    (shown,) = state["stores"]
    assert shown["name"] == "job.db"
    summary = shown["summary"]
    assert summary["requests"] == 6
    assert summary["succeeded"] == 6
    assert summary["usage"]["output_tokens"] > 0
    assert "cost_usd" in summary
    assert len(shown["batches"]) == 1


async def test_make_app_refuses_bad_options(client: Client) -> None:
    for options in ({"token": ""}, {"interval": 0}, {"max_batches": 0}, {"linger": -1}):
        with pytest.raises(ValueError, match=next(iter(options)).split("_")[0]):
            make_app(client, **options)


async def test_it_mounts_as_a_sub_app(client: Client) -> None:
    parent = web.Application()
    dashboard = make_app(client)
    parent.add_subapp("/dash/", dashboard)
    runner = web.AppRunner(parent, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}/dash/"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}?token={dashboard[TOKEN]}") as response:
                assert response.status == 200
            async with http.get(f"{base}events?token={dashboard[TOKEN]}") as response:
                assert response.status == 200
                first = await anext(states(response))
                assert first["listed"] in (False, True)
            async with http.get(f"{base}static/app.js") as response:
                assert response.status == 403
    finally:
        await runner.cleanup()


async def test_the_hub_polls_only_while_a_page_is_open(
    client: Client, slow_emulator: Emulator
) -> None:
    listings = slow_emulator.stats.requests
    async with serve(client, interval=0.2, linger=0.1) as served:
        hub = served.app[HUB]
        # Served, no page: the hub is idle and the API has seen no listing.
        assert hub.idle.is_set()
        async with served.http.get(served.at("/")) as response:
            assert response.status == 200  # the page itself does not start the polls
        assert listings["list"] == 0
        async with served.http.get(served.at("/events")) as response:
            async with asyncio.timeout(3):
                async for state in states(response):
                    if state["listed"]:
                        break
            assert not hub.idle.is_set()
        # The page has gone: the polls stop `linger` after the server notices it.
        async with asyncio.timeout(3):
            await hub.idle.wait()
        # A listing sent just before the pause may still be on its way to the server: a
        # request sent after it that has come back means the server has counted it.
        probe = f"{slow_emulator.base_url}/v1/messages/batches/msgbatch_probe"
        async with served.http.get(probe) as response:
            assert response.status in (401, 404)
        after = listings["list"]
        assert after >= 1
        # Nothing to wait on for an absence: let a full interval (and more) pass.
        await asyncio.sleep(0.2 * 2)
        assert listings["list"] == after
        # A new page starts them again.
        async with served.http.get(served.at("/events")) as response:
            async with asyncio.timeout(3):
                async for _state in states(response):
                    if listings["list"] > after:
                        break
            assert not hub.idle.is_set()


async def test_after_the_full_state_a_page_is_sent_only_what_changed_and_what_was_removed(
    client: Client, slow_emulator: Emulator
) -> None:
    ended = [slow_emulator.add_ended_batch([], {"succeeded": 3}) for _ in range(20)]
    async with (
        serve(client, interval=0.05) as served,
        served.http.get(served.at("/events")) as response,
    ):
        stream = events(response)
        async with asyncio.timeout(4):
            name, data = await anext(stream)
            assert name == "state"
            state = json.loads(data)
            while not state["listed"]:
                name, data = await anext(stream)
                assert name == "delta"
                state = apply(state, json.loads(data))
            assert sorted(b["id"] for b in state["batches"]) == sorted(ended)
            full_size = len(data)
            batch = await client.messages.batches.create(requests(40))
            sizes = []
            while (shown := find(state, batch.id)) is None or shown["processing_status"] != (
                "ended"
            ):
                name, data = await anext(stream)
                assert name == "delta"
                change = json.loads(data)
                # Only the running batch: the 20 ended ones are never sent again.
                assert [b["id"] for b in change["upsert"]] == [batch.id], change
                assert change["removed"] == []
                assert ("order" in change) == (find(state, batch.id) is None)
                assert "stores" not in change
                state = apply(state, change)
                sizes.append(len(data))
            await client.messages.batches.delete(ended[3])
            name, data = await anext(stream)
            change = json.loads(data)
            assert (name, change["upsert"], change["removed"]) == ("delta", [], [ended[3]])
            state = apply(state, change)
    assert state["batches"][0]["id"] == batch.id
    assert ended[3] not in [b["id"] for b in state["batches"]]
    assert len(state["batches"]) == 20
    assert max(sizes) < full_size / 5, (sizes, full_size)


def _snapshot(batches: dict[str, dict[str, Any]], stores: list[Any], listed: bool) -> Snapshot:
    return Snapshot(
        order=tuple(batches),
        batches={i: json.dumps(b, sort_keys=True) for i, b in batches.items()},
        stores=json.dumps(stores),
        meta=json.dumps({"batches_error": None, "listed": listed})[1:-1],
    )


def test_a_delta_over_skipped_states_brings_a_slow_page_to_the_newest() -> None:
    def batch(i: str, status: str) -> dict[str, Any]:
        return {"id": i, "processing_status": status}

    sent = _snapshot({"b": batch("b", "in_progress"), "a": batch("a", "ended")}, [], False)
    # Skipped by the page: "b" ends, "c" appears, then "a" is deleted and "d" appears.
    _snapshot({"c": batch("c", "in_progress"), "b": batch("b", "ended")}, [], True)
    newest = _snapshot(
        {"d": batch("d", "in_progress"), "c": batch("c", "ended"), "b": batch("b", "ended")},
        [{"name": "job.db"}],
        True,
    )
    text = delta(sent, newest)
    assert text is not None
    change = json.loads(text)
    assert sorted(b["id"] for b in change["upsert"]) == ["b", "c", "d"]
    assert change["removed"] == ["a"]
    assert apply(json.loads(sent.full()), change) == json.loads(newest.full())
    assert delta(newest, newest) is None
    # Nothing but one batch changed: no order, no stores sent.
    later = _snapshot(
        {"d": batch("d", "ended"), "c": batch("c", "ended"), "b": batch("b", "ended")},
        [{"name": "job.db"}],
        True,
    )
    change = json.loads(delta(newest, later) or "{}")
    assert [b["id"] for b in change["upsert"]] == ["d"]
    assert "order" not in change
    assert "stores" not in change
    assert apply(json.loads(newest.full()), change) == json.loads(later.full())


async def test_a_job_store_written_while_the_page_is_open_is_shown_as_it_changes(
    client: Client, tmp_path: Path
) -> None:
    store = tmp_path / "later.db"  # not there yet: an error shown, then the job
    async with (
        serve(client, stores=[store], interval=0.5, store_interval=0.05) as served,
        served.http.get(served.at("/events")) as response,
    ):
        pushed = states(response)
        async with asyncio.timeout(4):
            async for state in pushed:
                if state["stores"] and "error" in state["stores"][0]:
                    break
            job = client.messages.batches.run(requests(6, "w"), store=store, interval=0.05)
            await job
            async for state in pushed:
                summary = state["stores"][0].get("summary")
                if summary and summary["succeeded"] == 6:
                    break
    assert summary["requests"] == 6
