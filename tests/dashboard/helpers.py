"""Serving the dashboard on 127.0.0.1 (port 0) and reading its event stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web

from rxbatches import Client
from rxbatches.dashboard import TOKEN, make_app
from rxbatches.dashboard._serve import serving


class Served:
    """A dashboard being served: its base URL, token and a session to call it with."""

    def __init__(
        self, url: str, token: str, http: aiohttp.ClientSession, app: web.Application
    ) -> None:
        self.url = url
        self.app = app
        self.token = token
        self.http = http

    def at(self, path: str, *, token: bool = True) -> str:
        return f"{self.url}{path}" + (f"?token={self.token}" if token else "")


@asynccontextmanager
async def serve(client: Client, **options: Any) -> AsyncIterator[Served]:
    """Serve ``make_app(client, **options)`` until the block ends."""
    app = make_app(client, **options)
    async with serving(app, "127.0.0.1", 0) as url, aiohttp.ClientSession() as http:
        base = url.partition("/?")[0]  # http://127.0.0.1:PORT
        yield Served(base, app[TOKEN], http, app)


async def events(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, str]]:
    """The events of an open event stream: (event name, data text)."""
    event = "message"
    data: list[str] = []
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line == "":
            if data:
                yield event, "\n".join(data)
            event = "message"
            data = []
        elif line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            data.append(line[len("data: ") :])


def apply(state: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """``state`` with a ``delta`` event applied, as the page's script does."""
    batches = {b["id"]: b for b in state["batches"]}
    for batch in change["upsert"]:
        batches[batch["id"]] = batch
    for batch_id in change["removed"]:
        batches.pop(batch_id, None)
    order = change.get("order", [b["id"] for b in state["batches"]])
    return {
        "batches": [batches[i] for i in order],
        "batches_error": change["batches_error"],
        "listed": change["listed"],
        "stores": change.get("stores", state["stores"]),
    }


async def states(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """The states an open event stream shows: its ``state`` event, then each delta applied."""
    state: dict[str, Any] | None = None
    async for event, data in events(response):
        if event == "state":
            state = json.loads(data)
        elif event == "delta":
            assert state is not None, "a delta before the full state"
            state = apply(state, json.loads(data))
        else:
            continue
        yield state


def requests(count: int, prefix: str = "r") -> list[dict[str, Any]]:
    """``count`` small requests for the emulator."""
    return [
        {
            "custom_id": f"{prefix}{i}",
            "params": {
                "model": "claude-sonnet-4-5",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": f"hello {i}"}],
            },
        }
        for i in range(count)
    ]


def find(state: dict[str, Any], batch_id: str) -> dict[str, Any] | None:
    """The batch ``batch_id`` in a pushed state, if listed."""
    return next((b for b in state["batches"] if b["id"] == batch_id), None)
