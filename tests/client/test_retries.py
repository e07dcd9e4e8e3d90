"""The retry policy: what is retried, how often, how long it waits, and never a second batch."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest

from rxbatches import (
    APIConnectionError,
    BadRequestError,
    BatchService,
    Client,
    ConflictError,
    CreateOutcomeUnknownError,
    InternalServerError,
    NotFoundError,
    OverloadedError,
    RateLimitError,
    RequestOptions,
)
from rxbatches._transport.retry import MAX_RETRY_AFTER, retry_delay, should_retry_status
from rxbatches.emulator import Emulator, Fault
from tests.conftest import API_KEY

from .helpers import make_requests, outcome

FAST = {"retry-after-ms": "1"}  # keeps the waits of these tests at a millisecond


async def _batch_id(batches: BatchService) -> str:
    return (await batches.create(make_requests(1))).id


async def test_a_529_with_retry_after_ms_is_retried_then_succeeds(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = await _batch_id(batches)
    emulator.faults.script("retrieve", Fault.status(529, headers={"retry-after-ms": "10"}))

    raw = await batches.with_raw_response.retrieve(batch_id)

    assert raw.parse().id == batch_id
    assert raw.retries_taken == 1
    assert emulator.stats.requests["retrieve"] == 2


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
async def test_retryable_statuses_are_retried_up_to_max_retries(
    batches: BatchService, emulator: Emulator, status: int
) -> None:
    batch_id = await _batch_id(batches)
    emulator.faults.script("retrieve", *[Fault.status(status, headers=FAST)] * 2)

    raw = await batches.with_raw_response.retrieve(batch_id)

    assert raw.retries_taken == 2
    assert emulator.stats.requests["retrieve"] == 3


async def test_exhausted_retries_end_in_the_typed_error_of_the_last_answer(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = await _batch_id(batches)
    emulator.faults.script("retrieve", *[Fault.status(529, headers=FAST)] * 3)

    result = await outcome(batches.retrieve(batch_id))

    assert isinstance(result.error, OverloadedError)
    assert result.error.status_code == 529
    assert emulator.stats.requests["retrieve"] == 3


@pytest.mark.parametrize(("retries", "attempts"), [(0, 1), (1, 2), (4, 5)])
async def test_max_retries_option_bounds_the_attempts(
    batches: BatchService, emulator: Emulator, retries: int, attempts: int
) -> None:
    batch_id = await _batch_id(batches)
    emulator.faults.script("retrieve", *[Fault.status(500, headers=FAST)] * 6)

    result = await outcome(batches.retrieve(batch_id, options=RequestOptions(max_retries=retries)))

    assert isinstance(result.error, InternalServerError)
    assert emulator.stats.requests["retrieve"] == attempts


async def test_x_should_retry_false_stops_a_retry(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = await _batch_id(batches)
    emulator.faults.script("retrieve", Fault.status(529, headers={"x-should-retry": "false"}))

    result = await outcome(batches.retrieve(batch_id))

    assert isinstance(result.error, OverloadedError)
    assert emulator.stats.requests["retrieve"] == 1


async def test_x_should_retry_true_forces_a_retry_of_a_4xx(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = await _batch_id(batches)
    emulator.faults.script(
        "retrieve", Fault.status(400, headers={"x-should-retry": "true", **FAST})
    )

    got = await batches.retrieve(batch_id)

    assert got.id == batch_id
    assert emulator.stats.requests["retrieve"] == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
async def test_client_errors_are_not_retried(
    batches: BatchService, emulator: Emulator, status: int
) -> None:
    batch_id = await _batch_id(batches)
    emulator.faults.script("retrieve", Fault.status(status, headers=FAST))
    # The 404 grace of a batch just created is a separate rule (tests/faults).
    no_grace = RequestOptions(not_found_grace=0)

    result = await outcome(batches.retrieve(batch_id, options=no_grace))

    assert result.error is not None
    assert emulator.stats.requests["retrieve"] == 1


async def test_a_reset_connection_is_retried_for_a_request_that_is_safe_to_repeat(
    batches: BatchService, emulator: Emulator
) -> None:
    # Cancel (a POST, safe to repeat) shows the count exactly: for GET and DELETE,
    # aiohttp itself re-sends once on a dropped connection, on top of our retries.
    batch_id = emulator.add_ended_batch([])
    emulator.faults.script("cancel", Fault.reset())

    raw = await batches.with_raw_response.cancel(batch_id)

    assert raw.retries_taken == 1
    assert emulator.stats.requests["cancel"] == 2


async def test_a_reset_connection_exhausting_retries_is_an_api_connection_error(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch([])
    emulator.faults.script("cancel", Fault.reset(), Fault.reset())

    result = await outcome(batches.cancel(batch_id, options=RequestOptions(max_retries=1)))

    assert isinstance(result.error, APIConnectionError)
    assert not isinstance(result.error, aiohttp.ClientError)
    assert result.error.__cause__ is None
    assert emulator.stats.requests["cancel"] == 2


async def test_resets_on_a_retrieve_are_retried_until_it_succeeds(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch([])
    emulator.faults.script("retrieve", Fault.reset(), Fault.reset())

    got = await batches.retrieve(batch_id)

    assert got.id == batch_id
    assert emulator.faults.pending("retrieve") == 0


# --------------------------------------------------------------------------- create


@pytest.mark.parametrize("status", [429, 503, 529])
async def test_a_create_is_retried_when_the_answer_proves_nothing_was_created(
    batches: BatchService, emulator: Emulator, status: int
) -> None:
    emulator.faults.script("create", Fault.status(status, headers=FAST))

    raw = await batches.with_raw_response.create(make_requests(1))

    assert raw.retries_taken == 1
    assert emulator.batch_ids() == [raw.parse().id]


@pytest.mark.parametrize("fault", [Fault.status(500), Fault.status(502), Fault.status(504)])
async def test_a_create_is_not_retried_after_an_ambiguous_server_error(
    batches: BatchService, emulator: Emulator, fault: Fault
) -> None:
    emulator.faults.script("create", fault)

    result = await outcome(batches.create(make_requests(1)))

    assert isinstance(result.error, CreateOutcomeUnknownError)
    assert isinstance(result.error.cause, InternalServerError)
    assert emulator.stats.requests["create"] == 1


async def test_a_create_is_not_retried_after_a_reset_once_the_body_was_sent(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script("create", Fault.reset())

    result = await outcome(batches.create(make_requests(1)))

    assert isinstance(result.error, CreateOutcomeUnknownError)
    assert isinstance(result.error.cause, APIConnectionError)
    assert emulator.stats.requests["create"] == 1


async def test_a_create_ignores_x_should_retry_true(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script("create", Fault.status(409, headers={"x-should-retry": "true"}))

    result = await outcome(batches.create(make_requests(1)))

    assert isinstance(result.error, ConflictError)
    assert emulator.stats.requests["create"] == 1


async def test_a_create_honours_x_should_retry_false_even_on_a_429(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script("create", Fault.status(429, headers={"x-should-retry": "false"}))

    result = await outcome(batches.create(make_requests(1)))

    assert isinstance(result.error, RateLimitError)
    assert emulator.stats.requests["create"] == 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_refused_connection_is_an_api_connection_error_even_for_a_create() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    async with Client(api_key=API_KEY, base_url=url, max_retries=0) as client:
        created = await outcome(client.messages.batches.create(make_requests(1)))
        got = await outcome(client.messages.batches.retrieve("msgbatch_x"))

    assert isinstance(created.error, APIConnectionError)
    assert isinstance(got.error, APIConnectionError)
    assert "127.0.0.1" in str(got.error)


# --------------------------------------------------------------------------- the policy


def test_backoff_doubles_from_half_a_second_up_to_eight_with_jitter() -> None:
    no_jitter = [retry_delay(n, rng=lambda: 0.0) for n in range(6)]
    full_jitter = [retry_delay(n, rng=lambda: 1.0) for n in range(6)]

    assert no_jitter == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert full_jitter == [0.375, 0.75, 1.5, 3.0, 6.0, 6.0]


def test_retry_after_headers_win_over_backoff_and_are_capped() -> None:
    now = 1_700_000_000.0
    date = format_datetime(datetime.fromtimestamp(now, UTC) + timedelta(seconds=30), usegmt=True)

    assert retry_delay(3, {"retry-after-ms": "250"}) == 0.25
    assert retry_delay(3, {"retry-after": "2"}) == 2.0
    assert retry_delay(0, {"retry-after": "1.5", "retry-after-ms": "20"}) == 0.02
    assert retry_delay(0, {"retry-after": date}, now=lambda: now) == 30.0
    assert retry_delay(0, {"retry-after": "3600"}) == MAX_RETRY_AFTER
    assert retry_delay(0, {"retry-after": "soon"}, rng=lambda: 0.0) == 0.5
    assert retry_delay(0, {"retry-after-ms": "-5"}, rng=lambda: 0.0) == 0.5


def test_the_status_policy_table() -> None:
    def retried(status: int, create: bool = False, **headers: str) -> bool:
        return should_retry_status(
            status, {k.replace("_", "-"): v for k, v in headers.items()}, create=create
        )

    assert [s for s in (400, 404, 408, 409, 429, 500, 529) if retried(s)] == [
        408,
        409,
        429,
        500,
        529,
    ]
    assert [s for s in (408, 409, 429, 500, 503, 529) if retried(s, create=True)] == [
        429,
        503,
        529,
    ]
    assert retried(400, x_should_retry="true")
    assert not retried(404, x_should_retry="true")  # 404 is never retried
    assert not retried(500, x_should_retry="false")
    assert not retried(500, create=True, x_should_retry="true")


async def test_not_found_after_retries_is_still_not_found(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script("retrieve", Fault.status(503, headers=FAST))

    result = await outcome(batches.retrieve("msgbatch_missing"))

    assert isinstance(result.error, NotFoundError)
    assert emulator.stats.requests["retrieve"] == 2


async def test_a_404_is_not_retried_even_when_the_server_says_it_should_be(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script(
        "retrieve", Fault.status(404, headers={**FAST, "x-should-retry": "true"})
    )

    result = await outcome(batches.retrieve("msgbatch_missing"))

    assert isinstance(result.error, NotFoundError)
    assert emulator.stats.requests["retrieve"] == 1


async def test_a_bad_request_carries_the_api_message(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script("retrieve", Fault.status(400))

    result = await outcome(batches.retrieve("msgbatch_x"))

    assert isinstance(result.error, BadRequestError)
    assert result.error.error_type == "invalid_request_error"
