"""What a job store keeps of each result line: its attempt row, decoded off the loop.

A durable job stores each result line as the results endpoint sent it, with the few
fields the job needs from it: the request's ``custom_id``, the result's type, the
error's type, the model and the four token counts
(:data:`~rxbatches._jobs.store.Attempt`). :class:`AttemptReader` turns the blocks of
one download (:class:`~rxbatches._service.results.ResultBlock`) into those rows, in the
worker thread that writes them.

Only those fields are built; the rest of each line (the message's content) is
skipped. With the ``fast`` extra, msgspec decodes a block into small structs of them,
in about a sixth of the time of whole dicts; a struct only decodes when each field has
the type the API documents. Without it, pydantic parses each line into a dict of them
(less than half the time of a whole dict). A block with any other line (a field of
another shape, a line that is not an object, blank lines) is decoded again by the
dict path, which keeps the exact rules and errors of ``results_streaming_dicts`` and
reads each field as :func:`attempt` does. Every path gives the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from pydantic import TypeAdapter
from typing_extensions import TypedDict

from .._base.fastjson import FAST_JSON, count_object_lines
from .._service.results import ResultBlock
from .store import Attempt, JobStoreError

__all__ = ["AttemptReader", "attempt"]

_NONE = (0, 0, 0, 0)


def attempt(custom_id: str, line: bytes, parsed: dict[str, Any]) -> Attempt:
    """The attempt row of one result line, from its dict (any shape: odd fields count 0).

    Example:
        >>> attempt("a", b"...", {"custom_id": "a", "result": {"type": "expired"}})
        ('a', b'...', 'expired', None, None, 0, 0, 0, 0)
    """
    result = parsed.get("result")
    if not isinstance(result, dict):
        return (custom_id, line, "unknown", None, None, *_NONE)
    kind = str(result.get("type"))
    if kind == "errored":
        error = result.get("error")
        inner = error.get("error") if isinstance(error, dict) else None
        error_type = inner.get("type") if isinstance(inner, dict) else None
        return (
            custom_id,
            line,
            kind,
            str(error_type) if error_type is not None else None,
            None,
            *_NONE,
        )
    message = result.get("message") if kind == "succeeded" else None
    if not isinstance(message, dict):
        return (custom_id, line, kind, None, None, *_NONE)
    usage = message.get("usage")
    usage = usage if isinstance(usage, dict) else {}

    def count(name: str) -> int:
        value = usage.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    model = message.get("model")
    return (
        custom_id,
        line,
        kind,
        None,
        str(model) if model is not None else None,
        count("input_tokens"),
        count("output_tokens"),
        count("cache_creation_input_tokens"),
        count("cache_read_input_tokens"),
    )


class AttemptReader:
    """Decodes the blocks of one batch's results into attempt rows (in a worker thread).

    Args:
        batch_id: The batch, named by the error about a line without a ``custom_id``.
        fast: How a block of well-formed lines is decoded (``None``: it is not); by
            default msgspec's structs with the ``fast`` extra, else pydantic's slim dicts.
    """

    __slots__ = ("_batch_id", "_fast")

    def __init__(
        self, batch_id: str, fast: Callable[[bytes], list[Attempt] | None] | None = None
    ) -> None:
        self._batch_id = batch_id
        self._fast = fast if fast is not None else _fast_rows

    def read(self, block: ResultBlock) -> list[Attempt]:
        """The attempt row of each line of ``block`` (blocks of a download in order).

        Raises:
            ResultLineError: A line is not a JSON object (after the rows of the good
                lines before it, which the next call raises for).
            JobStoreError: A line has no ``custom_id`` (a string).
        """
        rows = self._fast(block.data)
        if rows is not None:
            block.lines.skip(len(rows))
            return rows
        rows = _dict_rows(block.lines.pairs(block.data))
        if rows is None:
            raise JobStoreError(f"a result line of batch {self._batch_id} has no custom_id")
        return rows


def _dict_rows(pairs: Iterable[tuple[bytes, dict[str, Any]]]) -> list[Attempt] | None:
    """The rows of ``(line, dict)`` pairs, or ``None`` if a line has no ``custom_id``."""
    rows: list[Attempt] = []
    for line, item in pairs:
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str):
            return None
        rows.append(attempt(custom_id, line, item))
    return rows


def _struct_rows(data: bytes) -> list[Attempt] | None:
    """The rows of ``data`` by msgspec, or ``None`` if a line needs the dict path."""
    try:
        items = _decode_lines(data)
    except _FAILED:
        return None
    if count_object_lines(data) != len(items):
        return None  # not one object per line (blank lines, or several on one)
    lines = data.split(b"\n")
    rows: list[Attempt] = []
    append = rows.append
    for line, item in zip(lines, items, strict=False):
        result = item.result
        if result is None:
            append((item.custom_id, line, "unknown", None, None, *_NONE))
            continue
        kind = result.type
        if kind == "errored":
            error = result.error
            inner = error.error if error is not None else None
            append((item.custom_id, line, kind, inner.type if inner else None, None, *_NONE))
            continue
        message = result.message if kind == "succeeded" else None
        if message is None:
            append((item.custom_id, line, kind, None, None, *_NONE))
            continue
        usage = message.usage
        append(
            (
                item.custom_id,
                line,
                kind,
                None,
                message.model,
                (usage.input_tokens or 0) if usage else 0,
                (usage.output_tokens or 0) if usage else 0,
                (usage.cache_creation_input_tokens or 0) if usage else 0,
                (usage.cache_read_input_tokens or 0) if usage else 0,
            )
        )
    return rows


class _MessageFields(TypedDict, total=False):
    model: Any
    usage: Any


class _ResultFields(TypedDict, total=False):
    type: Any
    error: Any
    message: _MessageFields


class _LineFields(TypedDict, total=False):
    custom_id: Any
    result: _ResultFields


@cache
def _slim_validator() -> Callable[[bytes], dict[str, Any]]:
    # Built on first use: most installs have msgspec and never need it.
    validate: Callable[[bytes], dict[str, Any]] = TypeAdapter(_LineFields).validator.validate_json
    return validate


def _slim_rows(data: bytes) -> list[Attempt] | None:
    """The rows of ``data`` by pydantic, or ``None`` if a line needs the dict path.

    Each line is parsed into a dict of the fields above alone (the message's content is
    skipped, never built: 2.7 us a line where whole dicts take 6.1), which
    :func:`attempt` reads as it reads any dict.
    """
    lines = data.split(b"\n")
    lines.pop()  # empty: a block ends with its last line's newline
    if count_object_lines(data) != len(lines):
        return None  # blank lines, or whitespace around one
    validate = _slim_validator()
    try:
        items = [validate(line) for line in lines]
    except ValueError:  # pydantic's ValidationError: a field of another shape
        return None
    return _dict_rows(zip(lines, items, strict=True))


_fast_rows: Callable[[bytes], list[Attempt] | None]
if FAST_JSON:
    import msgspec

    # Exactly the documented types: anything else fails the block over to the dict path.
    class _Usage(msgspec.Struct, gc=False):
        input_tokens: int | None = None
        output_tokens: int | None = None
        cache_creation_input_tokens: int | None = None
        cache_read_input_tokens: int | None = None

    class _Message(msgspec.Struct, gc=False):
        model: str | None = None
        usage: _Usage | None = None

    class _Inner(msgspec.Struct, gc=False):
        type: str | None = None

    class _Error(msgspec.Struct, gc=False):
        error: _Inner | None = None

    class _Result(msgspec.Struct, gc=False):
        type: str
        error: _Error | None = None
        message: _Message | None = None

    class _Line(msgspec.Struct, gc=False):
        custom_id: str
        result: _Result | None = None

    _decode_lines: Any = msgspec.json.Decoder(_Line).decode_lines
    _FAILED: tuple[type[Exception], ...] = (msgspec.DecodeError, ValueError, RecursionError)
    _fast_rows = _struct_rows
else:  # without the fast extra
    _fast_rows = _slim_rows
