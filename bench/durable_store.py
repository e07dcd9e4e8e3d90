"""Store overhead of durable jobs: ``python -m bench.durable_store`` prints a row and PASS/FAIL.

One ended batch of 100,000 results on the emulator. First ``results_streaming`` alone
consumes them (models, nothing kept); then a durable job whose store holds that batch
as its own (an intent recorded, its id known) downloads the same results and writes
them into the store, a transaction per 500, bounded by ``aiterate(max_pending=...)``.
The store must keep at least half the speed of the bare stream, with peak memory
growth (RSS) under 64 MiB.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from rxbatches import Client, aiterate
from rxbatches._jobs.durable import run_durable
from rxbatches._jobs.store import JobStore
from rxbatches.emulator import Emulator

COUNT = 100_000


def _line(i: int) -> bytes:
    result = {
        "custom_id": f"r{i}",
        "result": {
            "type": "succeeded",
            "message": {
                "id": f"msg_{i}",
                "type": "message",
                "role": "assistant",
                "model": "claude-haiku-4-5",
                "content": [{"type": "text", "text": "An answer of a few words " * 8}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 12, "output_tokens": 40},
            },
        },
    }
    return json.dumps(result).encode() + b"\n"


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "job.db"
        async with Emulator(request_latency=0.001) as emu:
            # Lines made as they are served: the process holds no results file, so the
            # peak RSS of the bare stream is the baseline the store's growth is measured on.
            batch_id = emu.add_ended_batch(lambda: (_line(i) for i in range(COUNT)))
            async with Client(api_key="sk-bench", base_url=emu.base_url) as client:
                batches = client.messages.batches
                started = time.perf_counter()
                seen = 0
                async for _ in aiterate(batches.results_streaming(batch_id), max_pending=1000):
                    seen += 1
                bare = time.perf_counter() - started
                assert seen == COUNT

                with JobStore.open(path) as store:
                    store.ingest(
                        {
                            "custom_id": f"r{i}",
                            "params": {
                                "model": "claude-haiku-4-5",
                                "max_tokens": 64,
                                "messages": [{"role": "user", "content": "q"}],
                            },
                        }
                        for i in range(COUNT)
                    )
                    reserved = store.reserve(COUNT, 256 * 1024 * 1024)
                    assert reserved is not None
                    snapshot = emu.batch(batch_id).model_dump_json()
                    store.record_created(reserved[0].key, batch_id, snapshot, False)
                before = _rss_mib()
                started = time.perf_counter()
                job = run_durable(
                    batches,
                    None,
                    path,
                    interval=0.05,
                    max_concurrent_batches=1,
                    max_requests_per_batch=COUNT,
                    max_body_bytes=256 * 1024 * 1024,
                    replay=False,
                    result_events=False,
                )
                async for _ in aiterate(job):
                    pass
                stored = time.perf_counter() - started
                growth = _rss_mib() - before
        with JobStore.open(path, lock=False) as store:
            exported = sum(1 for _ in store.export_lines())
    ratio = bare / stored
    ok = exported == COUNT and ratio >= 0.5 and growth < 64
    print(
        f"durable store | {COUNT:,} results | results_streaming {COUNT / bare:,.0f}/s |"
        f" into the store {COUNT / stored:,.0f}/s ({ratio:.2f}x) | peak RSS growth"
        f" {growth:.1f} MiB | exported {exported:,}"
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
