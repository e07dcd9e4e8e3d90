"""Results downloads: decoded slice by slice, resumed when the connection is lost mid-way.

Part of the operations of :mod:`rxbatches._service.operations`, kept apart for the resume logic.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sys
from array import array
from bisect import bisect_left
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter, itemgetter, rshift
from typing import Any, Generic, TypeVar

from .._base.errors import APIConnectionError, ResultLineError
from .._base.fastjson import dict_decoder
from .._base.jsonl import WHITESPACE, JsonlDecoder, LineBuffer
from .._base.models import MessageBatchIndividualResponse
from .._base.options import EffectiveOptions
from .._transport.http import HTTPClient, StreamResponse
from .._transport.response import RawResponse, scrub
from .operations import batch_path

__all__ = [
    "DECODE_SLICE",
    "BlockLines",
    "DictChunk",
    "ResultBlock",
    "ResultChunk",
    "dict_results",
    "result_blocks",
    "result_items",
    "results",
]

log = logging.getLogger("rxbatches")

T = TypeVar("T")
X = TypeVar("X")

ResultChunk = list[MessageBatchIndividualResponse]
"""The results decoded from one slice of the results stream."""

DictChunk = list[dict[str, Any]]
"""The results decoded from one slice of the results stream, as plain dicts."""

DECODE_SLICE = 8 * 1024
"""Bytes of the results body decoded at a time. A network read can bring 256 KiB;
decoding it whole keeps hundreds of fresh models alive at once, which outlive the
young garbage-collector generation and trigger full collections (measured: twice
slower with a large program loaded). Slices this size decode into a few results that
are emitted and released before the collector ever runs. Whatever slice is in flight
when a collection runs is promoted: 8 KiB rather than 16 cut the full collections of a
250,000-result ``run()`` (a 50-60 ms pause of the loop each, here) from 10-11 to 1-2,
at the same lines/s."""


@dataclass(frozen=True, slots=True)
class _Lines(Generic[T]):
    """How the lines of a results body are decoded, and where a result's id is."""

    decoder: Callable[[], JsonlDecoder[T]]
    ids: Callable[[list[T]], list[Any]]
    """The ``custom_id`` of each result (``None`` where a dict has none)."""


def _model_ids(items: list[MessageBatchIndividualResponse]) -> list[Any]:
    return list(map(_CUSTOM_ID_ATTR, items))  # in C: no Python call per item


def _dict_ids(items: list[dict[str, Any]]) -> list[Any]:
    try:
        return list(map(_CUSTOM_ID_ITEM, items))
    except KeyError:  # a line without one: the dict path checks nothing
        return [item.get("custom_id") for item in items]


_CUSTOM_ID_ATTR = attrgetter("custom_id")
_CUSTOM_ID_ITEM = itemgetter("custom_id")
_MODELS: _Lines[MessageBatchIndividualResponse] = _Lines(
    lambda: JsonlDecoder(MessageBatchIndividualResponse), _model_ids
)
_DICTS: _Lines[dict[str, Any]] = _Lines(dict_decoder, _dict_ids)


