"""Store overhead of durable jobs: ``python -m bench.durable_store`` prints a row and PASS/FAIL.

One ended batch of 100,000 results on the emulator, consumed two ways, each in a fresh
process of its own (so neither inherits the other's heap, or the input's):

- ``results_streaming`` alone (models, nothing kept): the speed to keep up with;
- a durable job whose store already holds that batch as its own (an intent recorded,
  its id known) downloads the same results and writes them into the store, a
  transaction per 512 KiB of lines, the way ``rxbatches run`` does.

The store must keep at least half the speed of the bare stream, with peak memory growth
under 64 MiB, and never hold the job's loop for 100 ms (a 10 ms ticker runs beside it;
the emulator serving the results shares that loop). The job's 100,000 requests are read
and stored by the parent beforehand: reading the input is not the phase measured (and
its peak would hide the one that is).

Memory is the RSS high-water mark (``VmHWM``, SQLite's own allocations included) minus the
RSS at the start of the phase, with the mark reset there through ``/proc/self/clear_refs``
where Linux allows it (else the process's lifetime peak: an overestimate, never hiding
growth). Each phase runs ``REPEAT`` times (default 3): the best time, the largest growth.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.child import run_child
from bench.data import plain_requests, plain_succeeded_line
from rxbatches import Client, aiterate
from rxbatches._jobs.durable import run_durable
from rxbatches._jobs.store import JobStore
from rxbatches._service.batches import job_parts
from rxbatches.emulator import Emulator
from tests.ticker import Ticker

COUNT = 100_000
LIMIT_MIB = 64.0
MIN_RATIO = 0.5
MAX_GAP = 0.1


def _line(i: int) -> bytes:
    return plain_succeeded_line(i, "An answer of a few words " * 8) + b"\n"


# ------------------------------------------------------------------ memory


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for row in status:
                if row.startswith(field + ":"):
                    return int(row.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the RSS high-water mark to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _rss_kib() -> int:
    current = _status_kib("VmRSS")
    return current if current is not None else _peak_kib()


def _peak_kib() -> int:
    peak = _status_kib("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss // 1024 if sys.platform == "darwin" else maxrss  # bytes on macOS


class _Phase:
    """Time and peak RSS growth of the code inside ``with``."""

    def __enter__(self) -> _Phase:
        gc.collect()
        self.reset = _reset_peak()
        self.before = _rss_kib()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started
        self.growth_mib = (_peak_kib() - self.before) / 1024


# ------------------------------------------------------------------ the phases (children)


async def _bare() -> dict[str, object]:
    async with Emulator(request_latency=0.001) as emu:
        # Lines made as they are served: the process holds no results file.
        batch_id = emu.add_ended_batch(lambda: (_line(i) for i in range(COUNT)))
        async with Client(api_key="sk-bench", base_url=emu.base_url) as client:
            seen = 0
            with _Phase() as phase:
                stream = client.messages.batches.results_streaming(batch_id)
                async for _ in aiterate(stream, max_pending=1000):
                    seen += 1
    assert seen == COUNT
    return {"seconds": phase.seconds, "growth_mib": phase.growth_mib, "reset": phase.reset}


async def _store(path: Path) -> dict[str, object]:
    async with Emulator(request_latency=0.001) as emu:
        batch_id = emu.add_ended_batch(lambda: (_line(i) for i in range(COUNT)))
        with JobStore.open(path) as store:
            (intent,) = store.batches("intent")
            snapshot = emu.batch(batch_id).model_dump_json()
            store.record_created(intent.key, batch_id, snapshot, False)
        async with Client(api_key="sk-bench", base_url=emu.base_url) as client:
            job = run_durable(
                job_parts(client.messages.batches),
                None,
                path,
                interval=0.05,
                max_concurrent_batches=1,
                max_requests_per_batch=COUNT,
                max_body_bytes=256 * 1024 * 1024,
                replay=False,
                result_events=False,
            )
            ticker = Ticker()
            ticker.start()
            with _Phase() as phase:
                async for _ in aiterate(job):
                    pass
            gaps = await ticker.stop()
    with JobStore.open(path, lock=False) as store:
        exported = sum(1 for _ in store.export_lines())
    return {
        "seconds": phase.seconds,
        "growth_mib": phase.growth_mib,
        "reset": phase.reset,
        "exported": exported,
        "max_gap": gaps["max_gap"],
        "max_computing": gaps["max_computing"],
    }


# ------------------------------------------------------------------ the parent


def _prepare(path: Path) -> None:
    """The job's requests stored and its one batch's intent recorded (id set by the child)."""
    with JobStore.open(path) as store:
        store.ingest(plain_requests(COUNT))
        assert store.reserve(COUNT, 256 * 1024 * 1024) is not None


def main() -> int:
    repeat = int(os.environ.get("REPEAT", "3"))
    bare: list[dict[str, object]] = []
    stored: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.db"
        _prepare(template)
        for n in range(repeat):
            bare.append(run_child("bench.durable_store", "--bare"))
            copy = Path(tmp) / f"job{n}.db"
            shutil.copyfile(template, copy)
            stored.append(run_child("bench.durable_store", "--store", str(copy)))

    def best(runs: list[dict[str, object]]) -> float:
        return min(float(str(r["seconds"])) for r in runs)

    def most(runs: list[dict[str, object]]) -> float:
        return max(float(str(r["growth_mib"])) for r in runs)

    bare_s, store_s = best(bare), best(stored)
    ratio = bare_s / store_s
    growth = most(stored)
    exported = {int(str(r["exported"])) for r in stored}
    how = (
        "RSS high-water mark reset at the phase's start"
        if all(r["reset"] for r in bare + stored)
        else "lifetime RSS peak (no /proc/self/clear_refs): an upper bound"
    )
    gap = max(float(str(r["max_gap"])) for r in stored)
    computing = max(float(str(r["max_computing"])) for r in stored)
    ok = exported == {COUNT} and ratio >= MIN_RATIO and growth < LIMIT_MIB and gap < MAX_GAP
    print(
        f"durable store | {COUNT:,} results | results_streaming {COUNT / bare_s:,.0f}/s"
        f" (peak RSS growth {most(bare):.1f} MiB) | into the store {COUNT / store_s:,.0f}/s"
        f" ({ratio:.2f}x, >= {MIN_RATIO}) | peak RSS growth {growth:.1f} MiB (< {LIMIT_MIB:.0f})"
        f" | exported {sorted(exported)} | longest gap of a 10 ms ticker on the job's loop"
        f" {gap * 1000:.0f} ms ({computing * 1000:.0f} ms computing; < {MAX_GAP * 1000:.0f})"
        f" | best time, largest growth and gap of {repeat} runs each,"
        f" each in a fresh process; {how}"
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--bare":
        print(json.dumps(asyncio.run(_bare())))
    elif len(sys.argv) > 2 and sys.argv[1] == "--store":
        print(json.dumps(asyncio.run(_store(Path(sys.argv[2])))))
    else:
        sys.exit(main())
