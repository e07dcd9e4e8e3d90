"""``rxbatches job cancel`` with batches still live, then ``rxbatches run`` to resume; and
canceled requests: resubmitted with ``retry_canceled`` / ``--retry-canceled``, else kept."""

from __future__ import annotations

import _thread
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from rxbatches import BatchSubmitted, Client, JobEvent, JobStore, aiterate
from rxbatches._base.models import Request
from rxbatches._cli._app import main
from rxbatches.emulator import Emulator, EmulatorThread, Succeed, default_responder
from tests.conftest import API_KEY, emulator_for_cli
from tests.durable.helpers import id_counts, requests, write_jsonl

PER_BATCH = 10


class _Pace:
    """A responder whose requests are slow (time to cancel) until told otherwise."""

    def __init__(self, latency: float) -> None:
        self.latency: float | None = latency

    def __call__(self, request: Request) -> Succeed:
        return replace(default_responder(request), latency=self.latency)


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[EmulatorThread, _Pace]]:
    # One request at a time, 0.1 s each: a batch of 10 takes a second, time enough to cancel.
    pace = _Pace(0.1)
    with emulator_for_cli(monkeypatch, request_latency=0.001, concurrency=1, responder=pace) as emu:
        yield emu, pace


def _status(store: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["job", "status", store, "--json"]) == 0
    status: dict[str, Any] = json.loads(capsys.readouterr().out)
    return status


