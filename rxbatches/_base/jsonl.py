r"""The incremental JSONL line splitter and decoder behind results streaming.

Bytes arrive in chunks of any size (aiohttp's ``iter_any()``); these classes turn them
into lines, and lines into validated models, in time linear in the input:

- each chunk is scanned once, by ``bytes.split`` in C;
- the start of a line that is not complete yet is kept as a list of pieces (the chunks
  themselves, not copies) and joined once, when its newline arrives, so a line of
  8 MiB fed in 1 KiB chunks costs one join, never a growing ``bytes +=`` buffer;
- each line is handed as bytes straight to pydantic's JSON validator (no
  ``json.loads`` followed by a second pass over Python objects).

Lines end in ``b"\n"``. The JSON whitespace around a line (``" "``, ``"\t"``,
``"\r"``) is dropped, so a CRLF ending (even one cut between two chunks) loses its
``b"\r"``, and a line left empty is blank and skipped. A lone ``b"\r"`` is not a
line end: JSONL never uses one, and inside a line it is harmless JSON whitespace.
Line numbers count every physical line, blank ones included, so they match what an
editor shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

from pydantic import TypeAdapter, ValidationError
from pydantic_core import from_json

from .errors import ResultLineError

__all__ = [
    "WHITESPACE",
    "JsonlDecoder",
    "JsonlDictDecoder",
    "LineBuffer",
    "LineSplitter",
    "ResultLineError",
]

T = TypeVar("T")

WHITESPACE = b" \t\r"
"""The JSON whitespace stripped from around each line."""
_SNIPPET = 200
_MAX_REPORTED = 3


class LineBuffer:
    """Holds the incomplete last line and counts the physical lines completed so far."""

    __slots__ = ("_pending", "_physical")

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self._physical = 0

    def skip_lines(self, count: int) -> None:
        """Count ``count`` complete lines that were decoded elsewhere (line numbers go on)."""
        self._physical += count

    def _take(self, chunk: bytes) -> list[bytes]:
        """Return the raw lines (blank ones too) that ``chunk`` completes."""
        pieces = chunk.split(b"\n")
        pending = self._pending
        if len(pieces) == 1:
            # No newline: split() handed back the chunk object itself, kept without a copy.
            if chunk:
                pending.append(chunk)
            return []
        tail = pieces.pop()
        if pending:
            pending.append(pieces[0])
            pieces[0] = b"".join(pending)
            pending.clear()
        if tail:
            pending.append(tail)
        self._physical += len(pieces)
        return pieces

    def take_block(self, chunk: bytes) -> bytes:
        """Return the complete lines ``chunk`` ends, as one block ending in a newline.

        The block is ``b""`` when ``chunk`` has no newline. Unlike :meth:`_take`, the
        chunk is not cut into lines (nor are they counted): for decoders that parse a
        whole block at once.
        """
        end = chunk.rfind(b"\n") + 1
        pending = self._pending
        if not end:
            if chunk:
                pending.append(chunk)
            return b""
        if pending:
            pending.append(chunk[:end])
            block = b"".join(pending)
            pending.clear()
        else:
            block = chunk[:end]
        if end < len(chunk):
            pending.append(chunk[end:])
        return block

    def rest(self) -> list[bytes]:
        """Return the unterminated last line, if any, as a one-item list."""
        if not self._pending:
            return []
        line = b"".join(self._pending)
        self._pending.clear()
        self._physical += 1
        return [line]


class LineSplitter(LineBuffer):
    r"""Incremental splitter: bytes chunks in, complete non-blank lines out.

    Linear time in the total input whatever the chunk sizes and line lengths. Lines
    are returned without their ``b"\n"`` / ``b"\r\n"`` ending (nor any other
    surrounding JSON whitespace); blank lines are skipped but still counted in
    :attr:`line_number`.

    Attributes:
        line_number: The 1-based physical line number (blank lines counted) of the last
            line returned; 0 before the first one.

    Example:
        >>> splitter = LineSplitter()
        >>> splitter.feed(b'{"a": 1}\r')
        []
        >>> splitter.feed(b'\n\n{"b": 2}\n{"c"')
        [b'{"a": 1}', b'{"b": 2}']
        >>> splitter.line_number
        3
        >>> splitter.flush()
        [b'{"c"']
    """

    __slots__ = ("line_number",)

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add a chunk and return the non-blank lines it completes, in order."""
        pieces = self._take(chunk)
        if not pieces:
            return pieces
        lines = [line for piece in pieces if (line := piece.strip(WHITESPACE))]
        if lines:
            last = len(pieces) - 1
            while not pieces[last].strip(WHITESPACE):
                last -= 1
            self.line_number = self._physical - len(pieces) + last + 1
        return lines

    def flush(self) -> list[bytes]:
        """End the input: return the last line if it had no newline after it."""
        lines = [line for piece in self.rest() if (line := piece.strip(WHITESPACE))]
        if lines:
            self.line_number = self._physical
        return lines


