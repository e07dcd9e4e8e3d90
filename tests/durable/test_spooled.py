"""A durable job's create bodies are spooled from the store, as a plain create's are: past
1 MiB they go to a temporary file and are streamed from there, never whole in memory."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from rxbatches import Client, JobStore, aiterate
from rxbatches._base.body import FileBody
from rxbatches.emulator import Emulator
from tests.conftest import API_KEY
from tests.durable.helpers import MODEL, id_counts


def _large(count: int) -> list[dict[str, Any]]:
    """``count`` requests of about 2.5 KB each."""
    return [
        {
            "custom_id": f"r{i}",
            "params": {
                "model": MODEL,
                "max_tokens": 16,
                "messages": [{"role": "user", "content": f"{i} " + "x" * 2500}],
            },
        }
        for i in range(count)
    ]


def test_the_spooled_body_is_the_chunk_in_input_order_and_goes_to_a_file(tmp_path: Path) -> None:
    with JobStore.open(tmp_path / "job.db") as store:
        store.ingest(_large(600))  # 1.5 MB
        reserved = store.reserve_spooled(500, 100_000_000)
        assert reserved is not None
        intent, body = reserved
        try:
            assert isinstance(body, FileBody)
            assert body._fd >= 0  # past 1 MiB: in a file, not in memory
            data = b"".join(body.blocks())
        finally:
            body.close()
        assert body.size == len(data)
        sent = [r["custom_id"] for r in json.loads(data)["requests"]]
        assert sent == [f"r{i}" for i in range(500)]
        assert intent.requests == 500
        # reserve (the body as bytes) gives the next chunk, spooled the same way.
        again = store.reserve(500, 100_000_000)
        assert again is not None
        assert [r["custom_id"] for r in json.loads(again[1])["requests"]] == [
            f"r{i}" for i in range(500, 600)
        ]


def test_the_size_limit_counts_the_spooled_requests(tmp_path: Path) -> None:
    with JobStore.open(tmp_path / "job.db") as store:
        store.ingest(_large(10))
        reserved = store.reserve_spooled(10, 3 * 2600)  # room for 2 requests, not 3
        assert reserved is not None
        intent, body = reserved
        body.close()
        assert intent.requests == 2


async def test_a_job_of_large_batches_sends_each_request_once(tmp_path: Path) -> None:
    path = tmp_path / "job.db"
    async with (
        Emulator(request_latency=0.001) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        job = client.messages.batches.run(
            _large(1000), store=path, interval=0.02, max_requests_per_batch=500
        )
        async for _ in aiterate(job):
            pass
        sizes = sorted(emu.batch(b).request_counts.total for b in emu.batch_ids())
        assert sizes == [500, 500]  # 1.3 MB bodies, streamed from their files
    with JobStore.open(path, lock=False) as store:
        exported = list(store.export_lines())
    assert id_counts(exported) == Counter({f"r{i}": 1 for i in range(1000)})
