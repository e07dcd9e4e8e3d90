"""A create still on its way when its run died: the next run waits for it, never sends twice.

The in-flight create is a real one, on a socket to the emulator, whose body stops half
way until the test lets it go on: the server makes its batch only then, after the rerun's
first listing. The rerun's wait is on a clock of the test's (no real time passes).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import aiohttp
from reactivex import Observable

from rxbatches import BatchSubmitted, Client, JobEvent, JobStore, aiterate
from rxbatches._base.body import FileBody
from rxbatches._base.validation import MAX_BODY_BYTES
from rxbatches._jobs.durable import IN_FLIGHT_SETTLE, create_horizon, run_durable
from rxbatches._service.batches import job_parts
from rxbatches.emulator import Emulator, Fault
from tests.conftest import API_KEY
from tests.durable.helpers import id_counts, requests

# A client whose creates take at most 138 s: 60 + 2 attempts * (2 + 7) + 1 retry * 60.
TIMEOUTS: dict[str, Any] = {"timeout": 7.0, "connect_timeout": 2.0, "max_retries": 1}
HORIZON = 138.0


class _Clock:
    """The job's clock: each sleep is recorded, and lasts as long as ``during`` takes."""

    def __init__(self, during: Callable[[], Awaitable[None]] | None = None) -> None:
        self.sleeps: list[float] = []
        self._during = during

    def now(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self._during is not None:
            await self._during()


def _age(path: Path, seconds: float) -> None:
    """Make the store's intents ``seconds`` older, as if recorded that long before."""
    with sqlite3.connect(path) as db:
        db.execute("UPDATE batches SET intent_at = intent_at - ?", (seconds,))
    db.close()


def _intent(path: Path, job: list[dict[str, Any]], size: int) -> bytes:
    """Record the intent of the job's first batch (``size`` requests), as a run would."""
    with JobStore.open(path) as store:
        store.ingest(job)
        reserved = store.reserve(size, 10_000_000)
        assert reserved is not None
        return reserved[1]


async def _half_sent_create(emu: Emulator, body: bytes, go_on: asyncio.Event) -> None:
    """POST a create whose body stops half way until ``go_on`` is set."""

    async def pieces() -> AsyncIterator[bytes]:
        yield body[: len(body) // 2]
        await go_on.wait()
        yield body[len(body) // 2 :]

    headers = {
        "x-api-key": API_KEY,
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
        "content-length": str(len(body)),
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{emu.base_url}/v1/messages/batches", data=pieces(), headers=headers) as r,
    ):
        assert r.status == 200, await r.text()


def _sent(emu: Emulator) -> int:
    """Requests the server received across every batch."""
    return sum(emu.batch(batch_id).request_counts.total for batch_id in emu.batch_ids())


def _durable(
    client: Client,
    job: list[dict[str, Any]],
    path: Path,
    clock: _Clock,
    *,
    concurrent: int = 2,
    per_batch: int = 50,
) -> Observable[JobEvent]:
    return run_durable(
        job_parts(client.messages.batches),
        job,
        path,
        interval=0.02,
        max_concurrent_batches=concurrent,
        max_requests_per_batch=per_batch,
        max_body_bytes=MAX_BODY_BYTES,
        clock=clock,
    )


async def _run(client: Client, job: list[dict[str, Any]], path: Path, clock: _Clock) -> list[Any]:
    events: list[JobEvent] = [event async for event in aiterate(_durable(client, job, path, clock))]
    return events


async def test_a_create_reaching_the_server_after_the_listing_is_adopted_not_sent_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.db"
    job = requests(100)
    body = _intent(path, job, 50)  # r0-r49: the create a kill left on its way
    async with (
        Emulator(request_latency=0.001) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url, **TIMEOUTS) as client,
    ):
        go_on = asyncio.Event()
        in_flight = asyncio.create_task(_half_sent_create(emu, body, go_on))
        await emu.wait_for(lambda: emu.stats.requests["create"] == 1)

        async def during_the_wait() -> None:
            # The rest of the job goes on meanwhile: r50-r99 get a batch of their own.
            await emu.wait_for(lambda: len(emu.batch_ids()) == 1)
            go_on.set()  # the create arrives whole: the server makes its batch now
            await emu.wait_for(lambda: len(emu.batch_ids()) == 2)

        clock = _Clock(during_the_wait)
        events = await _run(client, job, path, clock)
        go_on.set()  # without the wait, the create arrives only now
        await in_flight
        assert _sent(emu) == 100  # each request once: the late batch was adopted
        assert len(emu.batch_ids()) == 2
        assert len(clock.sleeps) == 1
        # The run that recorded the intent is over: a minute from now, not its horizon.
        assert IN_FLIGHT_SETTLE - 5 < clock.sleeps[0] <= IN_FLIGHT_SETTLE < HORIZON
    with JobStore.open(path, lock=False) as store:
        exported = list(store.export_lines())
        adopted = [(b.position, b.requests) for b in store.batches() if b.adopted]
    assert id_counts(exported) == Counter({f"r{i}": 1 for i in range(100)})
    assert adopted == [(0, 50)]
    submitted = sorted(e.batch_index for e in events if isinstance(e, BatchSubmitted))
    assert submitted == [0, 1]


async def test_an_intent_whose_batch_never_comes_is_sent_after_the_horizon(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.db"
    job = requests(50)
    _intent(path, job, 50)  # its create never left
    async with (
        Emulator(request_latency=0.001) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url, **TIMEOUTS) as client,
    ):
        created_during_the_wait: list[int] = []

        async def during_the_wait() -> None:
            created_during_the_wait.append(emu.stats.requests["create"])

        clock = _Clock(during_the_wait)
        await _run(client, job, path, clock)
        assert created_during_the_wait == [0]  # nothing sent before the wait is over
        assert len(clock.sleeps) == 1
        assert IN_FLIGHT_SETTLE - 5 < clock.sleeps[0] <= IN_FLIGHT_SETTLE
        assert emu.stats.requests["list"] == 2  # listed again after it
        assert len(emu.batch_ids()) == 1
        assert _sent(emu) == 50
    with JobStore.open(path, lock=False) as store:
        assert id_counts(store.export_lines()) == Counter({f"r{i}": 1 for i in range(50)})
        assert not any(b.adopted for b in store.batches())


async def test_an_intent_near_its_horizon_waits_only_for_what_is_left_of_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.db"
    job = requests(50)
    _intent(path, job, 50)
    _age(path, HORIZON - 18)  # 18 s of its horizon are left
    async with (
        Emulator(request_latency=0.001) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url, **TIMEOUTS) as client,
    ):
        clock = _Clock()
        await _run(client, job, path, clock)
        assert len(clock.sleeps) == 1
        assert 13 < clock.sleeps[0] <= 18
        assert _sent(emu) == 50


async def test_an_intent_older_than_the_horizon_is_resolved_at_once(tmp_path: Path) -> None:
    path = tmp_path / "job.db"
    job = requests(50)
    _intent(path, job, 50)
    _age(path, HORIZON + 1)  # the crash was long ago
    async with (
        Emulator(request_latency=0.001) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url, **TIMEOUTS) as client,
    ):
        clock = _Clock()
        await _run(client, job, path, clock)
        assert clock.sleeps == []
        assert emu.stats.requests["list"] == 1
        assert _sent(emu) == 50


