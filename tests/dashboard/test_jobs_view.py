"""A job store on the dashboard: results over time, errors by type, the export download.

Real sockets: the emulator and the dashboard each on 127.0.0.1, port 0.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rxbatches import Client, JobStore
from rxbatches._base.models import Request
from rxbatches._jobs.lines import attempt
from rxbatches.dashboard._app import _EXPORT_CHUNK
from rxbatches.emulator import Emulator, Fail, Outcome, default_responder

from .helpers import requests, serve, states

SECRET = "sk-ant-dashboard-jobs-0123456789"


def _responder(request: Request) -> Outcome:
    # One request in 4 is refused for good (never retried): errors by type to show.
    if request.custom_id.endswith(("3", "7")):
        return Fail("invalid_request_error", "rejected by the test")
    return default_responder(request)


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with (
        Emulator(request_latency=0.001, responder=_responder) as emu,
        Client(api_key=SECRET, base_url=emu.base_url) as client,
    ):
        yield client


@pytest.fixture
async def job(client: Client, tmp_path: Path) -> Path:
    """A finished job of 20 requests: 16 succeeded, 4 errored."""
    store = tmp_path / "my job.db"
    async with asyncio.timeout(4):
        await client.messages.batches.run(requests(20, "j"), store=store, interval=0.05)
    return store


async def _first_store_view(client: Client, **options: Any) -> dict[str, Any]:
    async with (
        serve(client, interval=0.5, **options) as served,
        served.http.get(served.at("/events")) as response,
    ):
        async with asyncio.timeout(3):
            async for state in states(response):
                if state["stores"]:
                    return dict(state["stores"][0])
    raise AssertionError("no store pushed")


async def test_the_pushed_store_view_has_its_results_over_time_and_errors_by_type(
    client: Client, job: Path
) -> None:
    view = await _first_store_view(client, stores=[job])
    summary = view["summary"]
    assert (summary["succeeded"], summary["errored"]) == (16, 4)
    assert view["errors"] == {"invalid_request_error": 4}
    assert view["timeline"]["buckets"] == 60
    timeline = view["timeline"]["points"]
    assert 2 <= len(timeline) <= 61
    assert timeline[0][1:] == [0, 0, 0]
    assert timeline[-1][1:] == [16, 4, 0]  # succeeded, errored, expired or canceled
    times = [point[0] for point in timeline]
    assert times == sorted(times)
    with JobStore.open(job, lock=False) as store:
        first = store.timeline()[0]
    assert times[0] == round(first.at, 3)
    # Small: the view of a store with its chart is a few hundred bytes, not its results.
    assert len(json.dumps(view)) < 4000


async def test_the_export_route_streams_the_jobs_export_lines_as_an_attachment(
    client: Client, job: Path
) -> None:
    with JobStore.open(job, lock=False) as store:
        expected = [line.decode() for line in store.export_lines()]
    assert len(expected) == 20
    async with (
        serve(client, stores=[job]) as served,
        served.http.get(served.at("/stores/0/export")) as response,
    ):
        assert response.status == 200
        assert response.content_type == "application/x-ndjson"
        disposition = response.headers["Content-Disposition"]
        assert disposition == 'attachment; filename="my_job_export.jsonl"'
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        body = await response.text()
    assert body.endswith("\n")
    assert body.splitlines() == expected
    assert sorted(json.loads(line)["custom_id"] for line in expected) == sorted(
        f"j{i}" for i in range(20)
    )


async def test_the_export_route_needs_the_token_and_answers_404_for_an_unknown_store(
    client: Client, job: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.db"
    async with serve(client, stores=[job, missing]) as served:
        for query in ("", "?token=", "?token=wrong", f"?token={served.token}x"):
            async with served.http.get(served.url + "/stores/0/export" + query) as response:
                assert response.status == 403, query
                assert "attachment" not in response.headers.get("Content-Disposition", "")
                assert "j0" not in await response.text()
        for index in ("2", "99", "x", "-1", "1.0", "\u0661"):
            async with served.http.get(served.at(f"/stores/{index}/export")) as response:
                assert response.status == 404, index
                assert (await response.json())["error"] == "no such job store"
        # A store given but not there (yet): 404, saying why.
        async with served.http.get(served.at("/stores/1/export")) as response:
            assert response.status == 404
            assert "no job store at" in (await response.json())["error"]
        assert not missing.exists()  # an export never creates a store


async def test_a_large_export_arrives_whole_and_in_order_over_several_chunks(
    client: Client, tmp_path: Path
) -> None:
    # Written straight into a store (no batch needed): more lines than one chunk holds.
    count = 2 * _EXPORT_CHUNK + 7
    path = tmp_path / "big.db"
    with JobStore.open(path) as store:
        store.ingest(requests(count, "b"))
        reserved = store.reserve(count, 100_000_000)
        assert reserved is not None
        intent, _ = reserved
        store.record_created(intent.key, "msgbatch_big", "{}", False)
        lines = []
        for i in range(count):
            parsed = {"custom_id": f"b{i}", "result": {"type": "expired"}}
            lines.append(attempt(f"b{i}", json.dumps(parsed).encode(), parsed))
        store.write_results(intent.key, lines, 0, False)
    async with (
        serve(client, stores=[path]) as served,
        served.http.get(served.at("/stores/0/export")) as response,
    ):
        assert response.status == 200
        got = [json.loads(line)["custom_id"] async for line in response.content]
    assert got == [f"b{i}" for i in range(count)]