def results(
    http: HTTPClient, message_batch_id: str, options: EffectiveOptions, max_resumes: int = 0
) -> AsyncGenerator[RawResponse[ResultChunk], None]:
    """Yield the results decoded from each slice (:data:`DECODE_SLICE`) of the results body.

    GETs ``/v1/messages/batches/{id}/results`` under the configured base URL directly (no
    retrieve first, and never the ``results_url`` host, so the key stays with the API).
    Memory stays constant: only the current network chunk, the results of one slice and
    an incomplete line are held; with ``max_resumes`` > 0, also each ``custom_id``
    delivered so far, packed (see :class:`_Delivered`): its characters and 8 bytes,
    about 2.8 MB for 100,000 ids of 20 characters (a set of the ids took 10 MB). At a
    cut, merging them takes a list of the ids for a moment (about 13 MB more, 60 ms).

    A download whose connection is lost mid-body is resumed up to ``max_resumes``
    times: the results are downloaded again from the start (the API promises no byte
    ranges) and the results whose ``custom_id`` was already delivered are skipped, so
    each result is delivered exactly once whatever the order of the new download. Ids
    are compared exactly (never by their hash alone); a line without a ``custom_id``
    (possible on the dict path) is recognised by its position in the file. The
    incomplete line at a cut is dropped with the decoder, never decoded nor reported.

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


def result_blocks(
    http: HTTPClient, message_batch_id: str, options: EffectiveOptions, max_resumes: int = 0
) -> AsyncGenerator[ResultBlock, None]:
    """Yield the results body as it arrives, in blocks of whole lines, decoded by the consumer.

    For a consumer that stores the lines as they are and decodes them elsewhere (a
    worker thread): nothing is decoded here. Each network chunk becomes one block (its
    complete lines, the start of an incomplete one kept for the next); a download that
    completes ends with one more block, empty unless the last line had no newline. A
    download cut mid-body is started again from the start, up to ``max_resumes`` times, and its
    blocks say so (:attr:`ResultBlock.download`): their lines may repeat lines already
    delivered, which the consumer must recognise (a job store does, by ``custom_id``).
    The incomplete line at a cut is dropped.

    Raises:
        APIConnectionError: As :func:`results`.
    """

    def download(resumes: int) -> AsyncGenerator[ResultBlock, None]:
        return _block_download(http, path, options, resumes)

    path = batch_path(message_batch_id, "/results")
    return _resuming(message_batch_id, max_resumes, download, None)


@dataclass(frozen=True, slots=True)
class ResultBlock:
    """Whole lines of a results body, as received, and how to decode them."""

    data: bytes
    """Complete lines, each ending in a newline."""
    download: int
    """0 in the first download; n after n resumes (lines may repeat earlier ones)."""
    lines: BlockLines = field(repr=False)
    """The decoder of this download's blocks (call :meth:`BlockLines.pairs` in order)."""


class BlockLines:
    """Decodes the blocks of one download, in order, in any thread: (line, dict) pairs.

    Line numbers run on from block to block, and a malformed line raises the
    :class:`~rxbatches.ResultLineError` that :func:`dict_results` would, naming the
    request and with the API key kept out of the quoted line.

    Args:
        in_context: Gives a line's error its request and redacts the key (as is by
            default).
    """

    __slots__ = ("_decoder", "_in_context")

    def __init__(
        self, in_context: Callable[[ResultLineError], ResultLineError] = lambda exc: exc
    ) -> None:
        self._decoder = dict_decoder()
        # Adds the request to an error and redacts the key (it holds the key: no repr).
        self._in_context = in_context

    def pairs(self, data: bytes) -> list[tuple[bytes, dict[str, Any]]]:
        """Each non-blank line of ``data`` (stripped) with its dict.

        Raises:
            ResultLineError: A line is not a JSON object (after the good lines before
                it, as with :meth:`JsonlDecoder.feed`).
        """
        try:
            items = self._decoder.feed(data)
        except ResultLineError as exc:
            raise self._in_context(exc) from None
        # The decoder skips the same blank lines: the first len(items) lines are theirs.
        lines = [line for piece in data.split(b"\n") if (line := piece.strip(WHITESPACE))]
        return list(zip(lines, items, strict=False))

    def skip(self, lines: int) -> None:
        """Count ``lines`` lines (no blank one) that the caller decoded itself.

        Raises:
            ResultLineError: An earlier block's line was malformed (the good lines
                before it were delivered): these lines come after it.
        """
        try:
            self._decoder.skip_lines(lines)
        except ResultLineError as exc:
            raise self._in_context(exc) from None


async def _block_download(
    http: HTTPClient, path: str, options: EffectiveOptions, download: int
) -> AsyncGenerator[ResultBlock, None]:
    splitter = LineBuffer()  # one per download: the incomplete line at a cut dies here
    async with http.stream("GET", path, options=options) as response:
        lines = BlockLines(partial(_in_context, response=response, secret=http.options.api_key))
        async for chunk in _body(response):
            block = splitter.take_block(chunk)
            del chunk
            if block:
                yield ResultBlock(block, download, lines)
                del block
        # Always a last block (the last line if it had no newline, else empty): a
        # reader that reads every block learns of a bad last line from it.
        yield ResultBlock(b"".join(line + b"\n" for line in splitter.rest()), download, lines)


