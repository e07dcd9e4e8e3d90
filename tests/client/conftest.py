"""Fixtures of the client tests: a client pointed at a fresh emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from rxbatches import BatchService, Client
from tests.conftest import API_KEY

if TYPE_CHECKING:
    from rxbatches.emulator import Emulator


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[Client]:
    """A client of the ``emulator`` fixture, closed after the test."""
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        yield client


@pytest.fixture
def batches(client: Client) -> BatchService:
    """``client.messages.batches``."""
    return client.messages.batches
