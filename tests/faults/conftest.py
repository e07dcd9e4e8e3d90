"""Fixtures of the fault tests: a client of a fresh emulator, or of a frozen one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rxbatches import BatchService, Client
from rxbatches.emulator import Emulator, ManualClock
from tests.conftest import API_KEY


@pytest.fixture
async def batches(emulator: Emulator) -> AsyncIterator[BatchService]:
    """``client.messages.batches`` of a client of the ``emulator`` fixture."""
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        yield client.messages.batches


@pytest.fixture
async def frozen() -> AsyncIterator[tuple[Emulator, ManualClock, BatchService]]:
    """An emulator on a manual clock (batches end only when a test advances it)."""
    clock = ManualClock()
    async with (
        Emulator(clock=clock) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        yield emu, clock, client.messages.batches