def _resumable(
    http: HTTPClient,
    message_batch_id: str,
    options: EffectiveOptions,
    max_resumes: int,
    lines: _Lines[T],
) -> AsyncGenerator[RawResponse[list[T]], None]:
    def download(resumes: int) -> AsyncGenerator[RawResponse[list[T]], None]:
        return _download(http, path, options, lines, seen, skip=resumes > 0)

    path = batch_path(message_batch_id, "/results")
    seen = _Delivered(lines.ids) if max_resumes else None
    return _resuming(message_batch_id, max_resumes, download, seen)


async def _resuming(
    message_batch_id: str,
    max_resumes: int,
    download: Callable[[int], AsyncGenerator[X, None]],
    seen: _Delivered[Any] | None,
) -> AsyncGenerator[X, None]:
    """Yield the items of ``download(resumes)``, started again when the connection is cut."""
    resumes = 0
    while True:
        try:
            # aclosing: a dispose closes this generator, which must abort the download now.
            items = download(resumes)
            async with contextlib.aclosing(items):
                async for item in items:
                    yield item
                    del item  # hold no delivered chunk while the next one decodes
            return
        except _Cut as cut:
            if resumes >= max_resumes:
                error = cut.error
                if resumes:
                    error = type(error)(
                        f"{error.message} (after {resumes} resumed downloads)",
                        method=error.method,
                        url=error.url,
                    )
                raise error from None
            if seen is not None:
                seen.cut()
            resumes += 1
            # A block download delivers lines, not results: it has no count to give.
            delivered = f", {seen.count} results delivered" if seen is not None else ""
            log.info(
                "resuming the results of %s (resume %d of %d%s): %s",
                message_batch_id,
                resumes,
                max_resumes,
                delivered,
                cut.error,
            )


class _Delivered(Generic[T]):
    """The results delivered so far, each by an exact key: no two results share one.

    A result's key is its ``custom_id``, which the API makes unique in a batch. A line
    without one (only the dict path lets such a line through) is keyed by its position
    in the download: the results file of an ended batch does not change, so a line is
    at the same position in every download of it. A ``custom_id`` that is not a string
    (the dict path again) is keyed by its ``repr``, apart from the strings, so ``5``
    and ``"5"`` stay two results.

    The ids are kept packed, never as a set of strings (about 100 bytes an id): while
    a download runs, what it delivers is appended as one string per decoded slice and
    an array of lengths (the API sends each ``custom_id`` once, so a first download
    looks nothing up). At a cut, everything delivered is merged into one
    :class:`_IdSet`, which a resumed download searches to skip what was delivered,
    whatever the new order.
    """

    __slots__ = (
        "_earlier",
        "_earlier_lines",
        "_earlier_other",
        "_ids",
        "_lengths",
        "_lines",
        "_other",
        "_position",
        "_segments",
    )

    def __init__(self, ids: Callable[[list[T]], list[Any]]) -> None:
        self._ids = ids
        # Delivered by the earlier downloads (merged at each cut).
        self._earlier = _IdSet([])
        self._earlier_lines: array[int] = array("q")  # positions of lines without an id, sorted
        self._earlier_other: frozenset[str] = frozenset()  # reprs of ids that are not strings
        # Delivered by the current download.
        self._segments: list[str] = []  # the ids of each slice, joined
        self._lengths: array[int] = array("I")  # the length of each id, in order
        self._lines: array[int] = array("q")
        self._other: set[str] = set()
        self._position = 0  # results decoded by the current download so far

    @property
    def count(self) -> int:
        """How many results were delivered."""
        return (
            len(self._earlier)
            + len(self._earlier_lines)
            + len(self._earlier_other)
            + len(self._lengths)
            + len(self._lines)
            + len(self._other)
        )

    def cut(self) -> None:
        """The current download was cut: merge what it delivered into the earlier ones."""
        ids = self._earlier.ids()
        ids.extend(_split("".join(self._segments), self._lengths))
        self._earlier = _IdSet(ids)
        del ids
        self._earlier_lines = array("q", sorted(itertools.chain(self._earlier_lines, self._lines)))
        self._earlier_other = self._earlier_other | self._other
        self._segments = []
        self._lengths = array("I")
        self._lines = array("q")
        self._other = set()
        self._position = 0

    def record(self, decoded: list[T]) -> None:
        """Remember the results delivered by the first download."""
        ids = self._ids(decoded)
        try:
            segment = "".join(ids)  # in C; a TypeError names a missing or odd id
        except TypeError:
            self.fresh(decoded)  # nothing to skip yet: it records every result
            return
        self._segments.append(segment)
        self._lengths.extend(map(len, ids))
        self._position += len(ids)

    def fresh(self, decoded: list[T]) -> list[T]:
        """The results not delivered by an earlier download (marking them delivered)."""
        earlier, earlier_lines, earlier_other = (
            self._earlier,
            self._earlier_lines,
            self._earlier_other,
        )
        position = self._position
        fresh: list[T] = []
        ids: list[str] = []
        for offset, (item, custom_id) in enumerate(zip(decoded, self._ids(decoded), strict=True)):
            if isinstance(custom_id, str):
                if custom_id in earlier:
                    continue
                ids.append(custom_id)
            elif custom_id is None:
                line = position + offset
                if _in_sorted(earlier_lines, line):
                    continue
                self._lines.append(line)
            else:
                key = repr(custom_id)
                if key in earlier_other:
                    continue
                self._other.add(key)
            fresh.append(item)
        self._position += len(decoded)
        if ids:
            self._segments.append("".join(ids))
            self._lengths.extend(map(len, ids))
        return fresh


