"""The job splitter: every cut is a valid create body, greedy, in order, within both limits."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxbatches import CreateValidationError
from rxbatches._base.validation import encode_create_body, parse_create_body
from rxbatches._jobs.input import Chunk, Chunker
from tests.client.helpers import make_requests
from tests.strategies import create_request_lists


def _chunks(chunker: Chunker) -> list[Chunk]:
    chunks = []
    while (chunk := chunker.next_chunk()) is not None:
        chunks.append(chunk)
    return chunks


@st.composite
def jobs(draw: st.DrawFn) -> tuple[list[dict[str, Any]], int, int]:
    """Requests, a count limit and a body limit that every single request fits in."""
    requests = draw(create_request_lists(min_size=1, max_size=12))
    largest = max(len(encode_create_body([r])) for r in requests)
    total = len(encode_create_body(requests))
    max_body = draw(st.integers(largest, max(largest, total)))
    max_requests = draw(st.integers(1, len(requests) + 1))
    return requests, max_requests, max_body


@given(jobs())
def test_chunks_are_the_shared_encoders_bodies_greedily_within_both_limits(
    job: tuple[list[dict[str, Any]], int, int],
) -> None:
    requests, max_requests, max_body = job
    chunker = Chunker(iter(requests), max_requests=max_requests, max_body_bytes=max_body)

    chunks = _chunks(chunker)

    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert [c.last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert chunker.complete
    assert chunker.requests_in_chunks == len(requests)
    for chunk, following in itertools.zip_longest(chunks, chunks[1:]):
        held = requests[chunk.first : chunk.first + chunk.size]
        body = b"".join(chunk.take_body().blocks())
        assert body == encode_create_body(held)  # byte for byte what create would send
        assert [r.custom_id for r in parse_create_body(body)] == [r["custom_id"] for r in held]
        assert len(body) <= max_body
        assert chunk.size <= max_requests
        if following is not None:
            assert following.first == chunk.first + chunk.size
            grown = [*held, requests[following.first]]
            assert len(grown) > max_requests or len(encode_create_body(grown)) > max_body


def test_body_is_handed_over_once() -> None:
    chunk = Chunker(make_requests(1), max_requests=1, max_body_bytes=10_000).next_chunk()
    assert chunk is not None
    chunk.take_body()

    with pytest.raises(RuntimeError, match="already sent"):
        chunk.take_body()


def test_after_an_error_the_chunker_hands_out_nothing_more() -> None:
    requests: list[Any] = [{"custom_id": "a", "params": {}}]
    chunker = Chunker(requests, max_requests=5, max_body_bytes=10_000)

    with pytest.raises(CreateValidationError, match=r"requests\[0\]\.params"):
        chunker.next_chunk()

    assert chunker.next_chunk() is None
    assert not chunker.complete


def test_close_closes_the_input_generator() -> None:
    closed = []

    def source() -> Any:
        try:
            yield from make_requests(3)
        finally:
            closed.append(True)

    chunker = Chunker(source(), max_requests=1, max_body_bytes=10_000)
    assert chunker.next_chunk() is not None

    chunker.close()

    assert closed == [True]
    assert chunker.next_chunk() is None


def test_close_never_waits_for_a_chunk_being_read_in_another_thread() -> None:
    # next_chunk runs in a worker thread; close comes from the event loop, which must
    # not wait for a 100,000-request chunk to be read.
    inside, release = threading.Event(), threading.Event()
    closed: list[bool] = []

    def source() -> Iterator[dict[str, Any]]:
        try:
            for index, request in enumerate(make_requests(50)):
                if index == 5:
                    inside.set()
                    release.wait(5.0)
                yield request
        finally:
            closed.append(True)

    chunker = Chunker(source(), max_requests=40, max_body_bytes=100_000)
    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(chunker.next_chunk)
        assert inside.wait(5.0)

        chunker.close()  # returns at once, although the reader holds the lock
        assert not reading.done()
        assert closed == []  # the generator is running in the reader: not closed under it
        release.set()

        assert reading.result(5.0) is None  # it stopped at the next request, dropping the chunk
    assert closed == [True]  # and closed the input on its way out
    assert chunker.next_chunk() is None
