"""The batch operations as coroutines and async generators of raw responses.

Each operation is written once, here (results downloads in :mod:`rxbatches._service.results`),
on the HTTP layer; :mod:`rxbatches._service.observables` turns them into Observables (through the
bridge) and :mod:`rxbatches._service.batches` builds the typed methods on top.
Every function validates its input before anything is sent, so a bad id or request
list fails the subscription without a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from .._base.body import FileBody
from .._base.checks import check_int, check_path_id, check_text
from .._base.clock import SYSTEM_CLOCK, Clock
from .._base.errors import APIResponseValidationError, CreateValidationError, NotFoundError
from .._base.models import (
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchPage,
    Request,
)
from .._base.offload import off_loop
from .._base.options import EffectiveOptions
from .._base.validation import spool_create_body
from .._transport.http import HTTPClient
from .._transport.response import RawResponse, model_parser
from .grace import CreatedBatches, GraceWindow, until_found

__all__ = [
    "BATCHES_PATH",
    "batch_path",
    "cancel",
    "create",
    "delete",
    "list_pages",
    "retrieve",
    "watch",
]


T = TypeVar("T")

BATCHES_PATH = "/v1/messages/batches"
MAX_LIST_LIMIT = 1000

_batch = model_parser(MessageBatch)
_deleted = model_parser(DeletedMessageBatch)
_page = model_parser(MessageBatchPage)


def batch_path(message_batch_id: str, suffix: str = "") -> str:
    """The path of a batch (or of ``suffix`` under it), its id checked and encoded."""
    checked = check_path_id("message_batch_id", message_batch_id)
    return f"{BATCHES_PATH}/{quote(checked, safe='')}{suffix}"


async def create(
    http: HTTPClient,
    requests: object,
    options: EffectiveOptions,
    created: CreatedBatches | None = None,
) -> RawResponse[MessageBatch]:
    """POST a create; the requests are checked (and nothing sent) first.

    Checking and encoding run in a worker thread, a slice of requests at a time, and
    the body is spooled to a temporary file and streamed from there: the event loop
    is never held for more than a few milliseconds, even for 100,000 requests.

    The new batch is remembered in ``created`` (for the 404 grace of :mod:`._grace`).

    Raises:
        CreateValidationError: The requests break a rule of the API.
        CreateOutcomeUnknownError: The create failed after its body may have reached
            the server: whether a batch was made is unknown.
    """
    if isinstance(requests, _ReadOnce):
        requests = await off_loop(requests.read)
    if not isinstance(requests, list | tuple):
        raise CreateValidationError(
            "requests", f"must be a list of requests, not {type(requests).__name__}"
        )
    stop = threading.Event()
    try:
        body = await off_loop(spool_create_body, requests, stop)
    except asyncio.CancelledError:
        stop.set()  # the worker stops at its next slice, and drops what it wrote
        raise
    if body is None:  # pragma: no cover - only when stopped, and then we were cancelled
        raise asyncio.CancelledError
    return await create_encoded(http, body, options, len(requests), created)


def _remember(
    raw: RawResponse[MessageBatch], created: CreatedBatches | None, options: EffectiveOptions
) -> RawResponse[MessageBatch]:
    if created is not None:
        # A malformed answer is the subscriber's to see, at its parse().
        with contextlib.suppress(APIResponseValidationError):
            created.add(raw.parse().id, options.not_found_grace)
    return raw


async def create_encoded(
    http: HTTPClient,
    body: bytes | FileBody,
    options: EffectiveOptions,
    request_count: int | None = None,
    created: CreatedBatches | None = None,
) -> RawResponse[MessageBatch]:
    """POST a create body that was already checked and encoded (by a job's splitter).

    A :class:`~rxbatches._base.body.FileBody` is streamed from its file, and closed at the
    end, all in a worker thread.
    """
    try:
        raw = await http.request(
            "POST",
            BATCHES_PATH,
            _batch,
            options=options,
            body=body,
            create=True,
            request_count=request_count,
        )
        return _remember(raw, created, options)
    finally:
        if isinstance(body, FileBody):
            await body.aclose()


async def retrieve(
    http: HTTPClient,
    message_batch_id: str,
    options: EffectiveOptions,
    created: CreatedBatches | None = None,
) -> RawResponse[MessageBatch]:
    """GET one batch (a 404 just after this client created it is asked again)."""
    return await _on_batch(http, "GET", message_batch_id, "", _batch, options, created)


async def cancel(
    http: HTTPClient,
    message_batch_id: str,
    options: EffectiveOptions,
    created: CreatedBatches | None = None,
) -> RawResponse[MessageBatch]:
    """POST a cancel (no body); the batch answers in ``canceling`` state."""
    return await _on_batch(http, "POST", message_batch_id, "/cancel", _batch, options, created)


async def delete(
    http: HTTPClient,
    message_batch_id: str,
    options: EffectiveOptions,
    created: CreatedBatches | None = None,
) -> RawResponse[DeletedMessageBatch]:
    """DELETE an ended batch; once deleted, a 404 about it is reported at once."""
    raw = await _on_batch(http, "DELETE", message_batch_id, "", _deleted, options, created)
    if created is not None:
        created.forget(message_batch_id)
    return raw


async def _on_batch(
    http: HTTPClient,
    method: str,
    message_batch_id: str,
    suffix: str,
    parser: Callable[[RawResponse[T]], T],
    options: EffectiveOptions,
    created: CreatedBatches | None,
) -> RawResponse[T]:
    # A batch just created may answer 404 for a moment: retrieve, cancel and delete ask again.
    path = batch_path(message_batch_id, suffix)
    return await until_found(
        created,
        message_batch_id,
        options.not_found_grace,
        lambda: http.request(method, path, parser, options=options),
    )


async def list_pages(
    http: HTTPClient,
    limit: int,
    before_id: str | None,
    after_id: str | None,
    options: EffectiveOptions,
) -> AsyncGenerator[RawResponse[MessageBatchPage], None]:
    """Yield the pages of a listing, fetching each only when the previous one was consumed.

    Cursor rules: the next page is ``after_id = last_id``; when paging backwards (the
    first call had ``before_id``), ``before_id = first_id``. The listing stops when
    ``has_more`` is false, a page is empty, or the cursor it needs is missing.
    """
    query = {"limit": str(check_int("limit", limit, at_least=1, at_most=MAX_LIST_LIMIT))}
    before = check_text("before_id", before_id, allow_none=True)
    after = check_text("after_id", after_id, allow_none=True)
    backwards = before is not None and after is None
    if before is not None:
        query["before_id"] = before
    if after is not None:
        query["after_id"] = after
    while True:
        raw = await http.request("GET", BATCHES_PATH, _page, options=options, query=query)
        page = raw.parse()
        yield raw
        cursor = page.first_id if backwards else page.last_id
        if not page.has_more or not page.data or cursor is None:
            return
        query = {"limit": query["limit"], ("before_id" if backwards else "after_id"): cursor}


async def items(
    pages: AsyncGenerator[RawResponse[MessageBatchPage], None],
) -> AsyncIterator[list[MessageBatch]]:
    """Yield each page's batches (for the bridge to emit in a tight loop)."""
    try:
        async for raw in pages:
            yield raw.parse().data
    finally:
        await pages.aclose()  # now, not whenever the collector finds it


async def watch(
    http: HTTPClient,
    message_batch_id: str,
    interval: float,
    options: EffectiveOptions,
    not_found_grace: float = 0.0,
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> AsyncIterator[RawResponse[MessageBatch]]:
    """Poll a batch: a snapshot now, then one ``interval`` after each answer, until ended.

    One poll at a time: the next sleep starts only once a snapshot was delivered, so a
    slow answer delays the next poll and never overlaps it. Ends right after yielding
    the first snapshot whose ``processing_status`` is ``ended``.

    Until the first snapshot, a 404 is asked again (0.1 s, then twice as long each
    time, at most 1 s apart) for ``not_found_grace`` seconds from the first 404 (not
    from the call, so a slow first answer does not use up the window): a batch just
    created may not be visible everywhere yet. A 404 after a snapshot, or past the
    window, is reported.

    Every wait, the interval and the grace's, is on ``clock`` (virtual in tests).
    """
    path = batch_path(message_batch_id)
    window = GraceWindow.from_first_404(message_batch_id, not_found_grace, clock)
    found = False
    while True:
        try:
            raw = await http.request("GET", path, _batch, options=options)
        except NotFoundError as exc:
            if found:
                raise
            await window.absorb(exc)
            continue
        found = True
        ended = raw.parse().ended
        yield raw
        if ended:
            return
        await clock.sleep(interval)


def as_sequence(requests: Iterable[Request | Mapping[str, Any]]) -> object:
    """Read an iterator of requests once, so every subscription sends the same ones.

    It is read at the first subscription, in a worker thread (an iterator may read a
    file, or build its requests), not by the call on the caller's thread, which may
    run an event loop. Anything else is kept as given, for :func:`create` to check at
    subscribe.
    """
    if isinstance(requests, list | tuple | str | bytes | Mapping) or not isinstance(
        requests, Iterable
    ):
        return requests
    return _ReadOnce(iter(requests))


class _ReadOnce:
    """An iterator of requests read into a list once, by whichever subscription comes first."""

    __slots__ = ("_error", "_items", "_lock", "_requests")

    def __init__(self, items: Iterator[Request | Mapping[str, Any]]) -> None:
        self._items: Iterator[Request | Mapping[str, Any]] | None = items
        self._lock = threading.Lock()
        self._requests: list[Request | Mapping[str, Any]] = []
        self._error: Exception | None = None

    def read(self) -> list[Request | Mapping[str, Any]]:
        """The requests (blocking: in a worker thread).

        Raises:
            Exception: Whatever iterating raised, to every subscription alike.
        """
        with self._lock:
            items, self._items = self._items, None
            if items is not None:
                try:
                    self._requests = list(items)
                except Exception as exc:
                    self._error = exc
            if self._error is not None:
                raise self._error
            return self._requests
