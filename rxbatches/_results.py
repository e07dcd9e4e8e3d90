"""Results downloads: decoded slice by slice, resumed when the connection is lost mid-way.

Part of the operations of :mod:`rxbatches._operations`, kept apart for the resume logic.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from array import array
from bisect import bisect_left
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any, Generic, TypeVar

from ._errors import APIConnectionError, ResultLineError
from ._fastjson import dict_decoder
from ._http import HTTPClient, StreamResponse
from ._jsonl import JsonlDecoder
from ._models import MessageBatchIndividualResponse
from ._operations import batch_path
from ._options import EffectiveOptions
from ._response import RawResponse, scrub

__all__ = [
    "DECODE_SLICE",
    "DictChunk",
    "ResultChunk",
    "check_max_resumes",
    "dict_results",
    "result_items",
    "results",
]

log = logging.getLogger("rxbatches")

T = TypeVar("T")

ResultChunk = list[MessageBatchIndividualResponse]
"""The results decoded from one slice of the results stream."""

DictChunk = list[dict[str, Any]]
"""The results decoded from one slice of the results stream, as plain dicts."""

DECODE_SLICE = 16 * 1024
"""Bytes of the results body decoded at a time. A network read can bring 256 KiB;
decoding it whole keeps hundreds of fresh models alive at once, which outlive the
young garbage-collector generation and trigger full collections (measured: twice
slower with a large program loaded). Slices this size decode into a few dozen results
that are emitted and released before the collector ever runs."""


def check_max_resumes(max_resumes: object) -> int:
    """Check a number of resumes.

    Raises:
        ValueError: Naming ``max_resumes``, unless it is an int >= 0.
    """
    if isinstance(max_resumes, bool) or not isinstance(max_resumes, int) or max_resumes < 0:
        raise ValueError(f"max_resumes: must be an int >= 0, got {max_resumes!r}")
    return max_resumes


@dataclass(frozen=True, slots=True)
class _Lines(Generic[T]):
    """How the lines of a results body are decoded, and where a result's id is."""

    decoder: Callable[[], JsonlDecoder[T]]
    keys: Callable[[list[T]], list[int]]
    """The hash of each result's ``custom_id``."""


def _model_keys(items: list[MessageBatchIndividualResponse]) -> list[int]:
    return list(map(hash, map(_CUSTOM_ID_ATTR, items)))


def _dict_keys(items: list[dict[str, Any]]) -> list[int]:
    try:
        return list(map(hash, map(_CUSTOM_ID_ITEM, items)))  # in C: no Python call per item
    except (KeyError, TypeError):
        return [hash(_dict_custom_id(item)) for item in items]


def _dict_custom_id(item: dict[str, Any]) -> object:
    """The line's ``custom_id`` if hashable (``None`` if missing), else its repr.

    The same key as :func:`_dict_keys`' fast path for every line that has one, so a
    result is recognised whichever path its slice took.
    """
    custom_id = item.get("custom_id")
    try:
        hash(custom_id)
    except TypeError:  # a list or an object where an id should be
        return repr(custom_id)
    return custom_id


_CUSTOM_ID_ATTR = attrgetter("custom_id")
_CUSTOM_ID_ITEM = itemgetter("custom_id")
_MODELS: _Lines[MessageBatchIndividualResponse] = _Lines(
    lambda: JsonlDecoder(MessageBatchIndividualResponse), _model_keys
)
_DICTS: _Lines[dict[str, Any]] = _Lines(dict_decoder, _dict_keys)


