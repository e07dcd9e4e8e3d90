"""Every batch operation end to end against the emulator, typed and raw."""

from __future__ import annotations

import pytest
from reactivex import operators as ops

from rxbatches import (
    BadRequestError,
    BatchService,
    Client,
    CreateValidationError,
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchIndividualResponse,
    MessageBatchPage,
    MessageCreateParams,
    NotFoundError,
    RawResponse,
    Request,
)
from rxbatches.emulator import Emulator, ManualClock
from tests.conftest import API_KEY

from .helpers import make_requests, outcome


async def _ended(batches: BatchService, n: int = 3) -> MessageBatch:
    batch = await batches.create(make_requests(n))
    return await batches.watch(batch.id, interval=0.001)


async def test_create_emits_the_new_batch_then_completes(
    batches: BatchService, emulator: Emulator
) -> None:
    result = await outcome(batches.create(make_requests(3)))

    assert result.completed
    assert result.error is None
    [batch] = result.items
    assert batch.processing_status == "in_progress"
    assert batch.request_counts.total == 3
    assert emulator.batch_ids() == [batch.id]
    assert emulator.stats.requests["create"] == 1


async def test_create_accepts_models_dicts_and_iterators(
    batches: BatchService, emulator: Emulator
) -> None:
    model = Request(
        custom_id="m1",
        params=MessageCreateParams(
            model="claude-test", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        ),
    )
    mixed = await batches.create([model, *make_requests(1)])
    source = batches.create(iter(make_requests(2, prefix="it")))
    first = await source
    second = await source  # the iterator was read once, at the call: both send 2 requests

    assert mixed.request_counts.total == 2
    assert first.request_counts.total == second.request_counts.total == 2
    assert len(emulator.batch_ids()) == 3


@pytest.mark.parametrize(
    ("requests", "field"),
    [
        ([], "requests"),
        (make_requests(1) + make_requests(1), "requests[1].custom_id"),
        ([{"custom_id": "bad id!", "params": make_requests(1)[0]["params"]}], "custom_id"),
        ([{"custom_id": "a"}], "requests[0].params"),
        ({"custom_id": "a"}, "requests"),
    ],
)
async def test_create_with_bad_requests_fails_in_on_error_without_sending(
    batches: BatchService, emulator: Emulator, requests: object, field: str
) -> None:
    source = batches.create(requests)  # type: ignore[arg-type]  # the call itself never raises
    result = await outcome(source)

    assert isinstance(result.error, CreateValidationError)
    assert field in str(result.error)
    assert result.items == []
    assert emulator.stats.requests["create"] == 0


async def test_retrieve_emits_the_current_state(batches: BatchService) -> None:
    created = await batches.create(make_requests(2))
    got = await batches.retrieve(created.id)

    assert got.id == created.id
    assert got.request_counts.total == 2


async def test_retrieve_of_an_unknown_id_fails_with_not_found(
    batches: BatchService, emulator: Emulator
) -> None:
    result = await outcome(batches.retrieve("msgbatch_nope"))

    assert isinstance(result.error, NotFoundError)
    assert result.error.status_code == 404
    assert result.error.error_type == "not_found_error"
    assert result.error.request_id
    assert result.error.headers["request-id"] == result.error.request_id
    assert emulator.stats.requests["retrieve"] == 1  # 404 is not retried


@pytest.mark.parametrize("bad_id", ["", "   ", "a/b", "..", "x/../y", 42])
async def test_a_bad_path_id_fails_in_on_error_naming_the_field_without_sending(
    batches: BatchService, emulator: Emulator, bad_id: object
) -> None:
    for source in (
        batches.retrieve(bad_id),  # type: ignore[arg-type]
        batches.cancel(bad_id),  # type: ignore[arg-type]
        batches.delete(bad_id),  # type: ignore[arg-type]
        batches.results_streaming(bad_id),  # type: ignore[arg-type]
        batches.watch(bad_id),  # type: ignore[arg-type]
    ):
        result = await outcome(source)
        assert isinstance(result.error, ValueError)
        assert "message_batch_id" in str(result.error)
    assert sum(emulator.stats.requests.values()) == 0


