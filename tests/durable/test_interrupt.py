"""``rxbatches run`` stopped with Ctrl-C (SIGINT) mid-job exits 130, and the same command
run again finishes the job: each request exported once, each succeeded once on the server."""

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
from rxbatches._jobs.store import JobSummary
from rxbatches.emulator import EmulatorThread, Fault
from tests.conftest import API_KEY
from tests.durable.helpers import id_counts, requests, write_jsonl

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="SIGINT to a child process is POSIX only"
)

COUNT = 300


def _start(workdir: Path, emu: EmulatorThread) -> subprocess.Popen[str]:
    env = dict(os.environ, ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=emu.base_url)
    command = [sys.executable, "-m", "rxbatches", "run", "requests.jsonl", "--store", "job.db"]
    # One batch at a time: each moment below is a known point of the job.
    command += ["--batch-size", "100", "--max-concurrent", "1", "--interval", "0.02", "--quiet"]
    return subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _interrupt_when(workdir: Path, emu: EmulatorThread, moment: Callable[[], bool]) -> str:
    """Run the command, press Ctrl-C at ``moment``; check it exits 130 quietly."""
    process = _start(workdir, emu)
    try:
        emu.wait_for(moment, timeout=4.0)
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends to the foreground process
        _, err = process.communicate(timeout=4.0)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert err.endswith("interrupted\n"), err
    return err


def _summary(workdir: Path) -> JobSummary:
    with JobStore.open(workdir / "job.db", lock=False) as store:
        return store.summary()


def test_ctrl_c_mid_job_exits_130_and_the_same_command_finishes_the_job(
    tmp_path: Path,
) -> None:
    write_jsonl(tmp_path / "requests.jsonl", requests(COUNT))
    with EmulatorThread(request_latency=0.001) as emu:
        # The first results download is served as usual (its results are stored), the
        # second trickles until Ctrl-C: the job is surely mid-way then.
        emu.faults.script("results", Fault.delay(0), Fault.slow(chunk_bytes=512, interval=0.05))
        _interrupt_when(
            tmp_path,
            emu,
            lambda: emu.stats.results_completed >= 1 and emu.stats.results_open >= 1,
        )
        cut = _summary(tmp_path)
        assert cut.succeeded == 100  # the first batch, stored whole
        assert cut.pending == COUNT - 100
        assert len(emu.batch_ids()) == 2

        # Ctrl-C again at the worst moment: the server has made the third batch, and its
        # answer (the id) is still on its way, trickled.
        emu.faults.script("create", Fault.slow(chunk_bytes=32, interval=0.5))
        _interrupt_when(tmp_path, emu, lambda: len(emu.batch_ids()) >= 3)
        assert _summary(tmp_path).pending > 0

        finished = _start(tmp_path, emu)
        _, err = finished.communicate(timeout=10)
        assert finished.returncode == 0, err
        assert "Traceback" not in err
        made = len(emu.batch_ids())
        assert made == 3  # the interrupted create's batch was adopted, not made again

        rerun = _start(tmp_path, emu)
        rerun.communicate(timeout=10)
        assert rerun.returncode == 0
        assert len(emu.batch_ids()) == made  # finished: nothing sent

        succeeded: Counter[str] = Counter()
        with Client(api_key=API_KEY, base_url=emu.base_url) as client:
            for batch_id in emu.batch_ids():
                for item in rxbatches.iterate(client.messages.batches.results(batch_id)):
                    if item.result.type == "succeeded":
                        succeeded[item.custom_id] += 1
    with JobStore.open(tmp_path / "job.db", lock=False) as store:
        exported = list(store.export_lines())
        summary = store.summary()
        adopted = [b.position for b in store.batches() if b.adopted]
    every = Counter({f"r{i}": 1 for i in range(COUNT)})
    assert id_counts(exported) == every
    assert all(json.loads(line)["result"]["type"] == "succeeded" for line in exported)
    assert (summary.succeeded, summary.pending) == (COUNT, 0)
    assert adopted == [2]  # the third batch: its id came to the store from the server's list
    assert succeeded == every  # across every batch on the server: once each
