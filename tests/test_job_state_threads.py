"""A job's state is read by ``cancel_on_dispose`` from the disposing thread: never torn."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from rxbatches._jobs.input import Chunk, Chunker
from rxbatches._jobs.lifecycle import _JobState
from tests.operators.factories import batch

BATCHES = 500


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Switch threads every microsecond, so that a read lands inside a write."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.usefixtures("busy_switching")
def test_unended_batches_read_from_another_thread_while_snapshots_arrive() -> None:
    # The loop's thread records snapshots while a subscriber disposes the job from its
    # own thread: iterating the dict unguarded raised "dictionary changed size".
    state = _JobState(Chunker([], max_requests=1, max_body_bytes=1000), None)
    chunk = Chunk(index=0, first=0, size=1, body=None, last=False)  # type: ignore[arg-type]
    snapshots = [batch(f"msgbatch_{i}", processing=1) for i in range(BATCHES)]
    errors: list[BaseException] = []
    reads = 0
    started = threading.Event()
    stop = threading.Event()

    def dispose_side() -> None:
        nonlocal reads
        started.set()
        try:
            while not stop.is_set():
                unended = state.unended()
                assert len(set(unended)) == len(unended)
                reads += 1
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    reader = threading.Thread(target=dispose_side, name="disposer")
    reader.start()
    started.wait()
    try:
        for snapshot in snapshots:
            state.submitted(snapshot, chunk)
            state.polled(batch(snapshot.id, succeeded=1), chunk)  # ended: leaves unended()
            state.submitted(batch(f"{snapshot.id}_b", processing=1), chunk)
    finally:
        stop.set()
        reader.join(timeout=5)

    assert not reader.is_alive()
    assert errors == []
    assert reads > 0
    assert sorted(state.unended()) == sorted(f"msgbatch_{i}_b" for i in range(BATCHES))
