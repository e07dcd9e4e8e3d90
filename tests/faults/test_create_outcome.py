"""No duplicate batches: a create is retried only when nothing was made, else it is unknown."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from rxbatches import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    BatchService,
    Client,
    CreateOutcomeUnknownError,
    InternalServerError,
    OverloadedError,
    RequestOptions,
)
from rxbatches.emulator import Emulator, Fault
from tests.client.helpers import make_requests, outcome
from tests.conftest import API_KEY


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        (Fault.reset(), APIConnectionError),
        (Fault.status(500), InternalServerError),
        (Fault.status(502), InternalServerError),
        (Fault.status(504), InternalServerError),
        (Fault.html(502), InternalServerError),
        (Fault.status(500, should_retry=True), InternalServerError),
    ],
    ids=["reset", "500", "502", "504", "html-502", "500-should-retry"],
)
async def test_an_ambiguous_create_failure_is_not_retried_and_says_what_to_check(
    batches: BatchService, emulator: Emulator, fault: Fault, cause: type[APIError]
) -> None:
    emulator.faults.script("create", fault)
    before = datetime.now(UTC)

    result = await outcome(batches.create(make_requests(3)))

    error = result.error
    assert isinstance(error, CreateOutcomeUnknownError)
    assert isinstance(error.cause, cause)
    assert error.__cause__ is error.cause
    assert error.request_count == 3
    assert before <= error.sent_at <= datetime.now(UTC)
    assert "client.messages.batches.list(limit=" in str(error)
    assert "holding 3 requests" in str(error)
    assert error.sent_at.isoformat(timespec="seconds") in str(error)
    assert API_KEY not in str(error)
    assert emulator.stats.requests["create"] == 1  # exactly one create reached the server


async def test_a_create_cut_after_the_server_made_the_batch_is_unknown_and_made_once(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script("create", Fault.truncate(10))  # the 200 answer is cut short

    result = await outcome(batches.create(make_requests(2)))

    assert isinstance(result.error, CreateOutcomeUnknownError)
    assert isinstance(result.error.cause, APIConnectionError)
    assert len(emulator.batch_ids()) == 1  # made, once: what the message asks to check
    assert emulator.stats.requests["create"] == 1


async def test_a_create_timing_out_after_sending_is_unknown(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script("create", Fault.delay(1.0))

    result = await outcome(batches.create(make_requests(1), options=RequestOptions(timeout=0.05)))

    assert isinstance(result.error, CreateOutcomeUnknownError)
    assert isinstance(result.error.cause, APITimeoutError)
    assert emulator.stats.requests["create"] == 1


async def test_answers_proving_nothing_was_made_are_retried_then_the_batch_is_made_once(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script(
        "create", Fault.status(429, retry_after_ms=1), Fault.status(529, retry_after_ms=1)
    )

    raw = await batches.with_raw_response.create(make_requests(2))

    assert raw.retries_taken == 2
    assert emulator.batch_ids() == [raw.parse().id]


async def test_a_create_overloaded_past_its_retries_is_a_plain_overloaded_error(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script("create", *[Fault.status(529, retry_after_ms=1)] * 3)

    result = await outcome(batches.create(make_requests(1)))

    assert isinstance(result.error, OverloadedError)
    assert not isinstance(result.error, CreateOutcomeUnknownError)
    assert emulator.batch_ids() == []


async def test_a_retry_that_then_fails_ambiguously_is_unknown(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script("create", Fault.status(503, retry_after_ms=1), Fault.reset())

    result = await outcome(batches.create(make_requests(1)))

    assert isinstance(result.error, CreateOutcomeUnknownError)
    assert emulator.stats.requests["create"] == 2


async def test_a_refused_connection_proves_nothing_was_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with Client(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}", max_retries=0) as c:
        result = await outcome(c.messages.batches.create(make_requests(1)))

    assert isinstance(result.error, APIConnectionError)
    assert not isinstance(result.error, CreateOutcomeUnknownError)


async def test_a_client_error_on_create_is_definite_not_unknown(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script("create", Fault.status(413))

    result = await outcome(batches.create(make_requests(1)))

    assert isinstance(result.error, APIStatusError)
    assert not isinstance(result.error, CreateOutcomeUnknownError)


async def test_a_job_whose_create_is_ambiguous_stops_with_the_batch_size_in_the_error(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script("create", Fault.status(500))

    result = await outcome(batches.run(make_requests(7), interval=0.01))

    assert isinstance(result.error, CreateOutcomeUnknownError)
    assert result.error.request_count == 7
    assert emulator.stats.requests["create"] == 1
