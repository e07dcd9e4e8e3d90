"""batches.run(requests, store=...) against the emulator: resumable, nothing sent twice."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from rxbatches import (
    BatchService,
    BatchSubmitted,
    Client,
    JobEvent,
    JobProgressed,
    JobStore,
    JobStoreError,
    ResultReceived,
    aiterate,
)
from rxbatches._base.models import Request
from rxbatches._service.batches import job_parts
from rxbatches.emulator import Emulator, EmulatorThread, Fail, Fault, default_responder
from tests.conftest import API_KEY
from tests.durable.helpers import id_counts, requests

FAST: dict[str, Any] = {"interval": 0.02, "max_requests_per_batch": 100}


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[Emulator, BatchService]]:
    """An emulator where 10% of requests fail with a retryable error (seeded)."""
    async with (
        Emulator(request_latency=0.001, error_rate=0.1, fault_seed=7) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        yield emu, client.messages.batches


@pytest.fixture
async def batches(emulator: Emulator) -> AsyncIterator[BatchService]:
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        yield client.messages.batches


async def _events(job: Any) -> list[JobEvent]:
    return [event async for event in aiterate(job)]


async def _server_outcomes(emu: Emulator, batches: BatchService) -> Counter[tuple[str, str]]:
    """(custom_id, result type) over every batch on the server."""
    seen: Counter[tuple[str, str]] = Counter()
    for batch_id in emu.batch_ids():
        async for item in aiterate(batches.results_streaming(batch_id)):
            seen[item.custom_id, item.result.type] += 1
    return seen


def _export(path: Path) -> list[bytes]:
    with JobStore.open(path, lock=False) as store:
        return list(store.export_lines())


async def test_a_job_ends_with_a_final_result_for_each_request_and_reruns_send_nothing(
    flaky: tuple[Emulator, BatchService], tmp_path: Path
) -> None:
    emu, batches = flaky
    store = tmp_path / "job.db"
    events = await _events(batches.run(requests(300), store=store, **FAST))
    made = len(emu.batch_ids())
    assert made > 3  # 3 batches of 100, then the resubmissions
    last = events[-1]
    assert isinstance(last, JobProgressed)
    assert last.progress.ended
    assert last.progress.total == 300
    assert last.progress.processing == 0
    lines = _export(store)
    assert id_counts(lines) == Counter({f"r{i}": 1 for i in range(300)})
    outcomes = await _server_outcomes(emu, batches)
    succeeded = Counter(
        cid for (cid, kind), n in outcomes.items() if kind == "succeeded" for _ in range(n)
    )
    assert max(succeeded.values()) == 1  # nothing re-sent after it succeeded
    assert sum(1 for (_, kind) in outcomes if kind == "errored") > 0  # resubmitted, then final
    # Rerun of the finished job: no batch, the same results replayed, ended progress.
    again = await _events(batches.run(requests(300), store=store, **FAST))
    assert len(emu.batch_ids()) == made
    replayed = [e for e in again if isinstance(e, ResultReceived)]
    first = [e for e in events if isinstance(e, ResultReceived)]
    assert sorted(e.response.custom_id for e in replayed) == sorted(
        e.response.custom_id for e in first
    )
    assert isinstance(again[-1], JobProgressed)
    assert again[-1].progress == last.progress


async def test_added_requests_make_exactly_one_batch_of_them(
    emulator: Emulator, batches: BatchService, tmp_path: Path
) -> None:
    store = tmp_path / "job.db"
    await _events(batches.run(requests(200), store=store, **FAST))
    before = set(emulator.batch_ids())
    assert len(before) == 2
    await _events(batches.run(requests(300), store=store, **FAST))
    (new,) = set(emulator.batch_ids()) - before
    assert emulator.batch(new).request_counts.total == 100
    outcomes = await _server_outcomes(emulator, batches)
    assert all(n == 1 for n in outcomes.values())
    assert id_counts(_export(store)) == Counter({f"r{i}": 1 for i in range(300)})


async def test_status_usage_is_the_sum_over_the_exported_succeeded_results(
    flaky: tuple[Emulator, BatchService], tmp_path: Path
) -> None:
    _, batches = flaky
    store = tmp_path / "job.db"
    await _events(batches.run(requests(150), store=store, **FAST))
    totals: Counter[str] = Counter()
    for line in _export(store):
        result = json.loads(line)["result"]
        if result["type"] == "succeeded":
            for key, value in result["message"]["usage"].items():
                if key.endswith("_tokens"):
                    totals[key] += value
    with JobStore.open(store, lock=False) as opened:
        summary = opened.summary().as_json()
    assert summary["usage"] == {
        "input_tokens": totals["input_tokens"],
        "output_tokens": totals["output_tokens"],
        "cache_creation_input_tokens": totals["cache_creation_input_tokens"],
        "cache_read_input_tokens": totals["cache_read_input_tokens"],
    }
    assert summary["usage"]["input_tokens"] > 0
    assert isinstance(summary["cost_usd"], float)
    assert summary["cost_usd"] > 0


async def test_invalid_requests_are_never_resubmitted(tmp_path: Path) -> None:
    def responder(request: Request) -> Any:
        if request.custom_id.startswith("bad"):
            return Fail("invalid_request_error", "rejected by the test")
        return default_responder(request)

    async with (
        Emulator(request_latency=0.001, responder=responder) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        job = [*requests(5), *requests(3, prefix="bad")]
        await _events(client.messages.batches.run(job, store=tmp_path / "j.db", **FAST))
        assert len(emu.batch_ids()) == 1
        with JobStore.open(tmp_path / "j.db", lock=False) as store:
            summary = store.summary()
        assert (summary.succeeded, summary.errored, summary.pending) == (5, 3, 0)


async def test_a_cut_download_stores_every_result_once(
    emulator: Emulator, batches: BatchService, tmp_path: Path
) -> None:
    emulator.faults.script("results", Fault.truncate_lines(37), Fault.truncate_lines(5))
    store = tmp_path / "job.db"
    events = await _events(batches.run(requests(200), store=store, **FAST))
    assert emulator.faults.injected["results"] == 2
    assert id_counts(_export(store)) == Counter({f"r{i}": 1 for i in range(200)})
    received = Counter(e.response.custom_id for e in events if isinstance(e, ResultReceived))
    assert set(received.values()) == {1}
    assert len(received) == 200


async def _intent_then_crash(path: Path, count: int) -> tuple[bytes, int]:
    """Record an intent as a run would, then 'crash' before the create answers."""
    with JobStore.open(path) as store:
        store.ingest(requests(count))
        reserved = store.reserve(1000, 10_000_000)
        assert reserved is not None
        return reserved[1], reserved[0].requests


def raw_create(batches: BatchService) -> Any:
    """The create of an already encoded body, as a job makes it."""
    return job_parts(batches).raw.create_encoded


async def test_a_batch_made_before_a_crash_is_adopted_not_made_again(
    emulator: Emulator, batches: BatchService, tmp_path: Path
) -> None:
    store = tmp_path / "job.db"
    body, count = await _intent_then_crash(store, 50)
    made = [b async for b in aiterate(raw_create(batches)(body, None, count))]
    events = await _events(batches.run(requests(50), store=store, **FAST))
    assert emulator.batch_ids() == [made[0].id]
    submitted = [e for e in events if isinstance(e, BatchSubmitted)]
    assert [e.batch.id for e in submitted] == [made[0].id]
    assert id_counts(_export(store)) == Counter({f"r{i}": 1 for i in range(50)})


# An intent with no batch on the server: tests/durable/test_in_flight.py.


async def test_several_candidates_stop_the_job_naming_them(
    emulator: Emulator, batches: BatchService, tmp_path: Path
) -> None:
    store = tmp_path / "job.db"
    body, count = await _intent_then_crash(store, 50)
    ids = [(await _events_of(raw_create(batches)(body, None, count)))[0].id for _ in range(2)]
    with pytest.raises(JobStoreError) as caught:
        await _events(batches.run(requests(50), store=store, **FAST))
    assert all(batch_id in str(caught.value) for batch_id in ids)
    assert len(emulator.batch_ids()) == 2  # nothing more was made


async def _events_of(observable: Any) -> list[Any]:
    return [item async for item in aiterate(observable)]


async def test_a_resumed_job_gives_the_events_of_an_uninterrupted_one(tmp_path: Path) -> None:
    async def run(interrupt: bool) -> tuple[Counter[tuple[str, str]], JobProgressed, int]:
        async with (
            Emulator(request_latency=0.001, error_rate=0.1, fault_seed=3) as emu,
            Client(api_key=API_KEY, base_url=emu.base_url) as client,
        ):
            path = tmp_path / f"job-{interrupt}.db"
            job = client.messages.batches.run(requests(300), store=path, **FAST)
            if interrupt:
                submitted = 0
                async for event in aiterate(job):
                    submitted += isinstance(event, BatchSubmitted)
                    if submitted == 2:
                        break  # disposed mid-job: a batch created, another in flight
            events = await _events(job)
            results = Counter(
                (e.response.custom_id, e.response.result.type)
                for e in events
                if isinstance(e, ResultReceived)
            )
            last = events[-1]
            assert isinstance(last, JobProgressed)
            return results, last, len(emu.batch_ids())

    whole, whole_last, whole_batches = await run(False)
    resumed, resumed_last, resumed_batches = await run(True)
    assert resumed == whole
    # How resubmissions group into batches depends on timing; every count is the same.
    assert replace(resumed_last.progress, batches=0, ended_batches=0) == replace(
        whole_last.progress, batches=0, ended_batches=0
    )
    assert resumed_last.progress.ended
    assert resumed_last.progress.batches == resumed_batches
    assert whole_last.progress.batches == whole_batches


def test_a_run_disposed_then_its_client_closed_releases_the_store(tmp_path: Path) -> None:
    # The dispose cancels the run, the client's close cancels it again mid-cleanup: the
    # store must be closed all the same, or this process can never open it again.
    path = tmp_path / "job.db"
    with EmulatorThread(request_latency=0.1, concurrency=1) as emu:
        with Client(api_key=API_KEY, base_url=emu.base_url) as client:
            job = client.messages.batches.run(
                requests(20), store=path, interval=30, max_requests_per_batch=10
            )
            both = threading.Event()
            made: list[BatchSubmitted] = []

            def on_next(event: JobEvent) -> None:
                if isinstance(event, BatchSubmitted):
                    made.append(event)
                    if len(made) == 2:
                        both.set()

            subscription = job.subscribe(on_next)
            assert both.wait(4.0)
            subscription.dispose()
        with JobStore.open(path) as store:  # the lock, at once (no wait)
            assert len(store.summary().live_batches) == 2
