"""Every body the emulator sends validates against the official OpenAPI description.

The OpenAPI document (``anthropic-message-batches.openapi.json``) is read from the shared
reference directory, never copied into the repository; without it these tests skip and
say why. Its schemas are JSON Schema 2020-12 (OpenAPI 3.1); ``$ref``s resolve through a
``referencing`` registry holding the whole document, and ``discriminator`` is ignored
(each ``oneOf`` still has to match exactly one branch). ``date-time`` formats are checked.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from rxbatches import MAX_BODY_BYTES, Request
from rxbatches.emulator import Emulator, Fail, ManualClock, Succeed, default_responder
from tests.conftest import API_KEY, REFERENCE_DIR

from ._wire import API_VERSION, BATCHES, simple_request

SPEC_FILE = "anthropic-message-batches.openapi.json"
SPEC_URI = "urn:rxbatches:reference:message-batches-openapi"
LATENCY = 1.0
START = datetime(2025, 1, 1, tzinfo=UTC)
DAY = 24 * 60 * 60

# ------------------------------------------------------------------------ the schemas

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _is_date_time(value: object) -> bool:
    """RFC 3339 ``date-time``: the shape, then real calendar and clock values."""
    if not isinstance(value, str):
        return True  # format only constrains strings
    if not _RFC3339.fullmatch(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # raises on 2025-02-30
    return True


FORMATS = FormatChecker(formats=())
FORMATS.checks("date-time", raises=ValueError)(_is_date_time)


@cache
def _registry() -> Registry[Any] | None:
    path = REFERENCE_DIR / SPEC_FILE
    if not path.is_file():
        return None
    document = json.loads(path.read_text(encoding="utf-8"))
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    return registry


@cache
def _validator(schema_name: str) -> Any:
    registry = _registry()
    assert registry is not None
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(schema, registry=registry, format_checker=FORMATS)


def conforms(schema_name: str, instance: Any) -> None:
    """Assert that ``instance`` validates against the spec's ``schema_name``."""
    error = best_match(_validator(schema_name).iter_errors(instance))
    assert error is None, (
        f"not a valid {schema_name}: {error.message} at {list(error.absolute_path)}"
        f" (schema path {list(error.absolute_schema_path)})"
    )


@pytest.fixture(autouse=True)
def _needs_spec() -> None:
    if _registry() is None:
        pytest.skip(
            f"the official OpenAPI document {SPEC_FILE} is not in {REFERENCE_DIR} "
            "(set RXBATCHES_REFERENCE_DIR to the directory that holds it)"
        )


def test_schema_check_rejects_what_the_spec_forbids() -> None:
    # The checker itself must be able to fail, or every other test here proves nothing.
    batch = {
        "id": "msgbatch_x",
        "type": "message_batch",
        "processing_status": "in_progress",
        "request_counts": dict.fromkeys(
            ("processing", "succeeded", "errored", "canceled", "expired"), 0
        ),
        "created_at": "2025-01-01T00:00:00Z",
        "expires_at": "2025-01-02T00:00:00Z",
        "ended_at": None,
        "cancel_initiated_at": None,
        "archived_at": None,
        "results_url": None,
    }
    conforms("MessageBatch", batch)
    for broken in (
        {**batch, "processing_status": "done"},
        {**batch, "created_at": "2025-01-01 00:00"},
        {**batch, "created_at": "2025-02-30T00:00:00Z"},
        {k: v for k, v in batch.items() if k != "results_url"},
        {**batch, "request_counts": {"processing": 0}},
    ):
        with pytest.raises(AssertionError, match="not a valid MessageBatch"):
            conforms("MessageBatch", broken)
    with pytest.raises(AssertionError, match="not a valid MessageBatchIndividualResponse"):
        conforms("MessageBatchIndividualResponse", {"custom_id": "a", "result": {"type": "won"}})


# ------------------------------------------------------------------------ the emulator


