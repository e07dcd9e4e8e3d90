"""Emulator.add_batch: a batch as a create makes it, without an HTTP request."""

from __future__ import annotations

from typing import Any

import pytest

from rxbatches import Client, CreateValidationError, aiterate
from rxbatches.emulator import Emulator, EmulatorThread, ManualClock
from tests.client.helpers import make_requests
from tests.conftest import API_KEY


def _shape(batch: Any) -> dict[str, Any]:
    """What a batch shows, apart from what differs between any two batches."""
    wire = batch.to_wire()
    for varying in ("id", "results_url", "created_at", "expires_at"):
        wire.pop(varying, None)
    return dict(wire)


async def test_it_is_in_progress_then_ends_like_a_created_batch() -> None:
    clock = ManualClock()
    async with (
        Emulator(clock=clock, request_latency=1.0) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        batches = client.messages.batches
        created = await batches.create(make_requests(3))
        added = emu.add_batch(make_requests(3))
        assert emu.batch_ids() == [added, created.id]
        in_progress = await batches.retrieve(added)
        assert in_progress.processing_status == "in_progress"
        assert _shape(in_progress) == _shape(await batches.retrieve(created.id))
        clock.advance(60.0)
        ended = await batches.retrieve(added)
        assert ended.processing_status == "ended"
        assert _shape(ended) == _shape(await batches.retrieve(created.id))
        ours = [r async for r in aiterate(batches.results_streaming(added))]
        theirs = [r async for r in aiterate(batches.results_streaming(created.id))]
    assert [(r.custom_id, r.result.type) for r in ours] == [
        (r.custom_id, r.result.type) for r in theirs
    ]
    assert len(ours) == 3


def test_a_bad_request_names_its_field_and_stores_nothing() -> None:
    requests = make_requests(2)
    requests[1]["custom_id"] = "not allowed"
    with EmulatorThread() as emu:  # from another thread: on the emulator's loop
        with pytest.raises(CreateValidationError, match=r"requests\[1\]\.custom_id"):
            emu.add_batch(requests)
        assert emu.batch_ids() == []
        batch_id = emu.add_batch(make_requests(1))
        assert emu.batch(batch_id).request_counts.processing == 1