def test_the_horizon_is_every_attempt_with_its_waits_and_a_bounded_unbounded_timeout() -> None:
    def horizon(**options: Any) -> float:
        client = Client(api_key=API_KEY, base_url="http://127.0.0.1:9", **options)
        try:
            return create_horizon(job_parts(client.messages.batches).raw.options(None))
        finally:
            client.close()

    assert horizon(**TIMEOUTS) == HORIZON
    assert horizon() == 60 + 3 * (600 + 5) + 2 * 60  # the defaults: 33 min 15 s
    assert horizon(timeout=None, max_retries=0, connect_timeout=5.0) == 60 + 3600 + 5


def _big(count: int, size: int) -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"big-{i}",
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": "x" * size}],
            },
        }
        for i in range(count)
    ]


async def test_a_create_cut_before_its_last_byte_left_is_abandoned_at_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.db"
    # 24 MB: more than the loopback socket buffers hold, so while the server waits
    # before reading, the upload stalls part way.
    job = _big(24, 1_000_000)
    async with (
        Emulator(request_latency=0.001) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url, **TIMEOUTS) as client,
    ):
        emu.faults.script("create", Fault.delay(3.0))  # it reads nothing for 3 s
        first = _durable(client, job, path, _Clock(), concurrent=1, per_batch=100)
        subscription = first.subscribe(on_error=lambda _: None)
        await emu.wait_for(lambda: emu.stats.requests["create"] == 1)
        subscription.dispose()  # Ctrl-C mid-upload

        # The rerun finds no intent left: nothing to wait for, the batch made once.
        clock = _Clock()
        await _run(client, job, path, clock)
        assert clock.sleeps == []
        assert len(emu.batch_ids()) == 1
        assert _sent(emu) == 24
    with JobStore.open(path, lock=False) as store:
        states = [b.state for b in store.batches()]
    assert states == ["abandoned", "done"]


async def test_a_file_body_knows_whether_its_last_byte_was_handed_out() -> None:
    body = FileBody()
    body.write(b"x" * (3 * 1024 * 1024))  # spooled: sent in blocks
    async with aclosing(body.stream()) as stream:
        await anext(stream)
        cut = body.handed_whole  # read after a first block only
    async for _block in body.stream():
        pass
    assert (cut, body.handed_whole) == (False, True)
    body.close()
    small = FileBody()
    small.write(b"{}")
    before = small.handed_whole
    assert [block async for block in small.stream()] == [b"{}"]
    assert (before, small.handed_whole) == (False, True)
