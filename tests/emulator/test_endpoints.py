"""The emulator's six endpoints over real sockets: happy paths, errors, lifecycle."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from rxbatches import Request
from rxbatches.emulator import Emulator, Fail, ManualClock, Outcome, Succeed, default_responder
from tests.conftest import API_KEY

HEADERS = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
PATH = "/v1/messages/batches"
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def body(n: int, prefix: str = "req") -> dict[str, Any]:
    return {
        "requests": [
            {
                "custom_id": f"{prefix}-{i}",
                "params": {
                    "model": "claude-test",
                    "max_tokens": 64,
                    "messages": [{"role": "user", "content": f"question number {i}"}],
                },
            }
            for i in range(n)
        ]
    }


@pytest.fixture
async def session(emulator: Emulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(emulator.base_url, headers=HEADERS) as s:
        yield s


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def manual(clock: ManualClock) -> AsyncIterator[Emulator]:
    """An emulator on a manual clock: 1 s per request, 2 at a time."""
    async with Emulator(clock=clock, request_latency=1.0, concurrency=2) as emu:
        yield emu


@pytest.fixture
async def msession(manual: Emulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(manual.base_url, headers=HEADERS) as s:
        yield s


async def call(
    s: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with s.request(method, path, **kwargs) as r:
        raw = await r.read()
        return r.status, json.loads(raw) if raw else None, r


async def create(s: aiohttp.ClientSession, n: int = 3, prefix: str = "req") -> dict[str, Any]:
    status, batch, _ = await call(s, "POST", PATH, json=body(n, prefix))
    assert status == 200, batch
    return batch  # type: ignore[no-any-return]


async def results(s: aiohttp.ClientSession, batch_id: str) -> list[dict[str, Any]]:
    async with s.get(f"{PATH}/{batch_id}/results") as r:
        assert r.status == 200
        assert r.headers["content-type"] == "application/x-jsonl"
        return [json.loads(line) for line in (await r.read()).splitlines()]


def assert_error(status: int, payload: Any, want_status: int, kind: str, *words: str) -> None:
    assert status == want_status, payload
    assert payload["type"] == "error"
    assert payload["error"]["type"] == kind
    assert payload["request_id"].startswith("req_")
    for word in words:
        assert word in payload["error"]["message"]


# --------------------------------------------------------------------------- happy paths


async def test_create_returns_an_in_progress_batch_with_every_field(
    msession: aiohttp.ClientSession, manual: Emulator
) -> None:
    batch = await create(msession, 3)
    assert batch["id"].startswith("msgbatch_")
    assert batch["type"] == "message_batch"
    assert batch["processing_status"] == "in_progress"
    assert batch["request_counts"] == {
        "processing": 3,
        "succeeded": 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert batch["created_at"] == "2025-03-01T12:00:00Z"
    assert batch["expires_at"] == "2025-03-02T12:00:00Z"
    for key in ("ended_at", "cancel_initiated_at", "archived_at", "results_url"):
        assert batch[key] is None
    assert manual.batch_ids() == [batch["id"]]


async def test_retrieve_returns_the_created_batch(msession: aiohttp.ClientSession) -> None:
    batch = await create(msession)
    status, got, _ = await call(msession, "GET", f"{PATH}/{batch['id']}")
    assert status == 200
    assert got == batch


async def test_small_batch_ends_on_the_real_clock(
    session: aiohttp.ClientSession, emulator: Emulator
) -> None:
    batch = await create(session, 5)
    await emulator.wait_for(lambda: emulator.batch(batch["id"]).ended, timeout=5)
    _, got, _ = await call(session, "GET", f"{PATH}/{batch['id']}")
    assert got["processing_status"] == "ended"
    assert got["request_counts"]["succeeded"] == 5
    assert got["results_url"] == f"{emulator.base_url}{PATH}/{batch['id']}/results"
    lines = await results(session, batch["id"])
    assert sorted(line["custom_id"] for line in lines) == [f"req-{i}" for i in range(5)]


async def test_default_results_are_deterministic_messages_with_full_usage(
    msession: aiohttp.ClientSession, manual: Emulator, clock: ManualClock
) -> None:
    first = await create(msession, 2)
    second = await create(msession, 2)
    clock.advance(10)
    a = await results(msession, first["id"])
    b = await results(msession, second["id"])
    assert [x["result"]["type"] for x in a] == ["succeeded", "succeeded"]
    message = a[0]["result"]["message"]
    assert message["role"] == "assistant"
    assert message["model"] == "claude-test"
    assert "question number 0" in message["content"][0]["text"]
    for key in ("stop_details", "container", "stop_sequence"):
        assert key in message
    usage = message["usage"]
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] > 0
    assert {"cache_creation", "inference_geo", "output_tokens_details", "server_tool_use"} <= set(
        usage
    )
    assert a[0]["result"]["message"]["content"] == b[0]["result"]["message"]["content"]
    assert a[0]["result"]["message"]["content"] != a[1]["result"]["message"]["content"]


async def test_results_are_streamed_in_chunks_of_the_configured_size() -> None:
    async with (
        Emulator(clock=ManualClock(START), request_latency=0, results_chunk_size=512) as emu,
        aiohttp.ClientSession(emu.base_url, headers=HEADERS) as s,
    ):
        batch = await create(s, 50)
        async with s.get(f"{PATH}/{batch['id']}/results") as r:
            assert "content-length" not in r.headers
            chunks = [chunk async for chunk, _ in r.content.iter_chunks()]
        data = b"".join(chunks)
        assert len(data.splitlines()) == 50
        assert len(chunks) > 1
        await emu.wait_for(lambda: emu.stats.results_completed == 1)


async def test_list_is_newest_first_with_cursors(msession: aiohttp.ClientSession) -> None:
    ids = [(await create(msession, 1))["id"] for _ in range(5)]
    newest_first = ids[::-1]

    _, page, _ = await call(msession, "GET", PATH)
    assert [b["id"] for b in page["data"]] == newest_first
    assert page["has_more"] is False
    assert (page["first_id"], page["last_id"]) == (newest_first[0], newest_first[-1])

    _, page, _ = await call(msession, "GET", PATH, params={"limit": "2"})
    assert [b["id"] for b in page["data"]] == newest_first[:2]
    assert page["has_more"] is True

    _, page, _ = await call(
        msession, "GET", PATH, params={"limit": "2", "after_id": page["last_id"]}
    )
    assert [b["id"] for b in page["data"]] == newest_first[2:4]
    assert page["has_more"] is True

    _, last, _ = await call(
        msession, "GET", PATH, params={"limit": "2", "after_id": page["last_id"]}
    )
    assert [b["id"] for b in last["data"]] == newest_first[4:]
    assert last["has_more"] is False

    # Backwards from the oldest: the page is the 2 batches closest to the cursor.
    _, back, _ = await call(msession, "GET", PATH, params={"limit": "2", "before_id": ids[0]})
    assert [b["id"] for b in back["data"]] == [ids[2], ids[1]]
    assert back["has_more"] is True
    _, back, _ = await call(msession, "GET", PATH, params={"limit": "2", "before_id": ids[2]})
    assert [b["id"] for b in back["data"]] == [ids[4], ids[3]]
    assert back["has_more"] is False


async def test_list_empty_page_has_null_ids(msession: aiohttp.ClientSession) -> None:
    status, page, _ = await call(msession, "GET", PATH)
    assert status == 200
    assert page == {"data": [], "has_more": False, "first_id": None, "last_id": None}


async def test_list_cursor_of_a_deleted_batch_still_pages(
    msession: aiohttp.ClientSession, manual: Emulator, clock: ManualClock
) -> None:
    ids = [(await create(msession, 1))["id"] for _ in range(3)]
    clock.advance(5)
    status, _, _ = await call(msession, "DELETE", f"{PATH}/{ids[1]}")
    assert status == 200
    _, page, _ = await call(msession, "GET", PATH, params={"after_id": ids[1]})
    assert [b["id"] for b in page["data"]] == [ids[0]]


async def test_delete_after_end_removes_the_batch(
    msession: aiohttp.ClientSession, manual: Emulator, clock: ManualClock
) -> None:
    batch = await create(msession, 1)
    clock.advance(1)
    status, deleted, _ = await call(msession, "DELETE", f"{PATH}/{batch['id']}")
    assert status == 200
    assert deleted == {"id": batch["id"], "type": "message_batch_deleted"}
    status, payload, _ = await call(msession, "GET", f"{PATH}/{batch['id']}")
    assert_error(status, payload, 404, "not_found_error", batch["id"])
    assert manual.batch_ids() == []


# --------------------------------------------------------------------------- lifecycle


async def test_processing_counts_down_and_counts_fill_in_at_the_end(
    msession: aiohttp.ClientSession, manual: Emulator, clock: ManualClock
) -> None:
    batch = await create(msession, 5)  # 2 at a time, 1 s each: done at 1, 1, 2, 2, 3 s
    url = f"{PATH}/{batch['id']}"
    seen = []
    for _ in range(3):
        clock.advance(1)
        _, got, _ = await call(msession, "GET", url)
        seen.append((got["processing_status"], got["request_counts"]["processing"]))
        if got["processing_status"] != "ended":
            assert got["request_counts"]["succeeded"] == 0
    assert seen == [("in_progress", 3), ("in_progress", 1), ("ended", 0)]
    assert got["request_counts"]["succeeded"] == 5
    assert got["ended_at"] == "2025-03-01T12:00:03Z"


async def test_responder_decides_errors_and_latency() -> None:
    def responder(request: Request) -> Outcome:
        if request.custom_id == "req-1":
            return Fail("overloaded_error", "too busy")
        if request.custom_id == "req-2":
            return Succeed(latency=10.0)
        return default_responder(request)

    clock = ManualClock(START)
    async with (
        Emulator(clock=clock, request_latency=1.0, responder=responder) as emu,
        aiohttp.ClientSession(emu.base_url, headers=HEADERS) as s,
    ):
        batch = await create(s, 3)
        clock.advance(5)
        assert emu.batch(batch["id"]).request_counts.processing == 1
        clock.advance(5)
        ended = emu.batch(batch["id"])
        assert ended.ended
        assert (ended.request_counts.succeeded, ended.request_counts.errored) == (2, 1)
        by_id = {line["custom_id"]: line["result"] for line in await results(s, batch["id"])}
        assert by_id["req-1"]["type"] == "errored"
        assert by_id["req-1"]["error"]["error"] == {
            "type": "overloaded_error",
            "message": "too busy",
        }
        assert by_id["req-2"]["type"] == "succeeded"


async def test_cancel_moves_to_canceling_then_ends_with_unprocessed_canceled(
    msession: aiohttp.ClientSession, manual: Emulator, clock: ManualClock
) -> None:
    batch = await create(msession, 6)  # 2 at a time, 1 s each
    clock.advance(1.5)  # 2 done, 2 running, 2 waiting
    status, canceling, _ = await call(msession, "POST", f"{PATH}/{batch['id']}/cancel")
    assert status == 200
    assert canceling["processing_status"] == "canceling"
    assert canceling["cancel_initiated_at"] == "2025-03-01T12:00:01.500000Z"
    assert canceling["request_counts"]["processing"] == 4
    clock.advance(1)  # the running ones finish
    _, ended, _ = await call(msession, "GET", f"{PATH}/{batch['id']}")
    assert ended["processing_status"] == "ended"
    assert ended["request_counts"] == {
        "processing": 0,
        "succeeded": 4,
        "errored": 0,
        "canceled": 2,
        "expired": 0,
    }
    kinds = sorted(line["result"]["type"] for line in await results(msession, batch["id"]))
    assert kinds == ["canceled"] * 2 + ["succeeded"] * 4
    # Canceling again is harmless and changes nothing.
    status, again, _ = await call(msession, "POST", f"{PATH}/{batch['id']}/cancel")
    assert (status, again) == (200, ended)


async def test_unprocessed_requests_expire_after_24_hours() -> None:
    clock = ManualClock(START)
    async with (
        Emulator(clock=clock, request_latency=3600.0, concurrency=10) as emu,
        aiohttp.ClientSession(emu.base_url, headers=HEADERS) as s,
    ):
        batch = await create(s, 250)  # 25 rounds of an hour each: the last expire
        clock.advance(23.5 * 3600)
        assert emu.batch(batch["id"]).processing_status == "in_progress"
        clock.advance(0.5 * 3600)
        _, ended, _ = await call(s, "GET", f"{PATH}/{batch['id']}")
        assert ended["processing_status"] == "ended"
        assert ended["ended_at"] == ended["expires_at"]
        assert ended["request_counts"]["succeeded"] == 240
        assert ended["request_counts"]["expired"] == 10
        kinds = [line["result"]["type"] for line in await results(s, batch["id"])]
        assert kinds.count("expired") == 10


async def test_delete_before_end_is_rejected(msession: aiohttp.ClientSession) -> None:
    batch = await create(msession)
    status, payload, _ = await call(msession, "DELETE", f"{PATH}/{batch['id']}")
    assert_error(status, payload, 400, "invalid_request_error", "in_progress")


async def test_results_before_end_are_rejected(msession: aiohttp.ClientSession) -> None:
    batch = await create(msession)
    status, payload, _ = await call(msession, "GET", f"{PATH}/{batch['id']}/results")
    assert_error(status, payload, 400, "invalid_request_error", "not available")


async def test_seeded_ended_batch_serves_its_lines_verbatim(
    msession: aiohttp.ClientSession, manual: Emulator
) -> None:
    lines = [
        b'{"custom_id":"a","result":{"type":"canceled"}}\n',
        b'{"custom_id":"b","result":{"type":"expired"}}\n',
    ]
    batch_id = manual.add_ended_batch(lambda: iter(lines))
    _, got, _ = await call(msession, "GET", f"{PATH}/{batch_id}")
    assert got["processing_status"] == "ended"
    assert got["request_counts"]["canceled"] == 1
    assert got["request_counts"]["expired"] == 1
    assert got["results_url"].startswith(manual.base_url + "/")
    # aiohttp < 3.11 takes only relative URLs on a session with a base_url.
    results_path = got["results_url"][len(manual.base_url) :]
    for _ in range(2):  # a callable source serves every download afresh
        async with msession.get(results_path) as r:
            assert await r.read() == b"".join(lines)


# --------------------------------------------------------------------------- errors


async def test_every_response_has_a_request_id(msession: aiohttp.ClientSession) -> None:
    batch = await create(msession)
    for method, path in [
        ("GET", PATH),
        ("GET", f"{PATH}/{batch['id']}"),
        ("POST", f"{PATH}/{batch['id']}/cancel"),
        ("GET", f"{PATH}/nope"),
        ("GET", "/elsewhere"),
    ]:
        async with msession.request(method, path) as r:
            assert r.headers["request-id"].startswith("req_")


@pytest.mark.parametrize(
    "headers",
    [{"anthropic-version": "2023-06-01"}, {"anthropic-version": "2023-06-01", "x-api-key": ""}],
)
async def test_missing_api_key_is_401(emulator: Emulator, headers: dict[str, str]) -> None:
    async with aiohttp.ClientSession(emulator.base_url) as s:
        status, payload, r = await call(s, "GET", PATH, headers=headers)
    assert_error(status, payload, 401, "authentication_error", "x-api-key")
    assert payload["request_id"] == r.headers["request-id"]


async def test_bearer_token_is_accepted(emulator: Emulator) -> None:
    headers = {"authorization": f"Bearer {API_KEY}", "anthropic-version": "2023-06-01"}
    async with aiohttp.ClientSession(emulator.base_url) as s:
        status, _, _ = await call(s, "GET", PATH, headers=headers)
    assert status == 200
    assert emulator.stats.last_headers["list"]["Authorization"] == f"Bearer {API_KEY}"


async def test_configured_keys_reject_others_without_echoing_them() -> None:
    async with (
        Emulator(api_keys={"good-key"}) as emu,
        aiohttp.ClientSession(emu.base_url) as s,
    ):
        bad = {"x-api-key": "bad-key-123", "anthropic-version": "2023-06-01"}
        status, payload, _ = await call(s, "GET", PATH, headers=bad)
        assert_error(status, payload, 401, "authentication_error")
        assert "bad-key-123" not in json.dumps(payload)
        good = {"x-api-key": "good-key", "anthropic-version": "2023-06-01"}
        status, _, _ = await call(s, "GET", PATH, headers=good)
        assert status == 200


async def test_missing_anthropic_version_is_400(emulator: Emulator) -> None:
    async with aiohttp.ClientSession(emulator.base_url) as s:
        status, payload, _ = await call(s, "GET", PATH, headers={"x-api-key": API_KEY})
    assert_error(status, payload, 400, "invalid_request_error", "anthropic-version")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"requests": []}, "requests"),
        ({}, "requests"),
        ({"requests": [], "extra": 1}, "extra"),
        (
            {"requests": [{"custom_id": "bad id!", "params": body(1)["requests"][0]["params"]}]},
            "requests[0].custom_id",
        ),
        (
            {"requests": [{"custom_id": "x", "params": {"model": "m", "messages": []}}]},
            "requests[0].params.max_tokens",
        ),
        ({"requests": body(1)["requests"] * 2}, "requests[1].custom_id"),
        ([1, 2], "body"),
    ],
)
async def test_bad_create_body_is_400_naming_the_field(
    session: aiohttp.ClientSession, payload: Any, field: str
) -> None:
    status, error, _ = await call(session, "POST", PATH, json=payload)
    assert_error(status, error, 400, "invalid_request_error", field)


async def test_create_body_that_is_not_json_is_400(session: aiohttp.ClientSession) -> None:
    status, error, _ = await call(session, "POST", PATH, data=b"{nope")
    assert_error(status, error, 400, "invalid_request_error", "JSON")


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"page": "2"}, "page"),
        ({"before_id": "msgbatch_a", "after_id": "msgbatch_b"}, "before_id"),
        ({"after_id": "msgbatch_neverissued"}, "after_id"),
    ],
)
async def test_bad_list_query_is_400_naming_the_parameter(
    session: aiohttp.ClientSession, params: dict[str, str], word: str
) -> None:
    status, error, _ = await call(session, "GET", PATH, params=params)
    assert_error(status, error, 400, "invalid_request_error", word)


async def test_unknown_query_parameter_on_retrieve_is_400(session: aiohttp.ClientSession) -> None:
    batch = await create(session, 1)
    status, error, _ = await call(session, "GET", f"{PATH}/{batch['id']}", params={"x": "1"})
    assert_error(status, error, 400, "invalid_request_error", "x")


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("POST", "/cancel"), ("DELETE", ""), ("GET", "/results")],
)
async def test_unknown_batch_id_is_404(
    session: aiohttp.ClientSession, method: str, suffix: str
) -> None:
    status, error, _ = await call(session, method, f"{PATH}/msgbatch_unknown{suffix}")
    assert_error(status, error, 404, "not_found_error", "msgbatch_unknown")


async def test_body_claiming_more_than_256_mib_is_413_without_reading_it(
    emulator: Emulator,
) -> None:
    reader, writer = await __import__("asyncio").open_connection(
        "127.0.0.1", int(emulator.base_url.rsplit(":", 1)[1])
    )
    try:
        writer.write(
            (
                f"POST {PATH} HTTP/1.1\r\nHost: x\r\nx-api-key: {API_KEY}\r\n"
                "anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n"
                f"content-length: {256 * 1024 * 1024 + 1}\r\n\r\n"
                '{"requests": ['
            ).encode()
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413")
        assert b"request-id: req_" in head.lower()
        length = int(
            next(
                line.split(b":")[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
        )
        error = json.loads(await reader.readexactly(length))
        assert_error(413, error, 413, "request_too_large", "body")
    finally:
        writer.close()
        await writer.wait_closed()
