"""Shared fixtures: the hypothesis profiles and an emulator on 127.0.0.1, port 0."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from rxbatches.emulator import Emulator

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

REFERENCE_DIR = Path(
    os.environ.get("RXBATCHES_REFERENCE_DIR")
    or Path(__file__).resolve().parents[2] / "shared" / "reference"
)
"""Where the shared reference material lives (beside the checkout, or $RXBATCHES_REFERENCE_DIR)."""

API_KEY = "sk-ant-test-0123456789abcdef"
"""The key the tests use; the emulator accepts any non-empty key by default."""


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """A fresh emulator on 127.0.0.1 (free port) whose small batches end in well under a second."""
    from rxbatches.emulator import Emulator

    async with Emulator(request_latency=0.001) as emu:
        yield emu
