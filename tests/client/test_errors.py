"""Non-2xx answers, malformed bodies and transport failures become the typed errors."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from rxbatches import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BatchService,
    Client,
    ConflictError,
    InternalServerError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    RequestOptions,
    RequestTooLargeError,
    UnprocessableEntityError,
)
from rxbatches.emulator import Emulator, Fault
from tests.conftest import API_KEY

from .helpers import outcome

NO_RETRY = RequestOptions(max_retries=0)


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (400, BadRequestError, "invalid_request_error"),
        (401, AuthenticationError, "authentication_error"),
        (403, PermissionDeniedError, "permission_error"),
        (404, NotFoundError, "not_found_error"),
        (409, ConflictError, "conflict_error"),
        (413, RequestTooLargeError, "request_too_large"),
        (422, UnprocessableEntityError, "invalid_request_error"),
        (429, RateLimitError, "rate_limit_error"),
        (500, InternalServerError, "api_error"),
        (529, OverloadedError, "overloaded_error"),
    ],
)
async def test_each_status_becomes_its_typed_error_with_status_request_id_body_and_headers(
    batches: BatchService,
    emulator: Emulator,
    status: int,
    error_class: type[APIStatusError],
    error_type: str,
) -> None:
    emulator.faults.script(
        "retrieve", Fault.status(status, headers={"x-extra": "1"}, error_type=error_type)
    )

    result = await outcome(batches.retrieve("msgbatch_x", options=NO_RETRY))

    error = result.error
    assert type(error) is error_class
    assert error.status_code == status
    assert error.request_id is not None
    assert error.request_id == error.headers["request-id"]
    assert error.headers["x-extra"] == "1"
    assert error.error_type == error_type
    assert error.body["error"]["message"] == f"Injected fault: status {status}."
    assert f"Injected fault: status {status}." in str(error)
    assert error.request_id in str(error)
    assert error.method == "GET"
    assert error.url.endswith("/v1/messages/batches/msgbatch_x")


async def test_a_non_json_error_body_is_kept_as_text(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script("retrieve", Fault.status(502, body=b"<html>bad gateway</html>"))

    result = await outcome(batches.retrieve("msgbatch_x", options=NO_RETRY))

    assert isinstance(result.error, InternalServerError)
    assert result.error.body == "<html>bad gateway</html>"
    assert "bad gateway" in str(result.error)


@pytest.mark.parametrize(
    "body", [b"not json", b'{"id": "x"}', b"[]", b'{"id": 1, "type": "message_batch"}']
)
async def test_a_2xx_with_a_malformed_body_is_a_response_validation_error(
    batches: BatchService, emulator: Emulator, body: bytes
) -> None:
    emulator.faults.script("retrieve", Fault.status(200, body=body))

    result = await outcome(batches.retrieve("msgbatch_x"))

    assert isinstance(result.error, APIResponseValidationError)
    assert result.error.status_code == 200
    assert "MessageBatch" in str(result.error)
    assert emulator.stats.requests["retrieve"] == 1


async def test_a_malformed_page_is_a_response_validation_error(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script("list", Fault.status(200, body=b'{"data": 3}'))

    result = await outcome(batches.list())

    assert isinstance(result.error, APIResponseValidationError)
    assert result.items == []


async def test_a_redirect_is_not_followed_and_is_an_error(
    batches: BatchService, emulator: Emulator
) -> None:
    async with Emulator() as elsewhere:
        emulator.faults.script(
            "retrieve",
            Fault.status(307, headers={"location": f"{elsewhere.base_url}/v1/messages/batches/x"}),
        )
        result = await outcome(batches.retrieve("x"))

        assert type(result.error) is APIStatusError
        assert result.error.status_code == 307
        assert "redirect" in str(result.error)
        assert sum(elsewhere.stats.requests.values()) == 0


async def test_a_read_timeout_is_an_api_timeout_error(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script("retrieve", Fault.delay(0.5))

    result = await outcome(
        batches.retrieve("msgbatch_x", options=RequestOptions(timeout=0.05, max_retries=0))
    )

    assert isinstance(result.error, APITimeoutError)
    assert isinstance(result.error, TimeoutError)
    assert isinstance(result.error, APIConnectionError)
    assert "timed out" in str(result.error)


async def test_transport_errors_never_leak_aiohttp_exceptions(emulator: Emulator) -> None:
    emulator.faults.script("retrieve", Fault.reset(), Fault.reset(), Fault.reset())
    async with Client(api_key=API_KEY, base_url=emulator.base_url, max_retries=0) as client:
        result = await outcome(client.messages.batches.retrieve("x"))

    assert isinstance(result.error, APIConnectionError)
    assert not isinstance(result.error, aiohttp.ClientError)
    assert not isinstance(result.error, asyncio.CancelledError)


async def test_an_error_raised_by_on_next_goes_to_on_error(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch([])
    errors: list[Exception] = []
    done = asyncio.Event()

    def on_next(_: object) -> None:
        raise RuntimeError("observer bug")

    def on_error(error: Exception) -> None:
        errors.append(error)
        done.set()

    batches.retrieve(batch_id).subscribe(on_next, on_error)
    await asyncio.wait_for(done.wait(), 5)

    assert [str(e) for e in errors] == ["observer bug"]


async def test_an_error_without_on_error_is_reported_to_the_loop_not_raised(
    batches: BatchService,
) -> None:
    loop = asyncio.get_running_loop()
    reported: list[BaseException] = []
    done = asyncio.Event()

    def handler(_: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        exc = context.get("exception")
        assert isinstance(exc, BaseException)
        reported.append(exc)
        done.set()

    loop.set_exception_handler(handler)
    try:
        batches.retrieve("msgbatch_missing").subscribe()  # no on_error: reactivex re-raises
        await asyncio.wait_for(done.wait(), 5)
    finally:
        loop.set_exception_handler(None)

    assert len(reported) == 1
    assert isinstance(reported[0], NotFoundError)
