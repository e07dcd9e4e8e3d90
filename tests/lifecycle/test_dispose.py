"""Disposing a job stops its polls and downloads; it cancels batches only when asked to."""

from __future__ import annotations

from collections import Counter
from typing import Any

from reactivex import operators as ops

import rxbatches.operators as rbo
from rxbatches import BatchService, BatchSubmitted, Client, Request
from rxbatches.emulator import Emulator, Succeed, default_message
from tests.client.helpers import Collector, make_requests
from tests.conftest import API_KEY

INTERVAL = 0.02


async def _requests_during_three_polls(batches: BatchService, batch_id: str) -> None:
    """Poll ``batch_id`` three times at the job's interval: a clock made of requests.

    A poller the job left running would have polled in the meantime too.
    """
    await batches.watch(batch_id, interval=INTERVAL).pipe(ops.take(3), ops.to_list())


async def test_dispose_mid_job_stops_every_poll_and_request(
    frozen: tuple[Emulator, BatchService],
) -> None:
    emu, batches = frozen
    collector: Collector[Any] = Collector()
    subscription = collector.subscribe(
        batches.run(make_requests(30), interval=INTERVAL, max_requests_per_batch=7)
    )
    await emu.wait_for(lambda: emu.stats.requests["retrieve"] >= 4, timeout=5.0)

    subscription.dispose()
    before = Counter(emu.stats.requests)
    batch_id = next(e.batch.id for e in collector.items if isinstance(e, BatchSubmitted))
    await _requests_during_three_polls(batches, batch_id)

    assert Counter(emu.stats.requests) - before == Counter({"retrieve": 3})
    assert emu.stats.requests["cancel"] == 0  # left running on the server by default
    assert emu.stats.requests["create"] == 2
    assert not collector.completed
    assert collector.error is None


def _long_replies(request: Request) -> Succeed:
    # Results far larger than the loopback socket buffers, so the server is still
    # writing when the client goes away.
    message = {**default_message(request), "content": [{"type": "text", "text": "x" * 40_000}]}
    return Succeed(message)


async def test_taking_the_first_result_aborts_the_download_and_ends_the_job() -> None:
    async with (
        Emulator(request_latency=0.001, responder=_long_replies) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        job = client.messages.batches.run(make_requests(1000), interval=INTERVAL)

        first = await job.pipe(rbo.results(), ops.take(1), ops.to_list())
        await emu.wait_for(lambda: emu.stats.results_aborted == 1, timeout=5.0)

        assert len(first) == 1
        assert emu.stats.results_completed == 0
        assert emu.stats.requests["results"] == 1


async def test_cancel_on_dispose_cancels_the_batches_that_have_not_ended(
    frozen: tuple[Emulator, BatchService],
) -> None:
    emu, batches = frozen
    collector: Collector[Any] = Collector()
    subscription = collector.subscribe(
        batches.run(
            make_requests(30),
            interval=INTERVAL,
            max_requests_per_batch=7,
            max_concurrent_batches=2,
            cancel_on_dispose=True,
        )
    )
    await emu.wait_for(
        lambda: sum(isinstance(e, BatchSubmitted) for e in collector.items) == 2, timeout=5.0
    )

    subscription.dispose()
    await emu.wait_for(lambda: emu.stats.requests["cancel"] >= 2, timeout=5.0)

    submitted = [e.batch.id for e in collector.items if isinstance(e, BatchSubmitted)]
    for batch_id in submitted:
        batch = await batches.retrieve(batch_id)
        assert batch.cancel_initiated_at is not None
    assert emu.stats.requests["cancel"] == 2
