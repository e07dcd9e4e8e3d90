"""The emulator's aiohttp.web application: routes, auth and version checks, error envelopes.

Every response carries a ``request-id`` header and every error the official envelope
``{"type": "error", "error": {"type": ..., "message": ...}, "request_id": ...}``.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from .._base.errors import CreateValidationError
from .._base.validation import MAX_BODY_BYTES, parse_create_body
from ._faults import Fault, Faults
from ._injection import BodyWriter, Cut, cut_lines, drop, send_faulty
from ._store import Batch, Rejection, Store, new_id

__all__ = ["ERROR_TYPES", "EmulatorStats", "Service", "build_app"]

ERROR_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
"""The error ``type`` the API uses for each status."""

logger = logging.getLogger("rxbatches.emulator")

_QUERY = {"list": frozenset({"limit", "before_id", "after_id", "beta"})}
_NO_QUERY = frozenset({"beta"})
# Bodies above this are parsed off the event loop so other requests keep being served.
_OFFLOAD_BYTES = 1 << 20

# Per-request context handed from the middleware to the handlers (the handler runs in
# the middleware's context; plain string keys on the request warn on newer aiohttp).
_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_FAULT: contextvars.ContextVar[Fault | None] = contextvars.ContextVar("fault", default=None)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class EmulatorStats:
    """What the emulator has seen, for tests and benchmarks.

    Attributes:
        requests: Requests received per endpoint (``"create"``, ``"retrieve"``,
            ``"list"``, ``"cancel"``, ``"delete"``, ``"results"``), faulted ones included.
        results_open: Results streams being sent right now.
        results_completed: Results streams sent to the end.
        results_aborted: Results streams the client went away from mid-stream (a
            scripted ``Fault.truncate`` counts neither as completed nor as aborted).
        last_headers: The request headers of the last request to each endpoint
            (case-insensitive mappings; left out of the repr as they hold the API key).
    """

    requests: Counter[str] = field(default_factory=Counter)
    results_open: int = 0
    results_completed: int = 0
    results_aborted: int = 0
    last_headers: dict[str, Mapping[str, str]] = field(default_factory=dict, repr=False)

    def reset(self) -> None:
        """Zero every counter."""
        self.requests.clear()
        self.results_open = self.results_completed = self.results_aborted = 0
        self.last_headers.clear()


@dataclass
class Service:
    """Everything the routes share: the store, the faults, the stats and the settings."""

    store: Store
    faults: Faults
    stats: EmulatorStats
    api_keys: Collection[str] | None
    results_chunk_size: int
    on_change: Callable[[], None]
    base_url: str = ""
    gzip_results: bool = False


def _error(
    status: int,
    error_type: str | None,
    message: str,
    request_id: str,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    kind = (
        error_type
        or ERROR_TYPES.get(status)
        or ("api_error" if status >= 500 else "invalid_request_error")
    )
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}
    return web.json_response(body, status=status, headers=headers)


def _json(payload: Any) -> web.Response:
    return web.Response(
        body=json.dumps(payload, separators=(",", ":")).encode(), content_type="application/json"
    )


def _check_query(request: web.Request, endpoint: str) -> None:
    allowed = _QUERY.get(endpoint, _NO_QUERY)
    for key in request.query:
        if key not in allowed:
            raise Rejection(400, "invalid_request_error", f"{key}: unknown query parameter")
        if len(request.query.getall(key)) > 1:
            raise Rejection(400, "invalid_request_error", f"{key}: given more than once")


def _check_auth(service: Service, request: web.Request) -> None:
    key = request.headers.get("x-api-key", "")
    if not key:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else ""
    if not key:
        raise Rejection(
            401,
            "authentication_error",
            "x-api-key header is required (or Authorization: Bearer <key>)",
        )
    if service.api_keys is not None and key not in service.api_keys:
        raise Rejection(401, "authentication_error", "invalid x-api-key")


_BY_ID = frozenset({"retrieve", "cancel", "delete", "results"})


def _check_propagated(service: Service, request: web.Request, endpoint: str) -> None:
    """A batch made by a create is not found until ``propagation_delay`` has passed."""
    delay = service.faults.propagation_delay
    if delay <= 0 or endpoint not in _BY_ID:
        return
    batch_id = request.match_info["batch_id"]
    try:
        batch = service.store.get(batch_id)
    except Rejection:
        return  # unknown: the handler answers 404 itself
    # Batches seeded with add_ended_batch (lines set) never went through a create.
    if batch.lines is None and service.store.clock.time() - batch.created < delay:
        raise Rejection(404, "not_found_error", f"No batch with id {batch_id!r} was found.")


def build_app(service: Service) -> web.Application:
    """Build the aiohttp.web application serving the six batch endpoints."""

    @web.middleware
    async def envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = new_id("req_emu")
        _REQUEST_ID.set(request_id)
        _FAULT.set(None)
        try:
            response = await dispatch(request, handler, request_id)
        except Rejection as exc:
            response = _error(exc.status, exc.error_type, exc.message, request_id)
        except web.HTTPRequestEntityTooLarge:
            # A body without content-length that outgrew the limit while being read.
            message = f"body: is larger than {MAX_BODY_BYTES:,} bytes, the most allowed"
            response = _error(413, "request_too_large", message, request_id)
        except web.HTTPException as exc:
            response = _error(exc.status, None, exc.reason, request_id)
        except CreateValidationError as exc:
            response = _error(400, "invalid_request_error", str(exc), request_id)
        except Exception as exc:  # a bug or a raising responder: still answer in the envelope
            logger.exception("emulator failed to handle %s %s", request.method, request.path)
            response = _error(500, "api_error", f"Emulator error: {type(exc).__name__}", request_id)
        if not response.prepared:
            response.headers["request-id"] = request_id
        return response

    async def dispatch(
        request: web.Request, handler: Handler, request_id: str
    ) -> web.StreamResponse:
        endpoint = request.match_info.route.name
        if endpoint is None:
            # No route matched: aiohttp's handler raises 404 or 405.
            return await handler(request)
        service.stats.requests[endpoint] += 1
        service.stats.last_headers[endpoint] = CIMultiDict(request.headers)
        service.on_change()  # a request arriving is a state change wait_for() can watch
        fault = service.faults.next(endpoint)
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind == "reset":
            return await drop(request)
        if fault is not None and fault.kind == "status":
            # Read the body first, as a server does before answering: on a kept-alive
            # connection the rest of an unread body would be parsed as the next request
            # (aiohttp 3.10's server does just that).
            await request.release()
            return _fault_response(fault, request_id)
        _FAULT.set(fault)
        _check_auth(service, request)
        if not request.headers.get("anthropic-version"):
            raise Rejection(400, "invalid_request_error", "anthropic-version: header is required")
        _check_query(request, endpoint)
        _check_propagated(service, request, endpoint)
        response = await handler(request)
        faulty = fault is not None and fault.kind in ("truncate", "slow")
        if faulty and fault is not None and isinstance(response, web.Response):
            response.headers["request-id"] = request_id
            return await send_faulty(request, response, fault)
        return response

    async def create(request: web.Request) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            raise Rejection(
                413,
                "request_too_large",
                f"body: is {length:,} bytes; at most {MAX_BODY_BYTES:,} are allowed",
            )
        body = await request.read()
        if len(body) > _OFFLOAD_BYTES:
            requests = await asyncio.get_running_loop().run_in_executor(
                None, parse_create_body, body
            )
        else:
            requests = parse_create_body(body)
        batch = service.store.create(requests)
        service.on_change()
        # The answer shows the batch as created (every request processing), as the API
        # does, however long this handler took on a loaded machine.
        return _json(batch.to_wire(batch.created, service.base_url))

    async def retrieve(request: web.Request) -> web.StreamResponse:
        batch = service.store.get(request.match_info["batch_id"])
        return _json(batch.to_wire(service.store.clock.time(), service.base_url))

    async def list_(request: web.Request) -> web.StreamResponse:
        raw = request.query.get("limit", "20")
        try:
            limit = int(raw)
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            raise Rejection(
                400,
                "invalid_request_error",
                f"limit: must be an integer from 1 to 1000, got {raw!r}",
            )
        before_id = request.query.get("before_id")
        after_id = request.query.get("after_id")
        if before_id is not None and after_id is not None:
            raise Rejection(
                400, "invalid_request_error", "before_id: cannot be combined with after_id"
            )
        batches, has_more = service.store.page(limit, before_id, after_id)
        now = service.store.clock.time()
        return _json(
            {
                "data": [b.to_wire(now, service.base_url) for b in batches],
                "has_more": has_more,
                "first_id": batches[0].id if batches else None,
                "last_id": batches[-1].id if batches else None,
            }
        )

    async def cancel(request: web.Request) -> web.StreamResponse:
        store = service.store
        batch = store.cancel(request.match_info["batch_id"])
        service.on_change()
        return _json(batch.to_wire(store.clock.time(), service.base_url))

    async def delete(request: web.Request) -> web.StreamResponse:
        batch_id = request.match_info["batch_id"]
        service.store.delete(batch_id)
        service.on_change()
        return _json({"id": batch_id, "type": "message_batch_deleted"})

    async def results(request: web.Request) -> web.StreamResponse:
        store = service.store
        batch = store.get(request.match_info["batch_id"])
        now = store.clock.time()
        if not batch.ended(now):
            raise Rejection(
                400,
                "invalid_request_error",
                f"Results of batch {batch.id} are not available until processing has ended "
                f"(processing_status is {batch.status(now)}).",
            )
        if batch.archived(now):
            raise Rejection(
                404, "not_found_error", f"Results of batch {batch.id} have been archived."
            )
        return await _stream_results(service, request, batch)

    app = web.Application(middlewares=[envelope], client_max_size=MAX_BODY_BYTES + 1024)
    prefix = "/v1/messages/batches"
    app.router.add_post(prefix, create, name="create")
    app.router.add_get(prefix, list_, name="list", allow_head=False)
    app.router.add_get(prefix + "/{batch_id}", retrieve, name="retrieve", allow_head=False)
    app.router.add_delete(prefix + "/{batch_id}", delete, name="delete")
    app.router.add_post(prefix + "/{batch_id}/cancel", cancel, name="cancel")
    app.router.add_get(prefix + "/{batch_id}/results", results, name="results", allow_head=False)
    return app


def _fault_response(fault: Fault, request_id: str) -> web.Response:
    headers = dict(fault.headers)
    if fault.body is None:
        return _error(
            fault.status_code,
            fault.error_type,
            f"Injected fault: status {fault.status_code}.",
            request_id,
            headers,
        )
    headers.setdefault("content-type", "application/json")
    return web.Response(status=fault.status_code, body=fault.body, headers=headers)


async def _stream_results(
    service: Service, request: web.Request, batch: Batch
) -> web.StreamResponse:
    """Send the results as JSONL in chunks, generated lazily (constant memory)."""
    fault = _FAULT.get()
    response = web.StreamResponse(
        headers={"content-type": "application/x-jsonl", "request-id": _REQUEST_ID.get()}
    )
    if service.gzip_results and "gzip" in request.headers.get("Accept-Encoding", ""):
        response.enable_compression(web.ContentCoding.gzip)
    stats = service.stats
    chunk_size = service.results_chunk_size
    stats.results_open += 1
    service.on_change()
    try:
        await response.prepare(request)
        writer = BodyWriter(response, fault)
        pending: list[bytes] = []
        size = 0
        for line in cut_lines(service.store.results(batch), fault):
            pending.append(line)
            size += len(line)
            if size >= chunk_size:
                await writer.write(b"".join(pending))
                pending.clear()
                size = 0
        if pending:
            await writer.write(b"".join(pending))
        if writer.cut_at_end:
            # The whole body fitted in the budget: still cut before the chunked end.
            raise Cut
        await response.write_eof()
    except Cut:
        if request.transport is not None:
            request.transport.close()
    except ConnectionError:
        # The client went away; aiohttp's own final write then fails quietly.
        stats.results_aborted += 1
    except asyncio.CancelledError:
        stats.results_aborted += 1
        raise
    else:
        stats.results_completed += 1
    finally:
        stats.results_open -= 1
        service.on_change()
    return response