class _IdSet:
    """A set of strings packed in one string, searched through their sorted hashes.

    Per id: its characters (one byte each for the API's ASCII ids) and 8 bytes (the
    high 32 bits of its hash, and where it ends). The hash only narrows the search: an id is
    found only if its own characters are there, so two ids whose hashes collide are
    never taken for one another.

    Args:
        ids: The strings (the list is reordered).
        hasher: The hash of a string (tests make it collide on purpose).
    """

    __slots__ = ("_blob", "_ends", "_hasher", "_hashes")

    def __init__(self, ids: list[str], hasher: Callable[[str], int] = hash) -> None:
        self._hasher = hasher
        # Sorted by the whole hash, so that its high 32 bits come sorted too; all in C.
        ids.sort(key=hasher)
        self._hashes: array[int] = array("i", map(rshift, map(hasher, ids), _SHIFTS))
        self._blob = "".join(ids)
        self._ends: array[int] = array(
            "I" if len(self._blob) < 2**32 else "q", itertools.accumulate(map(len, ids))
        )

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, value: str) -> bool:
        hashes, ends, blob = self._hashes, self._ends, self._blob
        key = self._hasher(value) >> _SHIFT
        at = bisect_left(hashes, key)
        while at < len(hashes) and hashes[at] == key:
            if blob[ends[at - 1] if at else 0 : ends[at]] == value:
                return True
            at += 1
        return False

    def ids(self) -> list[str]:
        """The strings, as a new list."""
        return _split(self._blob, self._ends, cumulative=True)


_SHIFT = max(sys.hash_info.width - 32, 0)
_SHIFTS = itertools.repeat(_SHIFT)


def _split(blob: str, sizes: array[int], *, cumulative: bool = False) -> list[str]:
    """Cut ``blob`` into the strings of these lengths (or ending at these offsets)."""
    ends = sizes if cumulative else itertools.accumulate(sizes)
    parts: list[str] = []
    start = 0
    for end in ends:
        parts.append(blob[start:end])
        start = end
    return parts


def _in_sorted(values: array[int], value: int) -> bool:
    at = bisect_left(values, value)
    return at < len(values) and values[at] == value


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


async def _body(response: StreamResponse) -> AsyncGenerator[bytes, None]:
    """The body's chunks. A connection lost mid-body raises :class:`_Cut` (to resume).

    Never an end of the body: the line it cut is a transport error, not a malformed
    (or a short but valid-looking) last line.
    """
    chunks = response.chunks()
    while True:
        try:
            chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except APIConnectionError as exc:
            raise _Cut(exc) from None
        yield chunk


async def _decode(
    response: StreamResponse,
    decoder: JsonlDecoder[T],
    seen: _Delivered[T] | None,
    *,
    skip: bool,
) -> AsyncGenerator[RawResponse[list[T]], None]:
    async for chunk in _body(response):
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
