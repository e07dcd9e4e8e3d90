"""Large create bodies: streamed with their length, no raw-bytes warning, resent on a retry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reactivex import operators as ops

from rxbatches import BatchService, BatchSubmitted, ResultReceived
from rxbatches._base.body import FileBody
from rxbatches._base.validation import encode_create_body
from rxbatches.emulator import Emulator, Fault
from tests.client.helpers import make_requests, outcome

MIB = 1 << 20
FAST = 0.01


def _large_requests(n: int = 40, text: int = 32 * 1024) -> list[dict[str, Any]]:
    """``n`` requests whose create body is over 1 MiB (``n * text`` bytes of content)."""
    requests = make_requests(n)
    for i, request in enumerate(requests):
        request["params"]["messages"][0]["content"] = f"{i} " + "x" * text
    return requests


async def test_create_from_a_list_with_a_body_over_1_mib_raises_no_warning(
    batches: BatchService, emulator: Emulator
) -> None:
    # Warnings are errors in this suite: aiohttp's ResourceWarning about a large raw-bytes
    # body would fail the create.
    requests = _large_requests()
    assert len(encode_create_body(requests)) > MIB

    result = await outcome(batches.create(requests))

    assert result.error is None, result.error
    (batch,) = result.items
    assert batch.request_counts.processing == len(requests)
    assert emulator.stats.requests["create"] == 1


async def test_a_retried_create_sends_its_large_body_again_from_the_start(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script("create", Fault.status(503, retry_after_ms=1))
    requests = _large_requests()

    result = await outcome(batches.create(requests))

    assert result.error is None, result.error
    assert result.items[0].request_counts.processing == len(requests)
    assert emulator.stats.requests["create"] == 2


async def test_a_job_batch_body_spooled_to_a_file_is_created_whole_once(
    batches: BatchService, emulator: Emulator
) -> None:
    requests = _large_requests()

    def generate() -> Iterator[dict[str, Any]]:
        yield from requests

    events = await batches.run(generate(), interval=FAST).pipe(ops.to_list())

    (submitted,) = [e for e in events if isinstance(e, BatchSubmitted)]
    assert submitted.requests == len(requests)
    received = sorted(e.response.custom_id for e in events if isinstance(e, ResultReceived))
    assert received == sorted(r["custom_id"] for r in requests)
    assert emulator.stats.requests["create"] == 1


async def test_a_job_create_retried_after_503_sends_the_same_spooled_body(
    batches: BatchService, emulator: Emulator
) -> None:
    emulator.faults.script("create", Fault.status(503, retry_after_ms=1))
    requests = _large_requests()

    events = await batches.run(iter(requests), interval=FAST).pipe(ops.to_list())

    (submitted,) = [e for e in events if isinstance(e, BatchSubmitted)]
    assert submitted.batch.request_counts.processing == len(requests)
    assert emulator.stats.requests["create"] == 2


def test_a_file_body_spills_past_1_mib_and_reads_back_whole_each_time() -> None:
    body = FileBody()
    pieces = [bytes([65 + i % 26]) * 100_000 for i in range(25)]  # 2.5 MB
    for piece in pieces:
        body.write(piece)

    first = b"".join(body.blocks())
    again = b"".join(body.blocks())

    assert body._fd >= 0  # on disk, not in memory
    assert len(body._buffer) < MIB
    assert first == again == b"".join(pieces)
    assert body.size == len(first)
    body.close()
    assert body._fd == -1
