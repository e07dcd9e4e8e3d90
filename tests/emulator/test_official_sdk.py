"""The official ``anthropic`` SDK as a real client of the emulator.

If the SDK Anthropic ships can drive the emulator through a whole batch's life, the
emulator speaks the wire protocol the way the real API does. The sync client runs against
an EmulatorThread on a ManualClock (deterministic, instant); one async test drives
AsyncAnthropic against the real-clock ``emulator`` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import pytest

from rxbatches import Request
from rxbatches.emulator import (
    Emulator,
    EmulatorThread,
    Fail,
    ManualClock,
    Succeed,
    default_responder,
)
from tests.conftest import API_KEY

from ._wire import simple_request

LATENCY = 1.0
"""Emulator seconds per request; one slot, so request ``i`` completes at ``(i + 1) s``."""

START = datetime(2025, 1, 1, tzinfo=UTC)


def _responder(request: Request) -> Succeed | Fail:
    if request.custom_id.startswith("fail"):
        return Fail("invalid_request_error", f"{request.custom_id} failed on purpose")
    return default_responder(request)


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(
        clock=ManualClock(START), request_latency=LATENCY, concurrency=1, responder=_responder
    ) as emulator:
        yield emulator


@pytest.fixture
def client(emu: EmulatorThread) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(api_key=API_KEY, base_url=emu.base_url, max_retries=0) as sdk:
        yield sdk


def _clock(emu: EmulatorThread) -> ManualClock:
    clock = emu.clock
    assert isinstance(clock, ManualClock)
    return clock


def _requests(*custom_ids: str, prompt: str = "Hello") -> list[Any]:
    return [simple_request(custom_id, f"{prompt} {custom_id}") for custom_id in custom_ids]


def _envelope(error: anthropic.APIStatusError) -> dict[str, Any]:
    """The error body as sent (SDK versions differ in what ``error.body`` holds)."""
    body = error.response.json()
    assert isinstance(body, dict)
    assert body["type"] == "error"
    return body


def _end(emu: EmulatorThread, requests: int) -> None:
    """Move the clock past the completion of the last of ``requests`` requests."""
    _clock(emu).advance(LATENCY * requests + 0.5)


# --------------------------------------------------------------------------- lifecycle


def test_create_returns_an_in_progress_batch_counting_every_request(
    client: anthropic.Anthropic,
) -> None:
    batch = client.messages.batches.create(requests=_requests("a", "b", "c"))

    assert batch.id.startswith("msgbatch_")
    assert batch.type == "message_batch"
    assert batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 3
    assert batch.request_counts.succeeded == batch.request_counts.errored == 0
    assert batch.created_at == START
    assert batch.expires_at == START + timedelta(hours=24)
    assert batch.ended_at is None
    assert batch.results_url is None


def test_polling_with_retrieve_counts_down_then_sees_ended(
    emu: EmulatorThread, client: anthropic.Anthropic
) -> None:
    created = client.messages.batches.create(requests=_requests("a", "b", "c"))
    clock = _clock(emu)
    clock.advance(LATENCY / 2)  # observe between completions, never on one

    seen: list[tuple[str, int]] = []
    for _ in range(10):  # bounded: the batch must end within a few polls
        batch = client.messages.batches.retrieve(created.id)
        seen.append((batch.processing_status, batch.request_counts.processing))
        if batch.processing_status == "ended":
            break
        clock.advance(LATENCY)

    assert seen == [("in_progress", 3), ("in_progress", 2), ("in_progress", 1), ("ended", 0)]
    assert batch.request_counts.succeeded == 3
    assert batch.ended_at == START + timedelta(seconds=3 * LATENCY)
    assert batch.results_url == f"{emu.base_url}/v1/messages/batches/{created.id}/results"
    assert emu.stats.requests["retrieve"] == 4


async def test_async_sdk_creates_polls_and_reads_results_on_the_real_clock(
    emulator: Emulator,
) -> None:
    async with anthropic.AsyncAnthropic(
        api_key=API_KEY, base_url=emulator.base_url, max_retries=0
    ) as sdk:
        created = await sdk.messages.batches.create(requests=_requests("x", "y"))
        # Waiting on a condition over HTTP: each poll is a real round trip, bounded.
        for _ in range(10_000):
            batch = await sdk.messages.batches.retrieve(created.id)
            if batch.processing_status == "ended":
                break
        assert batch.processing_status == "ended"
        assert batch.request_counts.succeeded == 2

        results = {r.custom_id: r async for r in await sdk.messages.batches.results(created.id)}

    assert set(results) == {"x", "y"}
    assert all(r.result.type == "succeeded" for r in results.values())


def test_list_auto_paginates_across_pages_newest_first(
    emu: EmulatorThread, client: anthropic.Anthropic
) -> None:
    created = [client.messages.batches.create(requests=_requests("a")).id for _ in range(7)]
    newest_first = created[::-1]

    listed = [batch.id for batch in client.messages.batches.list(limit=2)]

    assert listed == newest_first
    assert emu.stats.requests["list"] == 4  # 2 + 2 + 2 + 1: no trailing empty page


def test_list_auto_paginates_backwards_from_before_id(
    emu: EmulatorThread, client: anthropic.Anthropic
) -> None:
    created = [client.messages.batches.create(requests=_requests("a")).id for _ in range(7)]
    oldest = created[0]

    listed = [batch.id for batch in client.messages.batches.list(limit=2, before_id=oldest)]

    # Backwards, the SDK follows before_id=first_id: pages come newest-first inside a
    # page, older pages first; every batch newer than the cursor appears exactly once.
    assert sorted(listed) == sorted(created[1:])
    assert len(listed) == len(set(listed))
    assert listed[:2] == [created[2], created[1]]
    assert emu.stats.requests["list"] == 3


def test_results_are_matched_to_requests_by_custom_id(
    emu: EmulatorThread, client: anthropic.Anthropic
) -> None:
    requests: list[Any] = [
        simple_request("same-1", "What is 2 + 2?"),
        simple_request("other", "Name a colour."),
        simple_request("fail-1", "Anything"),
        simple_request("same-2", "What is 2 + 2?"),
    ]
    batch = client.messages.batches.create(requests=requests)
    _end(emu, len(requests))

    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}

    assert set(results) == {"same-1", "other", "fail-1", "same-2"}
    failed = results["fail-1"]
    assert failed.type == "errored"
    assert failed.error.error.type == "invalid_request_error"
    assert failed.error.error.message == "fail-1 failed on purpose"
    texts: dict[str, str] = {}
    for custom_id in ("same-1", "other", "same-2"):
        result = results[custom_id]
        assert result.type == "succeeded"
        assert result.message.role == "assistant"
        assert result.message.model == "claude-haiku-4-5"
        assert result.message.usage.output_tokens > 0
        block = result.message.content[0]
        assert block.type == "text"
        texts[custom_id] = block.text
    # The default responder is deterministic: same prompt, same reply; else different.
    assert texts["same-1"] == texts["same-2"]
    assert texts["same-1"] != texts["other"]
    ended = client.messages.batches.retrieve(batch.id)
    assert (ended.request_counts.succeeded, ended.request_counts.errored) == (3, 1)


def test_cancel_moves_the_batch_to_canceling_then_ended_with_canceled_requests(
    emu: EmulatorThread, client: anthropic.Anthropic
) -> None:
    batch = client.messages.batches.create(requests=_requests("a", "b", "c", "d"))

    canceling = client.messages.batches.cancel(batch.id)

    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at == START
    _clock(emu).advance(LATENCY + 0.5)  # past the one request that may have been running
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    counts = ended.request_counts
    assert counts.canceled >= 3  # one slot: at most the first request was running
    assert counts.canceled + counts.succeeded == 4
    assert counts.processing == counts.errored == counts.expired == 0
    kinds = [r.result.type for r in client.messages.batches.results(batch.id)]
    assert sorted(kinds) == sorted(
        ["canceled"] * counts.canceled + ["succeeded"] * counts.succeeded
    )


def test_delete_removes_an_ended_batch(emu: EmulatorThread, client: anthropic.Anthropic) -> None:
    batch = client.messages.batches.create(requests=_requests("a"))
    keep = client.messages.batches.create(requests=_requests("b"))
    _end(emu, 1)

    deleted = client.messages.batches.delete(batch.id)

    assert (deleted.id, deleted.type) == (batch.id, "message_batch_deleted")
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(batch.id)
    assert [b.id for b in client.messages.batches.list()] == [keep.id]


# --------------------------------------------------------------------------- error paths


def test_delete_of_an_unfinished_batch_is_a_bad_request(client: anthropic.Anthropic) -> None:
    batch = client.messages.batches.create(requests=_requests("a"))

    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.batches.delete(batch.id)

    assert caught.value.status_code == 400
    assert _envelope(caught.value)["error"]["type"] == "invalid_request_error"
    assert client.messages.batches.retrieve(batch.id).processing_status == "in_progress"


@pytest.mark.parametrize("operation", ["retrieve", "cancel", "delete", "results"])
def test_unknown_batch_id_raises_not_found(client: anthropic.Anthropic, operation: str) -> None:
    method = getattr(client.messages.batches, operation)

    with pytest.raises(anthropic.NotFoundError) as caught:
        method("msgbatch_0123456789doesnotexist")

    error = caught.value
    assert error.status_code == 404
    assert _envelope(error)["error"]["type"] == "not_found_error"
    assert error.request_id is not None
    assert error.request_id == _envelope(error)["request_id"]


def test_wrong_api_key_raises_authentication_error() -> None:
    with (
        EmulatorThread(api_keys={API_KEY}, request_latency=0.001) as emu,
        anthropic.Anthropic(api_key=API_KEY, base_url=emu.base_url, max_retries=0) as good,
        anthropic.Anthropic(
            api_key="sk-ant-wrong-key", base_url=emu.base_url, max_retries=0
        ) as bad,
    ):
        assert list(good.messages.batches.list()) == []  # the right key is accepted
        with pytest.raises(anthropic.AuthenticationError) as caught:
            bad.messages.batches.list()

    assert caught.value.status_code == 401
    assert _envelope(caught.value)["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    ("requests", "field"),
    [
        ([simple_request("not valid!")], "requests[0].custom_id"),
        ([simple_request("a"), simple_request("a")], "requests[1].custom_id"),
        ([simple_request("a", max_tokens=0)], "requests[0].params.max_tokens"),
        ([simple_request("a", stream=True)], "requests[0].params.stream"),
        ([], "requests"),
    ],
    ids=["bad-custom-id", "duplicate-custom-id", "zero-max-tokens", "stream", "empty"],
)
def test_invalid_create_raises_bad_request_naming_the_field(
    emu: EmulatorThread, client: anthropic.Anthropic, requests: list[Any], field: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.batches.create(requests=requests)

    assert caught.value.status_code == 400
    error = _envelope(caught.value)["error"]
    assert error["type"] == "invalid_request_error"
    assert field in error["message"]
    assert emu.batch_ids() == []


@pytest.mark.parametrize("limit", [0, 1001])
def test_list_limit_outside_1_to_1000_is_a_bad_request(
    client: anthropic.Anthropic, limit: int
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.batches.list(limit=limit)

    assert caught.value.status_code == 400
    assert "limit" in _envelope(caught.value)["error"]["message"]
