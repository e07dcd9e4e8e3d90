"""Fixtures of the runtime tests: an emulator in its own process, and a heavy request."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def emulator_process() -> Iterator[str]:
    """The base URL of an emulator served by another process, whose batches end at once.

    Another process, not a thread: the emulator parses every create body it receives,
    and doing that under this process's GIL would stall the loop being measured.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "rxbatches", "emulator", "--port", "0", "--latency", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        url = process.stdout.readline().strip()  # its first line is its base URL
        assert url.startswith("http://"), f"the emulator printed {url!r}"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def heavy_request(index: int) -> dict[str, Any]:
    """A valid create request of about 1.4 KB, like the benchmark's (100,000 make 140 MB)."""
    text = f"request {index}: " + "the quick brown fox jumps over the lazy dog " * 30
    return {
        "custom_id": f"request-{index:06d}",
        "params": {
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "system": "You are a careful assistant.",
            "messages": [{"role": "user", "content": text}],
        },
    }