async def test_path_ids_are_percent_encoded(batches: BatchService) -> None:
    result = await outcome(batches.retrieve("msgbatch a?b#c"))

    assert isinstance(result.error, NotFoundError)
    assert result.error.url.endswith("/v1/messages/batches/msgbatch%20a%3Fb%23c")


async def test_cancel_emits_a_canceling_batch_that_then_ends() -> None:
    async with (
        Emulator(clock=ManualClock()) as frozen,
        Client(api_key=API_KEY, base_url=frozen.base_url) as other,
    ):
        batches = other.messages.batches
        created = await batches.create(make_requests(2))
        canceled = await batches.cancel(created.id)
        assert isinstance(frozen.clock, ManualClock)
        frozen.clock.advance(1)
        final = await batches.retrieve(created.id)

    assert canceled.processing_status == "canceling"
    assert canceled.cancel_initiated_at is not None
    assert final.ended
    assert final.request_counts.canceled == 2


async def test_delete_removes_an_ended_batch(batches: BatchService) -> None:
    ended = await _ended(batches)
    deleted = await batches.delete(ended.id)
    after = await outcome(batches.retrieve(ended.id))

    assert deleted == DeletedMessageBatch(id=ended.id)
    assert isinstance(after.error, NotFoundError)


async def test_delete_of_a_batch_still_processing_fails_with_bad_request() -> None:
    async with (
        Emulator(clock=ManualClock()) as frozen,
        Client(api_key=API_KEY, base_url=frozen.base_url) as other,
    ):
        created = await other.messages.batches.create(make_requests(1))
        result = await outcome(other.messages.batches.delete(created.id))
    assert isinstance(result.error, BadRequestError)


async def test_list_pages_emits_one_page_per_request(
    batches: BatchService, emulator: Emulator
) -> None:
    for _ in range(5):
        await batches.create(make_requests(1))
    pages = await batches.list_pages(limit=2).pipe(ops.to_list())

    assert [len(p.data) for p in pages] == [2, 2, 1]
    assert all(isinstance(p, MessageBatchPage) for p in pages)
    assert [b.id for p in pages for b in p.data] == emulator.batch_ids()
    assert emulator.stats.requests["list"] == 3


async def test_results_streaming_emits_every_result(batches: BatchService) -> None:
    ended = await _ended(batches, 4)
    results = await batches.results_streaming(ended.id).pipe(ops.to_list())

    assert sorted(r.custom_id for r in results) == ["r0", "r1", "r2", "r3"]
    assert all(isinstance(r, MessageBatchIndividualResponse) for r in results)
    assert {r.result.type for r in results} == {"succeeded"}


async def test_raw_view_emits_raw_responses_whose_parse_gives_the_typed_value(
    batches: BatchService,
) -> None:
    raw_view = batches.with_raw_response
    created = await raw_view.create(make_requests(1))
    got = await raw_view.retrieve(created.parse().id)

    assert isinstance(got, RawResponse)
    assert got.status_code == 200
    assert got.request_id
    assert got.request_id == got.headers["request-id"]
    assert got.retries_taken == 0
    assert got.content is not None
    assert created.parse().id.encode() in got.content
    assert got.parse() is got.parse()  # decoded once
    assert isinstance(got.parse(), MessageBatch)
    assert "x-api-key" not in repr(got)


async def test_raw_view_covers_every_operation(batches: BatchService) -> None:
    raw = batches.with_raw_response
    ended = await _ended(batches, 2)

    pages = await raw.list_pages(limit=1).pipe(ops.to_list())
    listed = await raw.list(limit=1).pipe(ops.to_list())
    watched = await raw.watch(ended.id, interval=0.001).pipe(ops.to_list())
    chunks = await raw.results_streaming(ended.id).pipe(ops.to_list())
    canceled = await raw.cancel(ended.id)  # an ended batch is left as is
    deleted = await raw.delete(ended.id)

    assert [p.parse().data[0].id for p in pages] == [p.parse().data[0].id for p in listed]
    assert [w.parse().ended for w in watched] == [True]
    assert sum(len(c.parse()) for c in chunks) == 2
    assert {c.request_id for c in chunks} == {chunks[0].headers["request-id"]}
    assert chunks[0].content is None
    assert canceled.status_code == 200
    assert canceled.parse().ended
    assert deleted.parse().id == ended.id
    assert raw is batches.with_raw_response  # a view, made once
