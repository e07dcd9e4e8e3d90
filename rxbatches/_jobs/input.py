"""Splitting a job's requests into batches: lazily, by count and by serialised size.

A job is any iterable of requests, however long. :class:`Chunker` reads it one request
at a time, checks each with the shared create rules (:mod:`rxbatches._base.validation`) as it
streams past, checks ``custom_id`` uniqueness across the whole job, serialises each
request once, and closes a batch body before it would exceed either limit. Each body is
written, a request at a time, into a spooled temporary file (in memory up to 1 MiB, on
disk beyond) and sent from there in blocks: memory holds at most 1 MiB of a body and
the request read ahead (so the last batch is known as such), never a whole body nor the
job.

Reading the input, checking and spooling are blocking: :meth:`Chunker.next_chunk` is
called in a worker thread (:mod:`rxbatches._base.offload`), never on an event loop.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from .._base.body import FileBody
from .._base.errors import CreateValidationError
from .._base.models import Request
from .._base.validation import validate_requests

__all__ = ["MIN_BODY_BYTES", "Chunk", "Chunker", "read_requests_jsonl"]

_REQUEST: TypeAdapter[Request] = TypeAdapter(Request)
_OPEN = b'{"requests":['
_CLOSE = b"]}"
_ENVELOPE = len(_OPEN) + len(_CLOSE)
MIN_BODY_BYTES = _ENVELOPE + 2
"""The smallest ``max_body_bytes`` of a job: the envelope and a request's ``{}``."""
_END: Any = object()


class Chunk:
    """The create body of one batch of a job, and where its requests sit in the job."""

    __slots__ = ("_body", "first", "index", "last", "size")

    def __init__(self, *, index: int, first: int, size: int, body: FileBody, last: bool) -> None:
        self.index = index
        """The batch's position in the job, from 0."""
        self.first = first
        """The job index of its first request."""
        self.size = size
        """How many requests it holds."""
        self.last = last
        """Whether the input was exhausted with it (no batch follows)."""
        self._body: FileBody | None = body

    def take_body(self) -> FileBody:
        """Hand the body over once: the create that sends it closes its file.

        Raises:
            RuntimeError: If it was taken already.
        """
        body, self._body = self._body, None
        if body is None:
            raise RuntimeError(f"the body of batch {self.index} of the job was already sent")
        return body


def _at(exc: CreateValidationError, index: int) -> CreateValidationError:
    """Move an error about ``requests[0]`` of a one-request check to the request's job index."""
    field = exc.field
    if field.startswith("requests[0]"):
        field = f"requests[{index}]{field[len('requests[0]') :]}"
    return CreateValidationError(field, exc.rule, index=index)


