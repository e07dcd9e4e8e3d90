"""Serving the faults of :mod:`._faults`: dropped connections, cut and trickled bodies.

The application (:mod:`._app`) decides *which* fault a request meets; this module
carries out those that touch the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator

from aiohttp import web

from ._faults import Fault

__all__ = ["BodyWriter", "Cut", "cut_lines", "drop", "send_faulty"]


class Cut(Exception):
    """A truncate fault has used up its budget: close the connection before the end."""


async def drop(request: web.Request) -> web.Response:
    """Drop the connection without an answer (aiohttp then fails the write quietly)."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response()


async def send_faulty(
    request: web.Request, response: web.Response, fault: Fault
) -> web.StreamResponse:
    """Send a whole (JSON) response cut short or trickled, as ``fault`` says.

    A ``truncate_lines`` fault, meant for results, cuts a JSON body in the middle.
    """
    body = response.body if isinstance(response.body, bytes) else b""
    head = web.StreamResponse(status=response.status, headers=response.headers)
    head.content_length = len(body)
    await head.prepare(request)
    writer = BodyWriter(head, fault)
    if fault.kind == "truncate" and fault.after_lines is not None:
        writer.budget = len(body) // 2
    try:
        await writer.write(body)
    except Cut:
        if request.transport is not None:
            request.transport.close()
        return web.Response()
    await head.write_eof()
    return head


class BodyWriter:
    """Writes a body through a truncate budget (bytes) or a slow trickle, or as is."""

    def __init__(self, response: web.StreamResponse, fault: Fault | None) -> None:
        self._response = response
        truncating = fault is not None and fault.kind == "truncate"
        self.budget: int | None = None
        if truncating and fault is not None and fault.after_lines is None:
            self.budget = fault.after_bytes
        slow = fault is not None and fault.kind == "slow"
        self._piece = fault.after_bytes if slow and fault is not None else 0
        self._interval = fault.seconds if slow and fault is not None else 0.0
        # Whether the body must be cut even when all of it fitted in the budget.
        self.cut_at_end = truncating

    async def write(self, data: bytes) -> None:
        """Write ``data``; raise :class:`Cut` once the budget is used up."""
        if self.budget is not None:
            if len(data) >= self.budget:
                if self.budget:
                    await self._response.write(data[: self.budget])
                raise Cut
            self.budget -= len(data)
        if self._piece:
            for start in range(0, len(data), self._piece):
                await self._response.write(data[start : start + self._piece])
                await asyncio.sleep(self._interval)
            return
        await self._response.write(data)
        # write() only yields when the socket pushes back; yield anyway so one big
        # download cannot starve other requests, and a gone client is noticed.
        await asyncio.sleep(0)


def cut_lines(lines: Iterable[bytes], fault: Fault | None) -> Iterable[bytes]:
    """The lines a ``truncate_lines`` fault lets through (all of them for other faults)."""
    if fault is None or fault.kind != "truncate" or fault.after_lines is None:
        return lines
    return _first_lines(lines, fault.after_lines, fault.mid_line)


def _first_lines(lines: Iterable[bytes], count: int, mid_line: bool) -> Iterator[bytes]:
    sent = 0
    for line in lines:
        if not line.strip():
            yield line  # blank lines are not results: they do not count
            continue
        if sent == count:
            if mid_line:
                yield line[: max(1, len(line.rstrip(b"\r\n")) // 2)]
            return
        yield line
        sent += 1
