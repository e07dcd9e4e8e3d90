"""Helpers of the CLI tests: request files and batches made through the public client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reactivex import operators as ops

from rxbatches import Client, MessageBatch
from rxbatches.emulator import EmulatorThread
from tests.conftest import API_KEY


def make_requests(n: int, prefix: str = "r") -> list[dict[str, Any]]:
    """``n`` valid create requests as plain dicts."""
    return [
        {
            "custom_id": f"{prefix}{i}",
            "params": {
                "model": "claude-test",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": f"hello {i}"}],
            },
        }
        for i in range(n)
    ]


def write_jsonl(path: Path, items: list[Any]) -> Path:
    """Write one JSON value per line."""
    path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return path


def create_batch(emu: EmulatorThread, n: int, *, ended: bool = True) -> MessageBatch:
    """Create a batch of ``n`` requests, and wait (by watching) until it has ended."""
    with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        batches = client.messages.batches
        batch = batches.create(make_requests(n)).run()
        if ended:
            batch = batches.watch(batch.id, interval=0.01).pipe(ops.last()).run()
    return batch
