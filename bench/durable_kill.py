"""The SIGKILL figure of durable jobs: ``python -m bench.durable_kill`` prints PASS or FAIL.

A 5,000-request job in batches of 1,000 runs as ``rxbatches run`` against an emulator
with a 5% retryable error rate and results downloads cut at random; it is killed with
SIGKILL at 8 random moments (a random delay into each run) and run again each time. It
must end with every custom_id exported exactly once and, across every batch on the
server, each custom_id succeeded exactly once.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import rxbatches
from rxbatches import Client, JobStore
from rxbatches.emulator import EmulatorThread, Fault

COUNT, BATCH, KILLS = 5_000, 1_000, 8
KEY = "sk-ant-bench-0000"


def _request(i: int) -> dict[str, object]:
    return {
        "custom_id": f"r{i}",
        "params": {
            "model": "claude-haiku-4-5",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": f"question {i}"}],
        },
    }


def main() -> int:
    rng = random.Random(int(os.environ.get("SEED", "1")))
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmulatorThread(request_latency=0.02, concurrency=2, error_rate=0.05, fault_seed=5) as emu,
    ):
        work = Path(tmp)
        with open(work / "requests.jsonl", "w") as f:
            f.writelines(json.dumps(_request(i)) + "\n" for i in range(COUNT))
        emu.faults.randomly("results", 0.3, Fault.truncate_lines(200))
        env = dict(os.environ, ANTHROPIC_API_KEY=KEY, ANTHROPIC_BASE_URL=emu.base_url)
        command = [sys.executable, "-m", "rxbatches", "run", "requests.jsonl"]
        command += ["--store", "job.db", "--batch-size", str(BATCH), "--interval", "0.05", "-q"]
        started = time.monotonic()
        kills = 0
        runs = 0
        while True:
            runs += 1
            process = subprocess.Popen(command, cwd=work, env=env, stderr=subprocess.PIPE)
            if kills < KILLS:
                try:
                    process.wait(timeout=rng.uniform(0.8, 3.0))
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                    # A kill counts only if it cut the job short (not a finished rerun).
                    with JobStore.open(work / "job.db", lock=False) as store:
                        kills += store.summary().pending > 0
                    continue
            try:
                _, err = process.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                _, err = process.communicate()
                print(f"FAIL: run {runs} did not end in 120 s: {err.decode()[-800:]}")
                return 1
            if process.returncode != 0:
                print(f"FAIL: run {runs} exited {process.returncode}: {err.decode()[-500:]}")
                return 1
            if kills < KILLS:
                print(f"FAIL: the job ended after only {kills} kills: make it slower")
                return 1
            break
        elapsed = time.monotonic() - started
        with JobStore.open(work / "job.db", lock=False) as store:
            exported = Counter(json.loads(line)["custom_id"] for line in store.export_lines())
            summary = store.summary()
            adopted = sum(1 for b in store.batches() if b.adopted)
        succeeded: Counter[str] = Counter()
        with Client(api_key=KEY, base_url=emu.base_url) as client:
            for batch_id in emu.batch_ids():
                for item in rxbatches.iterate(client.messages.batches.results(batch_id)):
                    if item.result.type == "succeeded":
                        succeeded[item.custom_id] += 1
        once = exported == Counter({f"r{i}": 1 for i in range(COUNT)})
        no_dup = set(succeeded.values()) == {1} and len(succeeded) == summary.succeeded
        print(
            f"{COUNT} requests, batches of {BATCH}, {kills} SIGKILLs, {runs} runs, {elapsed:.1f} s;"
            f" {len(emu.batch_ids())} batches on the server ({adopted} adopted after a kill);"
            f" {summary.succeeded} succeeded, {summary.errored} errored, {summary.expired} expired"
            f" ({sum(emu.faults.request_faults.values())} retryable failures drawn, resubmitted;"
            f" {emu.faults.injected['results']} results downloads cut);"
            f" exported once each: {once}; succeeded once each on the server: {no_dup}"
        )
        print("PASS" if once and no_dup else "FAIL")
        return 0 if once and no_dup else 1


if __name__ == "__main__":
    sys.exit(main())