class JsonlDecoder(LineBuffer, Generic[T]):
    r"""Incremental decoder: bytes chunks in, validated ``model`` instances out.

    Each non-blank line is validated from its bytes by pydantic (the model's own JSON
    validator, built once). ``JsonlDecoder(dict)`` takes a faster path that only parses
    JSON objects into plain dicts; :class:`JsonlDictDecoder` is the same, typed.

    A malformed line (bad JSON, or JSON of the wrong shape) raises
    :class:`~rxbatches.ResultLineError` naming its physical line number. Every line
    before it is delivered first, so what a caller receives before the error does not
    depend on how the stream was cut into chunks: when a chunk holds good lines and
    then a bad one, :meth:`feed` returns the good ones and the error is raised by the
    next call to :meth:`feed` or :meth:`flush`. From then on every call raises it.

    Attributes:
        lines: The number of items decoded so far.

    Example:
        >>> from rxbatches import MessageBatchIndividualResponse
        >>> decoder = JsonlDecoder(MessageBatchIndividualResponse)
        >>> line = b'{"custom_id": "a", "result": {"type": "expired"}}'
        >>> [item.result.type for item in decoder.feed(line + b"\r\n" + line[:9])]
        ['expired']
        >>> decoder.feed(line[9:])
        []
        >>> [item.custom_id for item in decoder.flush()], decoder.lines
        (['a'], 2)
    """

    __slots__ = ("_error", "_validate", "lines")

    def __init__(self, model: type[T]) -> None:
        """Build the validator for ``model`` once.

        Args:
            model: The type of each line: a pydantic model (usually
                :class:`~rxbatches.MessageBatchIndividualResponse`), any type pydantic can
                validate, or ``dict`` for plain dicts.
        """
        super().__init__()
        self._validate: Callable[[bytes], T]
        if model is dict:
            self._validate = cast("Callable[[bytes], T]", _json_object)
        else:
            # The validator itself: TypeAdapter.validate_json adds ~0.3 us of Python per line.
            self._validate = TypeAdapter(model).validator.validate_json
        self._error: ResultLineError | None = None
        self.lines = 0

    def skip_lines(self, count: int) -> None:
        """Count ``count`` non-blank lines that were decoded elsewhere (numbers go on).

        Raises:
            ResultLineError: An earlier line was malformed: the lines after it are not
                to be used either.
        """
        if self._error is not None:
            raise self._error
        super().skip_lines(count)
        self.lines += count

    def feed(self, chunk: bytes) -> list[T]:
        """Add a chunk and return the items of the lines it completes, in order.

        Raises:
            ResultLineError: A line was malformed (this chunk's, if no good line came
                before it in the chunk, else an earlier chunk's).
        """
        if self._error is not None:
            raise self._error
        return self._decode(self._take(chunk))

    def flush(self) -> list[T]:
        """End the input: return the item of the last line if it had no newline after it.

        Raises:
            ResultLineError: A line was malformed.
        """
        if self._error is not None:
            raise self._error
        return self._decode(self.rest())

    def _decode(self, pieces: list[bytes]) -> list[T]:
        if not pieces:
            return []
        validate = self._validate
        try:
            items = [validate(line) for piece in pieces if (line := piece.strip(WHITESPACE))]
        except (ValueError, RecursionError):
            # Rare path: decode again one line at a time to keep the good lines and find
            # the bad one (validation is deterministic, so this repeats no side effect).
            items = self._salvage(pieces)
        self.lines += len(items)
        return items

    def _salvage(self, pieces: list[bytes]) -> list[T]:
        validate = self._validate
        first = self._physical - len(pieces) + 1
        items: list[T] = []
        for offset, piece in enumerate(pieces):
            line = piece.strip(WHITESPACE)
            if not line:
                continue
            try:
                items.append(validate(line))
            except (ValueError, RecursionError) as exc:
                self._error = _line_error(first + offset, line, exc)
                break
        if not items and self._error is not None:
            raise self._error
        return items


class JsonlDictDecoder(JsonlDecoder[dict[str, Any]]):
    r"""The opt-in fast path: each line parsed into a plain ``dict``, without models.

    Same contract as :class:`JsonlDecoder` (blank lines, line numbers, errors), but a
    line is only checked to be a JSON object: about 1.5 times the lines per second of
    validating :class:`~rxbatches.MessageBatchIndividualResponse` models
    (``bench/jsonl_micro.py``). The ``fast`` extra's msgspec decoder
    (:class:`rxbatches._base.fastjson.MsgspecDictDecoder`) is faster again.

    Example:
        >>> JsonlDictDecoder().feed(b'{"custom_id": "a", "result": {"type": "expired"}}\n')
        [{'custom_id': 'a', 'result': {'type': 'expired'}}]
    """

    __slots__ = ()

    def __init__(self) -> None:
        """Build a decoder of plain dicts."""
        super().__init__(dict)


class _NotAnObject(ValueError):
    """A line of valid JSON that is not an object."""


def _json_object(line: bytes) -> dict[str, Any]:
    # Caching only keys: values (texts, ids) rarely repeat, and hashing them costs ~6%.
    value = from_json(line, cache_strings="keys")
    if type(value) is not dict:
        raise _NotAnObject(f"expected a JSON object, got {type(value).__name__}")
    return value


def _line_error(number: int, line: bytes, exc: BaseException) -> ResultLineError:
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False, include_input=False)
        what = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            if error["loc"]
            else error["msg"]
            for error in errors[:_MAX_REPORTED]
        )
        if len(errors) > _MAX_REPORTED:
            what += f" (and {len(errors) - _MAX_REPORTED} more errors)"
    elif isinstance(exc, _NotAnObject):
        what = str(exc)
    elif isinstance(exc, RecursionError):
        what = "JSON nested too deeply"
    else:
        what = f"Invalid JSON: {exc}"
    snippet = repr(line[:_SNIPPET].decode("utf-8", "replace"))
    if len(line) > _SNIPPET:
        snippet += f"... ({len(line)} bytes)"
    return ResultLineError(
        f"results line {number}: {what}; line: {snippet}", line_number=number, body=line
    )
