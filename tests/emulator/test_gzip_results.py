"""The emulator's opt-in gzip compression of results streams."""

from __future__ import annotations

import gzip

import aiohttp

from rxbatches.emulator import Emulator
from tests.conftest import API_KEY

LINES = [b'{"custom_id":"a%d","result":{"type":"expired"}}\n' % i for i in range(500)]


async def fetch_results(emu: Emulator, batch_id: str, encoding: str) -> tuple[str | None, bytes]:
    headers = {
        "x-api-key": API_KEY,
        "anthropic-version": "2023-06-01",
        "accept-encoding": encoding,
    }
    url = f"{emu.base_url}/v1/messages/batches/{batch_id}/results"
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.get(url, headers=headers) as response,
    ):
        assert response.status == 200
        return response.headers.get("content-encoding"), await response.read()


async def test_gzip_results_compresses_only_for_clients_that_accept_it() -> None:
    async with Emulator(gzip_results=True) as emu:
        batch_id = emu.add_ended_batch(LINES)

        encoding, body = await fetch_results(emu, batch_id, "gzip, deflate")
        assert encoding == "gzip"
        assert gzip.decompress(body) == b"".join(LINES)

        encoding, body = await fetch_results(emu, batch_id, "identity")
        assert encoding is None
        assert body == b"".join(LINES)


async def test_results_are_not_compressed_by_default() -> None:
    async with Emulator() as emu:
        batch_id = emu.add_ended_batch(LINES)

        encoding, body = await fetch_results(emu, batch_id, "gzip")
        assert encoding is None
        assert body == b"".join(LINES)