def test_job_cancel_cancels_the_live_batches_and_a_later_run_resumes(
    slow: tuple[EmulatorThread, _Pace], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu, pace = slow
    source = tmp_path / "requests.jsonl"
    write_jsonl(source, requests(2 * PER_BATCH))
    store = str(tmp_path / "job.db")
    run = ["run", str(source), "--store", store, "--batch-size", str(PER_BATCH), "-q"]

    # A run makes both batches, then is stopped with Ctrl-C. With a long interval each
    # batch is retrieved once, right after its id is recorded: two retrieves mean both
    # ids are in the store.
    def interrupt_once_both_are_recorded() -> None:
        emu.wait_for(lambda: emu.stats.requests["retrieve"] >= 2, timeout=4.0)
        _thread.interrupt_main()  # what Ctrl-C does

    helper = threading.Thread(target=interrupt_once_both_are_recorded)
    helper.start()
    assert main([*run, "--interval", "30"]) == 130
    helper.join()
    live = _status(store, capsys)["live_batches"]
    assert sorted(live) == sorted(emu.batch_ids())
    assert len(live) == 2
    assert all(emu.batch(batch_id).processing_status == "in_progress" for batch_id in live)

    assert main(["job", "cancel", store]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == live
    assert "asked to cancel 2 batch(es)" in captured.err
    for batch_id in live:
        batch = emu.batch(batch_id)
        assert batch.processing_status in ("canceling", "ended")
        assert batch.cancel_initiated_at is not None
    emu.wait_for(lambda: all(emu.batch(b).processing_status == "ended" for b in live))
    server = Counter[str]()
    for batch_id in live:
        counts = emu.batch(batch_id).request_counts
        assert counts.canceled > 0
        server.update(succeeded=counts.succeeded, canceled=counts.canceled)

    # The same command resumes: it stores the canceled batches' results, makes no batch.
    assert main([*run, "--interval", "0.02"]) == 0
    assert len(emu.batch_ids()) == 2
    status = _status(store, capsys)
    assert (status["succeeded"], status["canceled"]) == (server["succeeded"], server["canceled"])
    assert (status["pending"], status["live_batches"]) == (0, [])
    output = tmp_path / "results.jsonl"
    assert main(["job", "export", store, "-o", str(output)]) == 0
    lines = output.read_text().splitlines()
    assert id_counts(lines) == Counter({f"r{i}": 1 for i in range(2 * PER_BATCH)})
    canceled = {json.loads(x)["custom_id"] for x in lines if '"canceled"' in x}
    assert len(canceled) == server["canceled"]

    # Without --retry-canceled they stay canceled; with it, they alone are sent again.
    assert main([*run, "--interval", "0.02"]) == 0
    assert len(emu.batch_ids()) == 2
    pace.latency = None  # the emulator's own, 1 ms: the resubmission is quick
    assert main([*run, "--interval", "0.02", "--retry-canceled"]) == 0
    resubmitted = set(emu.batch_ids()) - set(live)
    assert resubmitted
    assert sum(emu.batch(b).request_counts.total for b in resubmitted) == len(canceled)
    status = _status(store, capsys)
    assert (status["succeeded"], status["canceled"], status["pending"]) == (2 * PER_BATCH, 0, 0)


async def _run_cancelling_both_batches(
    emu: Emulator, pace: _Pace, path: Path, **options: Any
) -> list[JobEvent]:
    """Run a job of two batches, cancel both on the server as soon as they exist."""
    events: list[JobEvent] = []
    async with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        batches = client.messages.batches
        job = batches.run(
            requests(2 * PER_BATCH),
            store=path,
            interval=0.02,
            max_requests_per_batch=PER_BATCH,
            **options,
        )
        made: list[str] = []
        async for event in aiterate(job):
            events.append(event)
            if isinstance(event, BatchSubmitted) and len(made) < 2:
                made.append(event.batch.id)
                if len(made) == 2:
                    pace.latency = None  # what is resubmitted now goes quickly
                    for batch_id in made:
                        await anext(aiterate(batches.cancel(batch_id)))
    return events


async def _rerun(emu: Emulator, path: Path, **options: Any) -> None:
    async with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        job = client.messages.batches.run(
            requests(2 * PER_BATCH), store=path, interval=0.02, **options
        )
        async for _ in aiterate(job):
            pass


def _canceled_ids(path: Path) -> set[str]:
    with JobStore.open(path, lock=False) as store:
        return {
            json.loads(line)["custom_id"]
            for line in store.export_lines()
            if json.loads(line)["result"]["type"] == "canceled"
        }


async def test_canceled_requests_stay_canceled_unless_retry_canceled(tmp_path: Path) -> None:
    pace = _Pace(0.1)
    async with Emulator(request_latency=0.001, concurrency=1, responder=pace) as emu:
        path = tmp_path / "job.db"
        await _run_cancelling_both_batches(emu, pace, path)
        canceled = _canceled_ids(path)
        assert canceled  # the default: kept as final results
        assert len(emu.batch_ids()) == 2
        await _rerun(emu, path)
        assert len(emu.batch_ids()) == 2  # still nothing resubmitted
        assert _canceled_ids(path) == canceled

        before = set(emu.batch_ids())
        await _rerun(emu, path, retry_canceled=True)
        (new,) = set(emu.batch_ids()) - before
        assert emu.batch(new).request_counts.total == len(canceled)
        assert _canceled_ids(path) == set()


async def test_retry_canceled_resubmits_within_the_same_run(tmp_path: Path) -> None:
    pace = _Pace(0.1)
    async with Emulator(request_latency=0.001, concurrency=1, responder=pace) as emu:
        path = tmp_path / "job.db"
        events = await _run_cancelling_both_batches(emu, pace, path, retry_canceled=True)
        submitted = [e for e in events if isinstance(e, BatchSubmitted)]
        assert len(submitted) >= 3  # the two canceled batches, then their resubmission
        resubmitted = sum(e.requests for e in submitted[2:])
        assert resubmitted > 0
        assert _canceled_ids(path) == set()
        with JobStore.open(path, lock=False) as store:
            summary = store.summary()
            attempts = sum(1 for b in store.batches() for _ in store.attempt_lines(b.key))
        assert (summary.succeeded, summary.canceled, summary.pending) == (2 * PER_BATCH, 0, 0)
        assert attempts == 2 * PER_BATCH + resubmitted  # each attempt of each request kept