def _responder(request: Request) -> Succeed | Fail:
    if request.custom_id.startswith("fail"):
        return Fail("overloaded_error", "failed on purpose")
    if request.custom_id.startswith("slow"):
        return Succeed(latency=2 * DAY)  # still running when the batch expires
    return default_responder(request)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Api:
    """Raw HTTP to the emulator; checks the ``request-id`` header of every answer."""

    def __init__(self, emu: Emulator, session: aiohttp.ClientSession) -> None:
        self.emu = emu
        self.session = session
        self.request_ids: list[str] = []

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
        version: bool = True,
    ) -> Answer:
        sent: dict[str, str] = {"content-type": "application/json"} if body is not None else {}
        if auth:
            sent["x-api-key"] = API_KEY
        if version:
            sent["anthropic-version"] = API_VERSION
        sent.update(headers or {})
        async with self.session.request(
            method, self.emu.base_url + path, data=body, headers=sent
        ) as response:
            headers = {name.lower(): value for name, value in response.headers.items()}
            answer = Answer(response.status, headers, await response.read())
        request_id = answer.headers.get("request-id")
        assert request_id, f"{method} {path} answered {answer.status} without a request-id"
        assert request_id not in self.request_ids, "request-id repeated"
        self.request_ids.append(request_id)
        if answer.status >= 400 or not path.endswith("/results"):
            assert answer.headers["content-type"].startswith("application/json")
        return answer

    async def ok(self, method: str, path: str, schema: str, **kwargs: Any) -> dict[str, Any]:
        answer = await self.call(method, path, **kwargs)
        assert answer.status == 200, answer.body
        body: dict[str, Any] = answer.json()
        conforms(schema, body)
        return body

    async def create(self, *custom_ids: str) -> dict[str, Any]:
        requests = [simple_request(custom_id) for custom_id in custom_ids]
        body = json.dumps({"requests": requests}).encode()
        return await self.ok("POST", BATCHES, "MessageBatch", body=body)

    async def retrieve(self, batch_id: str) -> dict[str, Any]:
        return await self.ok("GET", f"{BATCHES}/{batch_id}", "MessageBatch")

    async def cancel(self, batch_id: str) -> dict[str, Any]:
        return await self.ok("POST", f"{BATCHES}/{batch_id}/cancel", "MessageBatch")

    async def list_page(self, query: str = "") -> dict[str, Any]:
        return await self.ok("GET", f"{BATCHES}{query}", "ListResponse_MessageBatch_")

    async def results(self, batch_id: str) -> list[dict[str, Any]]:
        answer = await self.call("GET", f"{BATCHES}/{batch_id}/results")
        assert answer.status == 200, answer.body
        assert answer.headers["content-type"].startswith("application/x-jsonl")
        lines = answer.body.decode("utf-8").split("\n")
        assert lines[-1] == "", "the JSONL file does not end with a newline"
        items = []
        for number, line in enumerate(lines[:-1], start=1):
            assert line.strip(), f"blank results line {number}"
            item = json.loads(line)
            conforms("MessageBatchIndividualResponse", item)
            items.append(item)
        return items

    def advance(self, seconds: float) -> None:
        clock = self.emu.clock
        assert isinstance(clock, ManualClock)
        clock.advance(seconds)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with (
        Emulator(
            clock=ManualClock(START),
            request_latency=LATENCY,
            concurrency=1,
            responder=_responder,
            api_keys={API_KEY},
        ) as emu,
        aiohttp.ClientSession() as session,
    ):
        yield Api(emu, session)


# ------------------------------------------------------------------------ batches


async def test_create_retrieve_and_cancel_bodies_conform_in_every_processing_status(
    api: Api,
) -> None:
    created = await api.create("a", "b")
    assert created["processing_status"] == "in_progress"
    assert (await api.retrieve(created["id"]))["processing_status"] == "in_progress"

    other = await api.create("c", "d", "e")
    canceled = await api.cancel(other["id"])
    assert canceled["processing_status"] == "canceling"
    assert (await api.retrieve(other["id"]))["processing_status"] == "canceling"

    api.advance(10 * LATENCY)
    for batch_id in (created["id"], other["id"]):
        ended = await api.retrieve(batch_id)
        assert ended["processing_status"] == "ended"
        assert ended["results_url"] is not None


