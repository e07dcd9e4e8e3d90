"""``rxbatches run`` killed with SIGKILL at the worst moments, then run again: each request
is exported once and, across every batch on the server, succeeded once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

import rxbatches
from rxbatches import Client, JobStore
from rxbatches.emulator import EmulatorThread, Fault
from tests.conftest import API_KEY
from tests.durable.helpers import id_counts, requests, write_jsonl

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX only: no kill -9 to survive"
)

COUNT = 500


def _start(workdir: Path, emu: EmulatorThread, concurrent: int = 2) -> subprocess.Popen[str]:
    env = dict(os.environ, ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=emu.base_url)
    command = [sys.executable, "-m", "rxbatches", "run", "requests.jsonl", "--store", "job.db"]
    command += ["--batch-size", "100", "--max-concurrent", str(concurrent)]
    command += ["--interval", "0.02", "--quiet"]
    return subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _kill_when(
    workdir: Path, emu: EmulatorThread, moment: Callable[[], bool]
) -> subprocess.Popen[str]:
    # One batch at a time: no other create is on its way at the kill, whose batch the
    # next run would have to wait for (up to a minute: IN_FLIGHT_SETTLE, test_in_flight.py).
    process = _start(workdir, emu, concurrent=1)
    try:
        emu.wait_for(moment, timeout=4.0)
    finally:
        process.kill()  # SIGKILL: no cleanup runs, the store is left as it is
        process.communicate()
    return process


def _succeeded_on_server(emu: EmulatorThread) -> Counter[str]:
    succeeded: Counter[str] = Counter()
    with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        for batch_id in emu.batch_ids():
            for item in rxbatches.iterate(client.messages.batches.results(batch_id)):
                if item.result.type == "succeeded":
                    succeeded[item.custom_id] += 1
    return succeeded


def test_killed_at_the_worst_moments_and_rerun_the_job_sends_nothing_twice(
    tmp_path: Path,
) -> None:
    write_jsonl(tmp_path / "requests.jsonl", requests(COUNT))
    with EmulatorThread(request_latency=0.001, error_rate=0.05, fault_seed=11) as emu:
        emu.faults.randomly("results", 0.3, Fault.truncate_lines(40))
        # 1. Just as the server makes the first batch: its id is not recorded yet (the
        # answer trickles, so the kill always lands before it is read).
        emu.faults.script("create", Fault.slow(chunk_bytes=32, interval=0.5))
        _kill_when(tmp_path, emu, lambda: len(emu.batch_ids()) >= 1)
        # 2. Mid-download: the next results stream trickles until the kill.
        emu.faults.script("results", Fault.slow(chunk_bytes=1024, interval=0.05))
        _kill_when(tmp_path, emu, lambda: emu.stats.results_open >= 1)
        finished = _start(tmp_path, emu)
        _, err = finished.communicate(timeout=30)
        assert finished.returncode == 0, err
        server = _succeeded_on_server(emu)
        batches_made = len(emu.batch_ids())
        # A rerun of the finished job creates no batch and exits 0 at once.
        rerun = _start(tmp_path, emu)
        rerun.communicate(timeout=30)
        assert rerun.returncode == 0
        assert len(emu.batch_ids()) == batches_made
    with JobStore.open(tmp_path / "job.db", lock=False) as store:
        exported = list(store.export_lines())
        summary = store.summary()
        adopted = sum(1 for b in store.batches() if b.adopted)
    assert adopted >= 1  # the first batch, found on the server rather than made again
    assert id_counts(exported) == Counter({f"r{i}": 1 for i in range(COUNT)})
    assert summary.pending == 0
    succeeded = [json.loads(line)["custom_id"] for line in exported if b'"succeeded"' in line]
    assert len(succeeded) == summary.succeeded
    assert set(server) == set(succeeded)
    assert set(server.values()) == {1}  # no duplicate batch, nothing re-sent after success
