"""``rxbatches job cancel`` cancels only the batches still in progress: a live batch of the
store that has ended (its results not stored yet) is reported, left for the next run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import rxbatches
from rxbatches import Client, JobStore
from rxbatches._base.models import Request
from rxbatches._cli._app import main
from rxbatches._service.batches import job_parts
from rxbatches.emulator import EmulatorThread, Fault, Succeed, default_responder
from tests.conftest import API_KEY, emulator_for_cli
from tests.durable.helpers import requests


def _responder(request: Request) -> Succeed:
    # "slow" requests take an hour: their batch is in progress for the whole test.
    slow = request.custom_id.startswith("slow")
    return replace(default_responder(request), latency=3600.0 if slow else None)


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorThread]:
    with emulator_for_cli(monkeypatch, request_latency=0.001, responder=_responder) as emu:
        yield emu


def _job(emu: EmulatorThread, path: Path, prefixes: list[str]) -> list[str]:
    """A store whose batches (5 requests each, one per prefix) were created and recorded."""
    ids: list[str] = []
    with JobStore.open(path) as store, Client(api_key=API_KEY, base_url=emu.base_url) as client:
        store.ingest([r for prefix in prefixes for r in requests(5, prefix=prefix)])
        raw = job_parts(client.messages.batches).raw
        for _ in prefixes:
            reserved = store.reserve(5, 100_000)
            assert reserved is not None
            intent, body = reserved
            (batch,) = rxbatches.to_list(raw.create_encoded(body, None, 5))
            store.record_created(intent.key, batch.id, json.dumps(batch.to_wire()), False)
            ids.append(batch.id)
    return ids


def test_only_the_batches_in_progress_are_canceled(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "job.db"
    seen_ended, ended, running = _job(emu, path, ["a", "b", "slow"])
    emu.wait_for(lambda: emu.batch(seen_ended).ended and emu.batch(ended).ended)
    with JobStore.open(path) as store:  # a run saw the first end, then stopped
        (key,) = [b.key for b in store.batches() if b.batch_id == seen_ended]
        store.record_snapshot(key, json.dumps(emu.batch(seen_ended).to_wire()), True)
        assert {b.state for b in store.batches()} == {"ended", "created"}
    capsys.readouterr()

    assert main(["job", "cancel", str(path)]) == 0
    captured = capsys.readouterr()
    assert emu.stats.requests["cancel"] == 1  # the batch in progress only
    assert captured.out.split() == [running]
    assert emu.batch(running).processing_status == "canceling"
    for batch_id in (seen_ended, ended):
        assert emu.batch(batch_id).cancel_initiated_at is None
        assert (
            f"batch {batch_id} has ended, its results are not stored yet: run the job again"
            in captured.err
        )
    assert "asked to cancel 1 batch(es)" in captured.err

    # Canceling again: it is being canceled already, nothing is sent.
    assert main(["job", "cancel", str(path)]) == 0
    captured = capsys.readouterr()
    assert emu.stats.requests["cancel"] == 1
    assert captured.out == ""
    assert f"batch {running} is being canceled already" in captured.err


@pytest.mark.parametrize("answer", ["400 refused", "200 ended"])
def test_a_batch_ending_between_its_retrieve_and_its_cancel_is_reported_ended(
    answer: str, emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "job.db"
    (batch_id,) = _job(emu, path, ["a"])
    emu.wait_for(lambda: emu.batch(batch_id).ended)
    # The retrieve still shows it in progress (it ends just after); the cancel then finds
    # it ended: refused, or answered with the batch as it is.
    stale = emu.batch(batch_id).to_wire()
    stale.update(processing_status="in_progress", ended_at=None, results_url=None)
    emu.faults.script("retrieve", Fault.status(200, body=json.dumps(stale).encode()))
    if answer == "400 refused":
        emu.faults.script("cancel", Fault.status(400))
    capsys.readouterr()

    assert main(["job", "cancel", str(path)]) == 0
    captured = capsys.readouterr()
    assert emu.stats.requests["cancel"] == 1
    assert captured.out == ""
    assert f"batch {batch_id} has ended, its results are not stored yet" in captured.err
    assert "asked to cancel 0 batch(es)" in captured.err


def test_a_refused_cancel_of_a_batch_in_progress_is_an_error(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "job.db"
    (batch_id,) = _job(emu, path, ["slow"])
    emu.faults.script("cancel", Fault.status(400))
    capsys.readouterr()
    assert main(["job", "cancel", str(path)]) == 1
    captured = capsys.readouterr()
    assert "400" in captured.err
    assert emu.batch(batch_id).processing_status == "in_progress"