class Chunker:
    """Reads a job's requests lazily and cuts them into batch bodies.

    Thread-safe: each :meth:`next_chunk` runs under a lock, so the job's batches may be
    read from any thread. After an error, or once the input is exhausted or closed, it
    returns ``None``. :meth:`close` never waits: a :meth:`next_chunk` running in another
    thread stops at its next request, drops its chunk and closes the input itself.
    """

    def __init__(
        self,
        requests: Iterable[Request | Mapping[str, Any]],
        *,
        max_requests: int,
        max_body_bytes: int,
    ) -> None:
        self._source = requests
        self._items: Iterator[Request | Mapping[str, Any]] | None = None
        self._max_requests = max_requests
        self._max_body = max_body_bytes
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        self._read = 0  # requests taken from the input so far
        self._ahead: bytes | None = None  # the request read ahead, serialised
        self._error: Exception | None = None  # raised by the read ahead, kept for its chunk
        self._batches = 0
        self._finished = False
        self._complete = False
        self._closed = False  # set by close() from any thread, read between requests
        self.requests_in_chunks = 0
        """How many requests the chunks handed out so far hold."""

    @property
    def complete(self) -> bool:
        """Whether the whole input has been read and its last chunk handed out."""
        return self._complete

    def _read_one(self) -> bytes | None:
        """The next request, checked and serialised; ``None`` at the end of the input."""
        if self._items is None:
            self._items = iter(self._source)
        item = next(self._items, _END)
        if item is _END:
            return None
        index = self._read
        self._read += 1
        try:
            (model,) = validate_requests([item])
        except CreateValidationError as exc:
            raise _at(exc, index) from None
        first = self._seen.setdefault(model.custom_id, index)
        if first != index:
            raise CreateValidationError(
                f"requests[{index}].custom_id",
                f"{model.custom_id!r} is not unique in the job (also used by requests[{first}])",
                index=index,
            )
        encoded = _REQUEST.dump_json(model, exclude_unset=True, by_alias=True)
        if _ENVELOPE + len(encoded) > self._max_body:
            raise CreateValidationError(
                f"requests[{index}]",
                f"is {len(encoded):,} bytes serialised; a batch body holds at most "
                f"{self._max_body:,}",
                index=index,
            )
        return encoded

    def _peek(self) -> None:
        # Read one past a full batch, to know whether it is the last. An error here
        # belongs to the next batch: keep it, so this one still goes out.
        try:
            self._ahead = self._read_one()
        except Exception as exc:
            self._error = exc

    def next_chunk(self) -> Chunk | None:
        """Read the next batch's worth of requests (blocking: call it in a worker thread).

        Returns:
            The next chunk, or ``None`` once the input is exhausted, has failed, or the
            chunker was closed.

        Raises:
            CreateValidationError: A request breaks a rule (naming its job index), or the
                job holds no request at all.
            Exception: Whatever iterating the input raised.
        """
        try:
            with self._lock:
                if self._finished or self._closed:
                    return None
                try:
                    return self._next_chunk()
                except BaseException:
                    self._finished = True
                    raise
        finally:
            if self._closed:
                # close() was called meanwhile, and may have found the lock taken.
                self._close_if_free()

    def _next_chunk(self) -> Chunk | None:
        if self._items is None:
            self._ahead = self._read_one()
        if self._error is not None:
            raise self._error
        if self._ahead is None:
            self._finished = True
            self._complete = self._batches > 0
            if self._batches == 0:
                raise CreateValidationError("requests", "must hold at least 1 request")
            return None
        first = self.requests_in_chunks
        body = FileBody()  # closes its file if an error leaves it unsent
        body.write(_OPEN)
        count = 0
        size = _ENVELOPE - 1  # the separators: one fewer than the requests
        while self._ahead is not None:
            if self._closed:
                body.close()
                return None
            encoded = self._ahead
            if count and size + 1 + len(encoded) > self._max_body:
                break  # it opens the next batch
            body.write(b"," + encoded if count else encoded)
            count += 1
            size += 1 + len(encoded)
            self._ahead = None
            if count == self._max_requests:
                self._peek()
                break
            # An error here is about a request of this batch: the batch is not sent.
            self._ahead = self._read_one()
        body.write(_CLOSE)
        last = self._ahead is None and self._error is None
        self._finished = self._complete = last
        chunk = Chunk(index=self._batches, first=first, size=count, body=body, last=last)
        self._batches += 1
        self.requests_in_chunks += count
        return chunk

    def close(self) -> None:
        """Stop reading and close the input iterator if it can be closed (a generator, a file).

        Never blocks (it may be called on an event loop): if a :meth:`next_chunk` is
        running in another thread, that call stops at its next request and closes the
        input on its way out.
        """
        self._closed = True
        self._close_if_free()

    def _close_if_free(self) -> None:
        # Whoever finds the lock taken leaves the closing to its holder, which checks
        # the flag after releasing it: one of them always closes the input.
        if self._lock.acquire(blocking=False):
            try:
                self._close_input()
            finally:
                self._lock.release()

    def _close_input(self) -> None:
        # Under the lock, so never while another thread is inside the iterator.
        self._finished = True
        self._ahead = None
        close = getattr(self._items, "close", None)
        if callable(close):
            close()


class _JsonlRequests:
    """The requests of a JSONL file, read again (lazily) on each iteration."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"read_requests_jsonl({str(self.path)!r})"

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with self.path.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except ValueError as exc:
                    raise ValueError(
                        f"{self.path}, line {number}: not valid JSON ({exc})"
                    ) from None
                if not isinstance(item, dict):
                    raise ValueError(
                        f"{self.path}, line {number}: a request must be a JSON object,"
                        f" not {type(item).__name__}"
                    )
                yield item


def read_requests_jsonl(path: str | PathLike[str]) -> Iterable[dict[str, Any]]:
    """The requests of a JSONL file (one ``{"custom_id": ..., "params": {...}}`` per line).

    The file is read lazily, a line at a time, each time the result is iterated (so a
    job built on it can be subscribed again); blank lines are skipped. Lines are not
    checked here: :meth:`BatchService.run <rxbatches.BatchService.run>` checks every
    request as it streams past.

    Args:
        path: The file.

    Returns:
        A re-iterable of the requests as dicts. Iterating it raises ``OSError`` if the file
        cannot be opened, and ``ValueError`` naming the file and line number for a line
        that is not a JSON object.

    Example:
        >>> job = client.messages.batches.run(read_requests_jsonl("requests.jsonl"))
    """
    return _JsonlRequests(Path(path))
