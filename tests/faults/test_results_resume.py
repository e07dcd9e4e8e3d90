"""Results resume: a download cut mid-way is started again and every result arrives once."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable

import pytest
from reactivex import operators as ops

from rxbatches import (
    APIConnectionError,
    APITimeoutError,
    BatchService,
    Client,
    MessageBatchIndividualResponse,
    RequestOptions,
    ResultLineError,
)
from rxbatches.emulator import Emulator, Fault
from tests.client.helpers import outcome, result_line
from tests.conftest import API_KEY

N = 200
LINES = [result_line(f"r{i}") + b"\n" for i in range(N)]
LINE_BYTES = len(LINES[0])  # every line of LINES has the same length (ids r0..r199 aside)


def _ids(items: Iterable[MessageBatchIndividualResponse]) -> list[str]:
    return [item.custom_id for item in items]


def _reordering(lines: list[bytes]) -> Callable[[], Iterable[bytes]]:
    """A results file served in a different order on each download, as the API may."""
    downloads = itertools.count()

    def serve() -> Iterable[bytes]:
        n = next(downloads)
        rotated = lines[n * 37 % len(lines) :] + lines[: n * 37 % len(lines)]
        return rotated[::-1] if n % 2 else rotated

    return serve


@pytest.mark.parametrize(
    "cut",
    [
        Fault.truncate(0),
        Fault.truncate(LINE_BYTES * 7 + 3),
        Fault.truncate_lines(0),
        Fault.truncate_lines(1),
        Fault.truncate_lines(50, mid_line=False),
        Fault.truncate_lines(N - 1),
        Fault.truncate_lines(N - 1, mid_line=False),
    ],
    ids=[
        "at-0",
        "mid-line-bytes",
        "lines-0",
        "lines-1",
        "lines-50-whole",
        "last-line",
        "before-last",
    ],
)
async def test_a_cut_download_is_resumed_and_delivers_every_result_exactly_once(
    batches: BatchService, emulator: Emulator, cut: Fault
) -> None:
    batch_id = emulator.add_ended_batch(_reordering(LINES), request_counts={"expired": N})
    emulator.faults.script("results", cut)

    result = await outcome(batches.results_streaming(batch_id))

    assert result.error is None
    assert result.completed
    assert sorted(_ids(result.items)) == sorted(f"r{i}" for i in range(N))
    assert emulator.stats.requests["results"] == 2


async def test_resuming_deduplicates_by_custom_id_when_the_order_changes(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch(_reordering(LINES), request_counts={"expired": N})
    emulator.faults.script(
        "results", Fault.truncate_lines(30), Fault.truncate_lines(90), Fault.truncate_lines(150)
    )

    result = await outcome(batches.results_streaming(batch_id))

    counts = Counter(_ids(result.items))
    assert set(counts) == {f"r{i}" for i in range(N)}
    assert set(counts.values()) == {1}
    assert result.completed
    assert emulator.stats.requests["results"] == 4


async def test_the_half_line_at_a_cut_is_neither_emitted_nor_reported_as_malformed(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch(LINES)
    emulator.faults.script("results", Fault.truncate_lines(3, mid_line=True))

    result = await outcome(batches.results_streaming(batch_id, max_resumes=0))

    assert _ids(result.items) == ["r0", "r1", "r2"]
    assert isinstance(result.error, APIConnectionError)
    assert not isinstance(result.error, ResultLineError)
    assert not result.completed


async def test_a_download_that_cannot_be_completed_ends_in_on_error_never_a_completion(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch(LINES)
    emulator.faults.script("results", *[Fault.truncate_lines(10 * (k + 1)) for k in range(4)])

    result = await outcome(batches.results_streaming(batch_id, max_resumes=3))

    assert isinstance(result.error, APIConnectionError)
    assert "after 3 resumed downloads" in str(result.error)
    assert not result.completed
    assert _ids(result.items) == [f"r{i}" for i in range(40)]  # each once, none lost
    assert emulator.stats.requests["results"] == 4


@pytest.mark.parametrize("seed", [3, 4, 10, 11])  # seeds drawing 3 to 7 cuts in a row
async def test_random_cuts_within_the_resume_budget_lose_and_repeat_nothing(seed: int) -> None:
    async with (
        Emulator(fault_seed=seed) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        batch_id = emu.add_ended_batch(_reordering(LINES), request_counts={"expired": N})
        emu.faults.randomly("results", 0.6, Fault.truncate_lines(40))
        emu.faults.randomly("results", 0.5, Fault.truncate(LINE_BYTES * 100 + 11))
        results = await client.messages.batches.results_streaming(batch_id, max_resumes=10).pipe(
            ops.to_list()
        )

    assert sorted(_ids(results)) == sorted(f"r{i}" for i in range(N))
    assert emu.faults.injected["results"] >= 3
    assert emu.stats.requests["results"] == emu.faults.injected["results"] + 1


async def test_a_read_timeout_in_a_slow_body_is_resumed(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch(LINES)
    # Pieces a second apart against a 50 ms read timeout: the first download times out.
    emulator.faults.script("results", Fault.slow(chunk_bytes=LINE_BYTES * 5, interval=1.0))

    results = await batches.results_streaming(batch_id, options=RequestOptions(timeout=0.05)).pipe(
        ops.to_list()
    )

    assert _ids(results) == [f"r{i}" for i in range(N)]
    assert emulator.stats.requests["results"] == 2


async def test_a_read_timeout_without_resumes_is_an_api_timeout_error(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch(LINES)
    emulator.faults.script("results", Fault.slow(chunk_bytes=LINE_BYTES * 5, interval=1.0))

    result = await outcome(
        batches.results_streaming(batch_id, max_resumes=0, options=RequestOptions(timeout=0.05))
    )

    assert isinstance(result.error, APITimeoutError)
    assert _ids(result.items) == [f"r{i}" for i in range(5)]


async def test_a_malformed_line_is_not_resumed(batches: BatchService, emulator: Emulator) -> None:
    lines = [*LINES[:3], b'{"custom_id": "bad"\n', *LINES[3:]]
    batch_id = emulator.add_ended_batch(lines, request_counts={"expired": N})

    result = await outcome(batches.results_streaming(batch_id))

    assert isinstance(result.error, ResultLineError)
    assert result.error.line_number == 4
    assert emulator.stats.requests["results"] == 1


async def test_a_failure_before_a_resumed_download_starts_ends_the_stream(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch(LINES)
    emulator.faults.script("results", Fault.truncate_lines(10), Fault.status(404))

    result = await outcome(batches.results_streaming(batch_id))

    assert result.error is not None
    assert getattr(result.error, "status_code", None) == 404
    assert _ids(result.items) == [f"r{i}" for i in range(10)]


async def test_the_raw_view_resumes_too(batches: BatchService, emulator: Emulator) -> None:
    batch_id = emulator.add_ended_batch(LINES)
    emulator.faults.script("results", Fault.truncate_lines(20))

    chunks = await batches.with_raw_response.results_streaming(batch_id).pipe(ops.to_list())

    assert [r.custom_id for c in chunks for r in c.parse()] == [f"r{i}" for i in range(N)]


@pytest.mark.parametrize("value", [-1, 1.5, True, "3", None])
def test_an_invalid_max_resumes_is_rejected_at_the_call(
    batches: BatchService, value: object
) -> None:
    with pytest.raises(ValueError, match="max_resumes"):
        batches.results_streaming("msgbatch_x", max_resumes=value)  # type: ignore[arg-type]