async def test_list_pages_conform_empty_and_full(api: Api) -> None:
    empty = await api.list_page()
    assert empty == {"data": [], "has_more": False, "first_id": None, "last_id": None}

    ids = [(await api.create("a"))["id"] for _ in range(3)]
    first = await api.list_page("?limit=2")
    assert first["has_more"] is True
    assert [b["id"] for b in first["data"]] == ids[:0:-1]
    second = await api.list_page(f"?limit=2&after_id={first['last_id']}")
    assert second["has_more"] is False
    assert [b["id"] for b in second["data"]] == ids[:1]
    backwards = await api.list_page(f"?limit=2&before_id={ids[0]}")
    assert [b["id"] for b in backwards["data"]] == ids[:0:-1]


async def test_delete_body_conforms(api: Api) -> None:
    batch = await api.create("a")
    api.advance(2 * LATENCY)

    deleted = await api.ok("DELETE", f"{BATCHES}/{batch['id']}", "DeleteMessageBatchResponse")

    assert deleted == {"id": batch["id"], "type": "message_batch_deleted"}


# ------------------------------------------------------------------------ results


async def test_every_results_line_conforms_for_all_four_result_types(api: Api) -> None:
    canceled = await api.create("ok-0", "ok-1", "ok-2")
    await api.cancel(canceled["id"])
    # One slot: ok-0 then fail-1 complete, slow-2 is still running at 24 h, ok-3 never
    # starts; both of the last two expire.
    mixed = await api.create("ok-0", "fail-1", "slow-2", "ok-3")
    api.advance(DAY + 1)

    kinds = {item["custom_id"]: item["result"]["type"] for item in await api.results(mixed["id"])}
    assert kinds == {
        "ok-0": "succeeded",
        "fail-1": "errored",
        "slow-2": "expired",
        "ok-3": "expired",
    }
    canceled_kinds = [item["result"]["type"] for item in await api.results(canceled["id"])]
    assert sorted(canceled_kinds)[-2:] == ["canceled", "canceled"]
    assert set(canceled_kinds) <= {"succeeded", "canceled"}

    errored = next(item for item in await api.results(mixed["id"]) if item["custom_id"] == "fail-1")
    assert errored["result"]["error"]["error"] == {
        "type": "overloaded_error",
        "message": "failed on purpose",
    }
    ended = await api.retrieve(mixed["id"])
    counts = ended["request_counts"]
    assert (counts["succeeded"], counts["errored"], counts["expired"]) == (1, 1, 2)


async def test_todays_fields_conform_though_the_spec_lags_behind_them(api: Api) -> None:
    # The spec predates Message.diagnostics and Usage.speed (the official SDKs declare both).
    # Its response schemas leave additionalProperties open, so the results lines above
    # validate with them; this test makes that assumption explicit, so a spec that closes
    # them fails here, naming the reason, instead of failing every results test.
    document = json.loads((REFERENCE_DIR / SPEC_FILE).read_text(encoding="utf-8"))
    schemas = document["components"]["schemas"]
    for name in ("Message", "Usage"):
        assert schemas[name].get("additionalProperties", True) is not False, name
        assert "unevaluatedProperties" not in schemas[name], name

    batch = await api.create("ok-0")
    api.advance(2 * LATENCY)
    (item,) = await api.results(batch["id"])  # each line is checked against the spec

    message = item["result"]["message"]
    assert message["diagnostics"] is None
    assert message["usage"]["speed"] == "standard"
    conforms("Message", message)
    conforms("Message", {**message, "diagnostics": {"cache_miss_reason": {"type": "unavailable"}}})


# ------------------------------------------------------------------------ errors


def _error(answer: Answer, status: int, error_type: str) -> dict[str, Any]:
    assert answer.status == status, answer.body
    body: dict[str, Any] = answer.json()
    conforms("ErrorResponse", body)
    assert body["error"]["type"] == error_type
    assert body["error"]["message"]
    assert body["request_id"] == answer.headers["request-id"]
    return body


def _create_body(requests: Iterable[Any]) -> bytes:
    return json.dumps({"requests": list(requests)}).encode()