def results(
    http: HTTPClient, message_batch_id: str, options: EffectiveOptions, max_resumes: int = 0
) -> AsyncGenerator[RawResponse[ResultChunk], None]:
    """Yield the results decoded from each slice (:data:`DECODE_SLICE`) of the results body.

    GETs ``/v1/messages/batches/{id}/results`` under the configured base URL directly (no
    retrieve first, and never the ``results_url`` host, so the key stays with the API).
    Memory stays constant: only the current network chunk, the results of one slice and
    an incomplete line are held; with ``max_resumes`` > 0, also a 64-bit hash of each
    ``custom_id`` delivered so far (8 bytes a result, packed in arrays: 0.8 MB for
    100,000, where a set of the ids took 10 MB).

    A download whose connection is lost mid-body is resumed up to ``max_resumes``
    times: the results are downloaded again from the start (the API promises no byte
    ranges) and the results whose ``custom_id`` was already delivered are skipped, so
    each result is delivered exactly once whatever the order of the new download. The
    incomplete line at a cut is dropped with the decoder, never decoded nor reported.
    Ids are compared by their hash: two ids of one batch that collide in 64 bits
    (about 3 in 10 billion for 100,000 results, and only when a download is resumed)
    would lose the second of them.

    Raises:
        ResultLineError: A malformed line (after every good line before it).
        APIConnectionError: The connection was lost before the end of the body, and
            ``max_resumes`` resumes did not finish it (or an attempt failed to start).
    """
    return _resumable(http, message_batch_id, options, max_resumes, _MODELS)


def dict_results(
    http: HTTPClient, message_batch_id: str, options: EffectiveOptions, max_resumes: int = 0
) -> AsyncGenerator[RawResponse[DictChunk], None]:
    """:func:`results` with each line parsed into a plain dict (no model validation).

    Same resume and dedupe by ``custom_id``; a line only has to be a JSON object.
    """
    return _resumable(http, message_batch_id, options, max_resumes, _DICTS)


async def _resumable(
    http: HTTPClient,
    message_batch_id: str,
    options: EffectiveOptions,
    max_resumes: int,
    lines: _Lines[T],
) -> AsyncGenerator[RawResponse[list[T]], None]:
    path = batch_path(message_batch_id, "/results")
    seen = _Delivered(lines.keys) if max_resumes else None
    resumes = 0
    while True:
        try:
            # aclosing: a dispose closes this generator, which must abort the download now.
            download = _download(http, path, options, lines, seen, skip=resumes > 0)
            async with contextlib.aclosing(download):
                async for raw in download:
                    yield raw
                    del raw  # hold no delivered chunk while the next one decodes
            return
        except _Cut as cut:
            if seen is not None:
                seen.cut()
            if resumes >= max_resumes:
                error = cut.error
                if resumes:
                    error = type(error)(
                        f"{error.message} (after {resumes} resumed downloads)",
                        method=error.method,
                        url=error.url,
                    )
                raise error from None
            resumes += 1
            log.info(
                "resuming the results of %s (resume %d of %d, %d results delivered): %s",
                message_batch_id,
                resumes,
                max_resumes,
                seen.count if seen is not None else 0,
                cut.error,
            )


class _Delivered(Generic[T]):
    """The ``custom_id`` values delivered so far, as 64-bit hashes packed in arrays.

    8 bytes a result, where a set of the ids themselves takes about 100. While a
    download runs, the hashes of what it delivers are appended to an array: the API
    sends each ``custom_id`` once, so a first download looks nothing up. At a cut,
    everything delivered is merged into one sorted array, which a resumed download
    searches (by bisection) to skip what was delivered, whatever the new order.
    """

    __slots__ = ("_delivered", "_hashes", "_keys")

    def __init__(self, keys: Callable[[list[T]], list[int]]) -> None:
        self._keys = keys
        self._hashes: array[int] = array("q")  # delivered by the current download
        self._delivered: array[int] = array("q")  # by the earlier ones, sorted

    @property
    def count(self) -> int:
        """How many results were delivered."""
        return len(self._delivered) + len(self._hashes)

    def cut(self) -> None:
        """The current download was cut: merge what it delivered into the sorted array."""
        merged = sorted(itertools.chain(self._delivered, self._hashes))
        self._delivered = array("q", merged)
        self._hashes = array("q")

    def record(self, decoded: list[T]) -> None:
        """Remember the ids of results delivered by the first download."""
        self._hashes.extend(self._keys(decoded))

    def fresh(self, decoded: list[T]) -> list[T]:
        """The results not delivered by an earlier download (marking them delivered)."""
        delivered = self._delivered
        end = len(delivered)
        fresh: list[T] = []
        keys: list[int] = []
        for item, key in zip(decoded, self._keys(decoded), strict=True):
            at = bisect_left(delivered, key)
            if at == end or delivered[at] != key:
                fresh.append(item)
                keys.append(key)
        self._hashes.extend(keys)
        return fresh


