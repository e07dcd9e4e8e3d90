"""results_streaming: line by line as bytes arrive, errors in the stream, never a silent end."""

from __future__ import annotations

import tracemalloc

from reactivex import operators as ops

from rxbatches import (
    APIConnectionError,
    BadRequestError,
    BatchService,
    Client,
    MessageBatchExpiredResult,
    NotFoundError,
    ResultLineError,
)
from rxbatches.emulator import Emulator, Fault, ManualClock
from tests.conftest import API_KEY

from .helpers import make_requests, outcome, result_line


async def test_results_are_fetched_directly_without_a_retrieve(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch([result_line("a") + b"\n", result_line("b") + b"\n"])

    results = await batches.results_streaming(batch_id).pipe(ops.to_list())

    assert [r.custom_id for r in results] == ["a", "b"]
    assert isinstance(results[0].result, MessageBatchExpiredResult)
    assert dict(emulator.stats.requests) == {"results": 1}
    await emulator.wait_for(lambda: emulator.stats.results_completed == 1)


async def test_crlf_blank_lines_and_a_missing_final_newline_are_fine(
    batches: BatchService, emulator: Emulator
) -> None:
    body = [
        b"\r\n",
        result_line("a") + b"\r\n",
        b"\n",
        b"   \r\n",
        result_line("b") + b"\n",
        result_line("c"),
    ]
    batch_id = emulator.add_ended_batch(body, request_counts={"expired": 3})

    results = await batches.results_streaming(batch_id).pipe(ops.to_list())

    assert [r.custom_id for r in results] == ["a", "b", "c"]


async def test_lines_of_many_megabytes_stream_through() -> None:
    async with (
        Emulator(results_chunk_size=4096) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        long_line = result_line("long", pad=9 * 1024 * 1024) + b"\n"
        batch_id = emu.add_ended_batch([result_line("a") + b"\n", long_line])
        results = await client.messages.batches.results_streaming(batch_id).pipe(ops.to_list())

    assert [r.custom_id for r in results] == ["a", "long"]
    assert len(results[1].model_extra["pad"]) == 9 * 1024 * 1024  # type: ignore[index]


async def test_items_arrive_chunk_by_chunk_as_the_bytes_do(
    batches: BatchService, emulator: Emulator
) -> None:
    # 2 MB: more than aiohttp buffers before it stops reading the socket, so the
    # body cannot arrive as one chunk.
    lines = [result_line(f"r{i}", pad=2000) + b"\n" for i in range(1000)]
    batch_id = emulator.add_ended_batch(lines)
    chunks = await batches.with_raw_response.results_streaming(batch_id).pipe(ops.to_list())

    assert len(chunks) > 1
    assert [r.custom_id for c in chunks for r in c.parse()] == [f"r{i}" for i in range(1000)]
    assert {c.status_code for c in chunks} == {200}


async def test_a_malformed_line_goes_to_on_error_with_its_line_number_after_the_good_ones(
    batches: BatchService, emulator: Emulator
) -> None:
    body = [
        result_line("a") + b"\n",
        b"\n",
        result_line("b") + b"\n",
        b'{"custom_id": "c", "result": \n',
        result_line("d") + b"\n",
    ]
    batch_id = emulator.add_ended_batch(body, request_counts={"expired": 4})

    result = await outcome(batches.results_streaming(batch_id))

    assert [r.custom_id for r in result.items] == ["a", "b"]
    assert isinstance(result.error, ResultLineError)
    assert result.error.line_number == 4
    assert "results line 4" in str(result.error)
    assert not result.completed


async def test_a_line_of_the_wrong_shape_is_a_result_line_error(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch([b'{"custom_id": "a"}\n'], request_counts={"expired": 1})

    result = await outcome(batches.results_streaming(batch_id))

    assert isinstance(result.error, ResultLineError)
    assert result.error.line_number == 1
    assert "result" in str(result.error)


async def test_a_connection_cut_mid_stream_is_an_api_connection_error_not_a_completion(
    batches: BatchService, emulator: Emulator
) -> None:
    lines = [result_line(f"r{i}") + b"\n" for i in range(100)]
    batch_id = emulator.add_ended_batch(lines)
    cut = len(lines[0]) * 10 + 5  # ten whole lines and a bit
    emulator.faults.script("results", Fault.truncate(cut))

    result = await outcome(batches.results_streaming(batch_id, max_resumes=0))

    assert [r.custom_id for r in result.items] == [f"r{i}" for i in range(10)]
    assert isinstance(result.error, APIConnectionError)
    assert "while reading the response body" in str(result.error)
    assert not result.completed
    assert emulator.stats.requests["results"] == 1  # resuming is off: not downloaded again


async def test_a_connection_cut_mid_stream_is_resumed_by_default_without_duplicates(
    batches: BatchService, emulator: Emulator
) -> None:
    lines = [result_line(f"r{i}") + b"\n" for i in range(100)]
    batch_id = emulator.add_ended_batch(lines)
    emulator.faults.script("results", Fault.truncate(len(lines[0]) * 10 + 5))

    result = await outcome(batches.results_streaming(batch_id))

    assert [r.custom_id for r in result.items] == [f"r{i}" for i in range(100)]
    assert result.completed
    assert emulator.stats.requests["results"] == 2


async def test_results_before_the_batch_has_ended_fail_with_a_clear_error() -> None:
    async with (
        Emulator(clock=ManualClock()) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        batch = await client.messages.batches.create(make_requests(2))
        result = await outcome(client.messages.batches.results_streaming(batch.id))

    assert isinstance(result.error, BadRequestError)
    assert "processing has ended" in str(result.error)
    assert result.items == []


async def test_results_of_an_unknown_batch_fail_with_not_found(batches: BatchService) -> None:
    result = await outcome(batches.results_streaming("msgbatch_nope"))

    assert isinstance(result.error, NotFoundError)


async def test_an_overloaded_answer_before_the_stream_starts_is_retried(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch([result_line("a") + b"\n"])
    emulator.faults.script("results", Fault.status(529, headers={"retry-after-ms": "1"}))

    results = await batches.results_streaming(batch_id).pipe(ops.to_list())

    assert [r.custom_id for r in results] == ["a"]
    assert emulator.stats.requests["results"] == 2


async def test_an_empty_results_file_completes_without_items(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch([], request_counts={})

    result = await outcome(batches.results_streaming(batch_id))

    assert result.items == []
    assert result.completed
    assert result.error is None


async def test_memory_stays_flat_whatever_the_size_of_the_results_file() -> None:
    async with (
        Emulator() as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        batch_id = emu.add_ended_batch(
            [result_line(f"r{i}", pad=4000) + b"\n" for i in range(5000)]
        )
        source = client.messages.batches.results_streaming(batch_id).pipe(ops.count())
        await source  # warm up: sessions, validators, connection pool
        tracemalloc.start()
        try:
            count = await source
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert count == 5000
    # 20 MB went through; what is held at once is a network read or two and a few results.
    assert peak < 3 * 1024 * 1024
