"""The dashboard's aiohttp application: the page, its live updates and its actions.

Every route needs the access token (``?token=`` on the page, its files, the event
stream and the downloads; the ``X-Dashboard-Token`` header or a ``token`` form field on
a POST), compared in constant time; anything else answers 403. A POST must also come
from the page's own origin (its ``Origin`` header). Every answer carries a strict
Content-Security-Policy: the page runs only the script file served beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from importlib import resources
from os import PathLike
from typing import Any

import reactivex.operators as ops
from aiohttp import web
from reactivex.scheduler.eventloop import AsyncIOScheduler

from rxbatches import APIError, Client, JobStore, JobStoreError, aiterate
from rxbatches._base.checks import check_int, check_seconds
from rxbatches._base.offload import off_loop

from ._hub import Hub, Snapshot, batch_view, delta

__all__ = ["HUB", "TOKEN", "make_app"]

TOKEN = web.AppKey("rxbatches_dashboard_token", str)
"""The key of the access token in the application: ``app[TOKEN]``."""

HUB = web.AppKey("rxbatches_dashboard_hub", Hub)

_CLOSING = web.AppKey("rxbatches_dashboard_closing", asyncio.Event)

PUSH_PERIOD = 0.25
"""Seconds between two pushes of a view, at least: 4 a second at most."""

_HEARTBEAT = 15.0  # an SSE comment, so that a proxy keeps the stream open
# How often an idle stream checks that its page is still there: aiohttp does not cancel a
# handler whose client has gone (unless served with handler_cancellation=True), and the
# hub must learn that the last page has gone to stop polling.
_LIVENESS = 0.5

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}

_STATIC = {
    "app.js": "text/javascript",
    "app.css": "text/css",
}

_BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")

_EXPORT_CHUNK = 1000  # result lines read by one call in a worker thread (a few hundred KB)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(
    client: Client,
    *,
    stores: Sequence[str | PathLike[str]] = (),
    token: str | None = None,
    interval: float = 1.0,
    store_interval: float = 1.0,
    max_batches: int = 1000,
    linger: float = 5.0,
) -> web.Application:
    """The dashboard as an ``aiohttp.web`` application, to serve or mount as a sub-app.

    The page lists the account's batches (newest first: status, request counts as a
    progress bar, created and ended times, expiry countdown, a Cancel button and a
    results download) and each job store's totals, tokens and estimated cost, a chart
    of its results over time, its errors by type and an export download (the lines of
    ``rxbatches job export``, streamed from the store). It is
    kept up to date over Server-Sent Events: one poll of ``client`` per application
    (whatever the number of open pages) feeds every page, each at most 4 times a second
    and holding at most one state for a slow browser. A page is sent the full state
    once (an SSE ``state`` event), then only the batches that changed, the ids removed
    and the stores if they changed (``delta`` events, each from the last one sent: a
    slow page that skipped states still converges). The polls run only while a page
    is open: the first page starts them, and they stop ``linger`` seconds after the
    last one has gone (no API call while nobody looks). The browser never calls the API
    and never sees the API key.

    ::

        batches.list() ──l1──────l2──────l3──   (one listing every ``interval``)
        job stores     ──s1────────s2───────
        a page         ──S1──────d2──d3─────    (on change, at most one per 0.25 s:
                                                 the full state S, then deltas d)

    Args:
        client: The client whose account is shown (the app does not close it).
        stores: Job store files (made by ``batches.run(..., store=...)``) to show.
        token: The access token; default: a new random one (``app[TOKEN]``).
        interval: Seconds between the end of one listing and the start of the next.
        store_interval: Seconds between two reads of the job stores.
        max_batches: How many of the newest batches are listed.
        linger: Seconds the polls go on after the last page has gone (a reload
            within it does not restart them).

    Returns:
        The application. Open ``/?token=...`` under where it is served or mounted.

    Example:
        >>> app = make_app(client, stores=["job.db"])
        >>> web.run_app(app, host="127.0.0.1", port=8790)  # then open /?token=app[TOKEN]
    """
    if token is None:
        token = secrets.token_urlsafe(32)
    if not token or not token.isascii():
        raise ValueError("token: must be a non-empty ASCII str")
    check_seconds("interval", interval)
    check_seconds("store_interval", store_interval)
    check_int("max_batches", max_batches, at_least=1)
    check_seconds("linger", linger, allow_zero=True)
    app = web.Application(middlewares=[_security(token)])
    app[TOKEN] = token
    app[_CLOSING] = asyncio.Event()
    app[HUB] = Hub(
        client,
        stores,
        interval=interval,
        store_interval=store_interval,
        max_batches=max_batches,
        linger=linger,
        secrets=[client.options.api_key],
    )
    app.cleanup_ctx.append(_run_hub)
    app.on_shutdown.append(_close_streams)
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/events", _events)
    app.router.add_get("/batches/{batch_id}/results", _results)
    app.router.add_get("/stores/{index}/export", _export)
    app.router.add_post("/batches/{batch_id}/cancel", _cancel)
    return app


async def _run_hub(app: web.Application) -> AsyncIterator[None]:
    # The hub polls once a page is open (see _events), not from here.
    yield
    await app[HUB].stop()


async def _close_streams(app: web.Application) -> None:
    # Open event streams never end by themselves: end them, or a graceful shutdown
    # would wait for them until its timeout.
    app[_CLOSING].set()


def _security(token: str) -> Any:
    expected = token.encode()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if not await _authorized(request, expected):
                raise web.HTTPForbidden(text="403: forbidden\n")
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers.update(_SECURITY_HEADERS)
            raise
        if not response.prepared:
            response.headers.update(_SECURITY_HEADERS)
        return response

    return middleware


async def _authorized(request: web.Request, expected: bytes) -> bool:
    if request.method == "GET" or request.method == "HEAD":
        given = request.query.get("token", "")
    elif request.method == "POST":
        if not _same_origin(request):
            return False
        given = request.headers.get("X-Dashboard-Token", "")
        if not given and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            form = await request.post()
            value = form.get("token", "")
            given = value if isinstance(value, str) else ""
    else:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected)


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is not None and origin == f"{request.scheme}://{request.host}"


def _page(name: str) -> str:
    return (resources.files(__package__) / "static" / name).read_text(encoding="utf-8")


async def _index(request: web.Request) -> web.Response:
    token = request.app[TOKEN]
    # The token goes into the page's own links (never a script: the CSP allows none inline).
    html = _page("index.html").replace("{{token}}", _html_attr(token))
    return web.Response(text=html, content_type="text/html")


def _html_attr(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _STATIC:
        raise web.HTTPNotFound(text="404: not found\n")
    return web.Response(text=_page(name), content_type=_STATIC[name])


class _Latest:
    """The newest state not sent yet: a slow page skips states, it never queues them.

    What it is sent is the delta from the last state it was sent to this one, which
    covers every state skipped in between.
    """

    def __init__(self) -> None:
        self.value: Snapshot | None = None
        self.ended = False
        self.changed = asyncio.Event()

    def put(self, value: Snapshot) -> None:
        self.value = value
        self.changed.set()

    def end(self, _error: Exception | None = None) -> None:
        self.ended = True
        self.changed.set()


async def _events(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    closing = request.app[_CLOSING]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "X-Accel-Buffering": "no",
            **_SECURITY_HEADERS,
        }
    )
    await response.prepare(request)
    await response.write(b"retry: 2000\n\n")
    hub.attach()
    latest = _Latest()
    # At most one state a PUSH_PERIOD, the newest; and at most one waiting for the page.
    subscription = hub.states.pipe(
        ops.sample(PUSH_PERIOD, scheduler=AsyncIOScheduler(asyncio.get_running_loop()))
    ).subscribe(latest.put, latest.end, latest.end)
    closed = asyncio.create_task(closing.wait())
    loop = asyncio.get_running_loop()
    written = loop.time()
    sent: Snapshot | None = None
    try:
        while not closing.is_set():
            changed = asyncio.create_task(latest.changed.wait())
            done, _ = await asyncio.wait(
                {changed, closed}, timeout=_LIVENESS, return_when=asyncio.FIRST_COMPLETED
            )
            changed.cancel()
            if closed in done or latest.ended:
                break
            if request.transport is None or request.transport.is_closing():
                break  # the page went away
            if latest.value is None:
                if loop.time() - written >= _HEARTBEAT:
                    await response.write(b": heartbeat\n\n")
                    written = loop.time()
                continue
            newest, latest.value = latest.value, None
            latest.changed.clear()
            if sent is None:
                message = b"event: state\ndata: " + newest.full().encode() + b"\n\n"
            else:
                change = delta(sent, newest)
                if change is None:
                    continue  # changed and changed back between two pushes
                message = b"event: delta\ndata: " + change.encode() + b"\n\n"
            await response.write(message)
            sent = newest
            written = loop.time()
    except ConnectionError:
        pass  # the page went away
    finally:
        closed.cancel()
        subscription.dispose()
        hub.detach()
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    return response


def _batch_id(request: web.Request) -> str:
    batch_id = request.match_info["batch_id"]
    if not _BATCH_ID.match(batch_id):
        raise web.HTTPNotFound(text="404: not found\n")
    return batch_id


def _api_failure(request: web.Request, exc: APIError) -> web.Response:
    hub = request.app[HUB]
    status = getattr(exc, "status_code", None)
    code = status if isinstance(status, int) and 400 <= status < 600 else 502
    return web.json_response(
        {"error": hub.redact(f"{type(exc).__name__}: {exc}")},
        status=code,
        headers=_SECURITY_HEADERS,
    )


async def _cancel(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    batch_id = _batch_id(request)
    try:
        batch = await hub.client.messages.batches.cancel(batch_id)
    except APIError as exc:
        return _api_failure(request, exc)
    hub.poke()
    return web.json_response({"batch": batch_view(batch)})


async def _results(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    batch_id = _batch_id(request)
    stream = aiterate(
        hub.client.messages.batches.results_streaming_dicts(batch_id), max_pending=256
    )
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/x-ndjson",
            "Content-Disposition": f'attachment; filename="{batch_id}_results.jsonl"',
            **_SECURITY_HEADERS,
        }
    )
    try:
        # The answer starts with the first result: an error before it is a status.
        try:
            first = await anext(stream, None)
        except APIError as exc:
            return _api_failure(request, exc)
        await response.prepare(request)
        chunk: list[str] = []
        if first is not None:
            chunk.append(_line(first))
            async for item in stream:
                chunk.append(_line(item))
                if len(chunk) >= 256:
                    await response.write("".join(chunk).encode())
                    chunk.clear()
        if chunk:
            await response.write("".join(chunk).encode())
        await response.write_eof()
    finally:
        await stream.aclose()
    return response


async def _export(request: web.Request) -> web.StreamResponse:
    """The export of job store ``index``: one result line per request with a final result.

    The lines of ``rxbatches job export``, read from the store (without its lock) in a
    worker thread, :data:`_EXPORT_CHUNK` at a time: the loop is never blocked, and the
    export is never held whole in memory.
    """
    hub = request.app[HUB]
    paths = hub.store_paths
    index = request.match_info["index"]
    if not (index.isascii() and index.isdigit()) or int(index) >= len(paths):
        return web.json_response(
            {"error": "no such job store"}, status=404, headers=_SECURITY_HEADERS
        )
    path = paths[int(index)]
    try:
        store = await off_loop(JobStore.open, path, lock=False, create=False)
    except JobStoreError as exc:
        return web.json_response(
            {"error": hub.redact(str(exc))}, status=404, headers=_SECURITY_HEADERS
        )
    name = _UNSAFE_IN_NAME.sub("_", path.stem) or "job"
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/x-ndjson",
            "Content-Disposition": f'attachment; filename="{name}_export.jsonl"',
            **_SECURITY_HEADERS,
        }
    )
    lines = store.export_lines()
    try:
        await response.prepare(request)
        while chunk := await off_loop(_take, lines, _EXPORT_CHUNK):
            await response.write(chunk)
        await response.write_eof()
    finally:
        await off_loop(store.close)
    return response


def _take(lines: Iterator[bytes], count: int) -> bytes:
    """The next ``count`` lines (fewer at the end), each ending with a newline."""
    return b"".join(line + b"\n" for line in itertools.islice(lines, count))


def _line(item: dict[str, Any]) -> str:
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False) + "\n"