class _Cut(Exception):
    """The connection of a results download was lost mid-body (carries the error)."""

    def __init__(self, error: APIConnectionError) -> None:
        super().__init__(str(error))
        self.error = error


async def _download(
    http: HTTPClient,
    path: str,
    options: EffectiveOptions,
    lines: _Lines[T],
    seen: _Delivered[T] | None,
    *,
    skip: bool,
) -> AsyncGenerator[RawResponse[list[T]], None]:
    # One download; a fresh decoder each time, so the incomplete line at a cut dies here.
    decoder = lines.decoder()
    async with http.stream("GET", path, options=options) as response:
        try:
            async with contextlib.aclosing(_decode(response, decoder, seen, skip=skip)) as raws:
                async for raw in raws:
                    yield raw
        except ResultLineError as exc:
            raise _in_context(exc, response, http.options.api_key) from None


def _in_context(exc: ResultLineError, response: StreamResponse, secret: str) -> ResultLineError:
    """Name the request of a malformed line, and keep the key out of the quoted line.

    A proxy answering 200 with a page that echoes the request headers would otherwise
    put the key into the error's message and body.
    """
    body = exc.body
    if secret and isinstance(body, bytes):
        body = body.replace(secret.encode(), b"<redacted>")
    return ResultLineError(
        scrub(exc.message, secret),
        line_number=exc.line_number,
        status_code=response.status_code,
        body=body,
        method=response.method,
        url=response.url,
    )


async def _decode(
    response: StreamResponse,
    decoder: JsonlDecoder[T],
    seen: _Delivered[T] | None,
    *,
    skip: bool,
) -> AsyncGenerator[RawResponse[list[T]], None]:
    chunks = response.chunks()
    while True:
        try:
            chunk = await anext(chunks)
        except StopAsyncIteration:
            break
        except APIConnectionError as exc:
            # Not flush(): a line cut by a lost connection is a transport error,
            # not a malformed (or a short but valid-looking) last line.
            raise _Cut(exc) from None
        for start in range(0, len(chunk), DECODE_SLICE):
            decoded = _fresh(decoder.feed(chunk[start : start + DECODE_SLICE]), seen, skip)
            if decoded:
                yield response.raw(decoded)
                # Let go of the delivered results before decoding more: kept alive,
                # they survive garbage collections and make full ones frequent.
                del decoded
    decoded = _fresh(decoder.flush(), seen, skip)
    if decoded:
        yield response.raw(decoded)


def _fresh(decoded: list[T], seen: _Delivered[T] | None, skip: bool) -> list[T]:
    """The results not delivered yet (all of them when resuming is off); marks them seen.

    The first download only records the ids: the API sends each ``custom_id`` once, so
    only a resumed download has anything to skip.
    """
    if seen is None or not decoded:
        return decoded
    if not skip:
        seen.record(decoded)
        return decoded
    return seen.fresh(decoded)


async def result_items(
    chunks: AsyncGenerator[RawResponse[list[T]], None],
) -> AsyncIterator[list[T]]:
    """Yield each chunk's results (for the bridge to emit in a tight loop)."""
    try:
        async for raw in chunks:
            items = raw.parse()
            del raw  # see results(): hold no delivered chunk while the next one decodes
            yield items
            del items
    finally:
        await chunks.aclose()  # aborts the download now, not whenever it is collected
