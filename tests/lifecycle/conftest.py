"""Fixtures of the lifecycle tests: a client of a fresh emulator, or of a frozen one."""

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
async def frozen() -> AsyncIterator[tuple[Emulator, BatchService]]:
    """An emulator on a manual clock (batches never end unless a test advances it)."""
    async with (
        Emulator(clock=ManualClock()) as emu,
        Client(api_key=API_KEY, base_url=emu.base_url) as client,
    ):
        yield emu, client.messages.batches
