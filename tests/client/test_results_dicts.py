"""results_streaming_dicts: the opt-in fast path, plain dicts with the resume of the typed path."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterable

import pytest
from reactivex import operators as ops

from rxbatches import APIConnectionError, BadRequestError, BatchService, Client, ResultLineError
from rxbatches.emulator import Emulator, Fault, ManualClock
from tests.client.helpers import make_requests, outcome, result_line
from tests.conftest import API_KEY

N = 200
LINES = [result_line(f"r{i}") + b"\n" for i in range(N)]


def _reordering(lines: list[bytes]) -> Callable[[], Iterable[bytes]]:
    """A results file served in a different order on each download, as the API may."""
    downloads = itertools.count()

    def serve() -> Iterable[bytes]:
        shift = next(downloads) * 37 % len(lines)
        return lines[shift:] + lines[:shift]

    return serve


async def test_each_line_arrives_as_the_dict_of_its_json_object(
    batches: BatchService, emulator: Emulator
) -> None:
    body = [b"\r\n", result_line("a") + b"\r\n", result_line("b", kind="canceled", pad=3)]
    batch_id = emulator.add_ended_batch(body, request_counts={"expired": 1, "canceled": 1})

    results = await batches.results_streaming_dicts(batch_id).pipe(ops.to_list())

    assert results == [json.loads(result_line("a")), json.loads(result_line("b", "canceled", 3))]
    assert all(type(r) is dict for r in results)
    assert dict(emulator.stats.requests) == {"results": 1}


async def test_a_line_of_another_shape_arrives_as_it_is(
    batches: BatchService, emulator: Emulator
) -> None:
    odd = b'{"custom_id": 7, "result": {"type": "from-the-future"}}\n'
    batch_id = emulator.add_ended_batch(
        [odd, result_line("a") + b"\n"], request_counts={"expired": 2}
    )

    results = await batches.results_streaming_dicts(batch_id).pipe(ops.to_list())

    assert results == [json.loads(odd), json.loads(result_line("a"))]


async def test_a_line_that_is_not_an_object_fails_after_the_lines_before_it(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch(
        [*LINES[:3], b"[1, 2]\n", *LINES[3:6]], request_counts={"expired": 7}
    )

    result = await outcome(batches.results_streaming_dicts(batch_id))

    assert [r["custom_id"] for r in result.items] == ["r0", "r1", "r2"]
    assert isinstance(result.error, ResultLineError)
    assert result.error.line_number == 4
    assert "expected a JSON object" in str(result.error)


@pytest.mark.parametrize(
    "cuts",
    [
        (Fault.truncate_lines(1),),
        (Fault.truncate_lines(50, mid_line=False),),
        (Fault.truncate_lines(30), Fault.truncate_lines(90), Fault.truncate_lines(150)),
    ],
    ids=["one-line", "fifty-lines", "three-cuts"],
)
async def test_a_cut_download_is_resumed_and_delivers_every_result_exactly_once_by_custom_id(
    batches: BatchService, emulator: Emulator, cuts: tuple[Fault, ...]
) -> None:
    batch_id = emulator.add_ended_batch(_reordering(LINES), request_counts={"expired": N})
    emulator.faults.script("results", *cuts)

    result = await outcome(batches.results_streaming_dicts(batch_id))

    assert result.error is None, result.error
    assert Counter(r["custom_id"] for r in result.items) == Counter(f"r{i}" for i in range(N))
    assert emulator.stats.requests["results"] == len(cuts) + 1


async def test_cuts_beyond_max_resumes_end_in_on_error_never_a_completion(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch(LINES, request_counts={"expired": N})
    emulator.faults.script("results", Fault.truncate_lines(10), Fault.truncate_lines(20))

    result = await outcome(batches.results_streaming_dicts(batch_id, max_resumes=1))

    assert isinstance(result.error, APIConnectionError)
    assert "after 1 resumed downloads" in str(result.error)
    assert not result.completed
    ids = [r["custom_id"] for r in result.items]
    assert len(ids) == len(set(ids)) == 20


async def test_the_raw_view_emits_one_raw_item_per_decoded_slice_of_dicts(
    batches: BatchService, emulator: Emulator
) -> None:
    lines = [result_line(f"r{i}", pad=2000) + b"\n" for i in range(1000)]
    batch_id = emulator.add_ended_batch(lines)

    raws = await batches.with_raw_response.results_streaming_dicts(batch_id).pipe(ops.to_list())

    assert len(raws) > 1
    assert [r["custom_id"] for raw in raws for r in raw.parse()] == [f"r{i}" for i in range(1000)]
    assert {raw.status_code for raw in raws} == {200}


async def test_results_before_the_batch_has_ended_fail_with_the_api_error() -> None:
    async with (
        Emulator(clock=ManualClock()) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        batch = await client.messages.batches.create(make_requests(2))
        result = await outcome(client.messages.batches.results_streaming_dicts(batch.id))

    assert isinstance(result.error, BadRequestError)
    assert result.items == []


def test_an_invalid_max_resumes_is_rejected_at_the_call(batches: BatchService) -> None:
    with pytest.raises(ValueError, match="max_resumes"):
        batches.results_streaming_dicts("msgbatch_x", max_resumes=-1)