async def test_authentication_errors_conform(api: Api) -> None:
    missing = await api.call("GET", BATCHES, auth=False)
    _error(missing, 401, "authentication_error")
    wrong = await api.call("GET", BATCHES, auth=False, headers={"x-api-key": "sk-ant-wrong"})
    _error(wrong, 401, "authentication_error")
    bearer_wrong = await api.call(
        "GET", BATCHES, auth=False, headers={"authorization": "Bearer sk-ant-wrong"}
    )
    _error(bearer_wrong, 401, "authentication_error")
    bearer_right = await api.call(
        "GET", BATCHES, auth=False, headers={"authorization": f"Bearer {API_KEY}"}
    )
    assert bearer_right.status == 200  # the check above failed for the key, not the scheme


@pytest.mark.parametrize(
    ("method", "path", "body", "needle"),
    [
        ("POST", BATCHES, b"{not json", "body"),
        ("POST", BATCHES, b"[]", "body"),
        ("POST", BATCHES, _create_body([]), "requests"),
        ("POST", BATCHES, b'{"requests": [], "extra": 1}', "extra"),
        ("POST", BATCHES, _create_body([simple_request("bad id")]), "requests[0].custom_id"),
        (
            "POST",
            BATCHES,
            _create_body([simple_request("a"), simple_request("a")]),
            "requests[1].custom_id",
        ),
        ("POST", BATCHES, _create_body([simple_request("a", stream=True)]), "stream"),
        ("GET", f"{BATCHES}?limit=0", None, "limit"),
        ("GET", f"{BATCHES}?limit=1001", None, "limit"),
        ("GET", f"{BATCHES}?limit=ten", None, "limit"),
        ("GET", f"{BATCHES}?color=blue", None, "color"),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "no-requests",
        "unknown-field",
        "bad-custom-id",
        "duplicate-custom-id",
        "stream",
        "limit-0",
        "limit-1001",
        "limit-not-a-number",
        "unknown-query-parameter",
    ],
)
async def test_bad_request_errors_conform_and_name_the_culprit(
    api: Api, method: str, path: str, body: bytes | None, needle: str
) -> None:
    error = _error(await api.call(method, path, body=body), 400, "invalid_request_error")

    assert needle in error["error"]["message"]
    assert api.emu.batch_ids() == []


async def test_missing_anthropic_version_is_a_conforming_bad_request(api: Api) -> None:
    error = _error(await api.call("GET", BATCHES, version=False), 400, "invalid_request_error")

    assert "anthropic-version" in error["error"]["message"]


async def test_operations_refused_before_the_end_are_conforming_bad_requests(api: Api) -> None:
    batch = await api.create("a")

    for method, path in (
        ("DELETE", f"{BATCHES}/{batch['id']}"),
        ("GET", f"{BATCHES}/{batch['id']}/results"),
    ):
        _error(await api.call(method, path), 400, "invalid_request_error")


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("POST", "/cancel"), ("DELETE", ""), ("GET", "/results")],
    ids=["retrieve", "cancel", "delete", "results"],
)
async def test_unknown_batch_errors_conform(api: Api, method: str, suffix: str) -> None:
    answer = await api.call(method, f"{BATCHES}/msgbatch_nonexistent{suffix}")

    _error(answer, 404, "not_found_error")


async def _raw_exchange(base_url: str, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send a bare request head on a fresh socket and read one response."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers["content-length"]))
    finally:
        writer.close()
        await writer.wait_closed()
    return int(status_line.split()[1]), headers, body


async def test_oversized_create_is_refused_with_request_too_large(api: Api) -> None:
    # Announcing the size is enough: a server may refuse before reading the body, which
    # keeps this test from pushing 256 MiB through the loopback.
    head = (
        f"POST {BATCHES} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {API_KEY}\r\n"
        f"anthropic-version: {API_VERSION}\r\ncontent-type: application/json\r\n"
        f"content-length: {MAX_BODY_BYTES + 1}\r\n\r\n"
    ).encode()

    status, headers, raw = await _raw_exchange(api.emu.base_url, head)

    assert status == 413
    assert headers.get("request-id")
    body = json.loads(raw)
    # The spec's ErrorResponse lists no error type for 413, although the API documents
    # `request_too_large`: check the envelope with that one branch added.
    error = body.pop("error")
    conforms("ErrorResponse", {**body, "error": {"type": "api_error", "message": "x"}})
    assert error["type"] == "request_too_large"
    assert isinstance(error["message"], str)
    assert set(error) == {"type", "message"}
    assert body["request_id"] == headers["request-id"]
