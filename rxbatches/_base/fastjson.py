r"""The dict decoder of results lines on msgspec, when the ``fast`` extra is installed.

``pip install 'rxbatches[fast]'`` adds msgspec, whose ``Decoder.decode_lines`` parses a
whole block of lines in one call, without cutting it into a bytes object per line
first: about 2.3 us a line on the benchmark's results where pydantic_core takes 4.1
(``bench/jsonl_micro.py``). :func:`dict_decoder` picks it when msgspec can be imported,
and :class:`~rxbatches._base.jsonl.JsonlDictDecoder` otherwise; both give the same dicts, the
same line numbers and the same errors.

``decode_lines`` reads a stream of JSON values separated by any whitespace, newlines
included: it does not check that each line holds exactly one value. A block takes the
fast path only when it provably does (see :func:`count_object_lines`); any other block
(blank lines, leading whitespace, a malformed line) is decoded again line by line by
the pydantic decoder, which keeps the exact JSONL rules and finds the bad line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .jsonl import JsonlDecoder, JsonlDictDecoder

try:
    import msgspec
except ImportError:  # the optional `fast` extra is not installed
    msgspec = None  # type: ignore[assignment]

__all__ = ["FAST_JSON", "MsgspecDictDecoder", "count_object_lines", "dict_decoder"]

_OPEN = ord("{")
_CLOSE = ord("}")

FAST_JSON = msgspec is not None
"""Whether msgspec is installed, so that :func:`dict_decoder` takes the fast path."""


def dict_decoder() -> JsonlDecoder[dict[str, Any]]:
    """A new decoder of results lines into dicts: msgspec's if installed, else pydantic's."""
    return MsgspecDictDecoder() if FAST_JSON else JsonlDictDecoder()


class MsgspecDictDecoder(JsonlDictDecoder):
    r""":class:`~rxbatches._base.jsonl.JsonlDictDecoder` with blocks of lines parsed by msgspec.

    Same contract (dicts, blank lines, line numbers, errors); only faster on lines
    written the way the API writes them: one object per line, ``{`` first and ``}``
    last.

    Example:
        >>> decoder = MsgspecDictDecoder()
        >>> decoder.feed(b'{"custom_id": "a"}\n{"custom_id": "b"}\n{"cus')
        [{'custom_id': 'a'}, {'custom_id': 'b'}]
        >>> decoder.feed(b'tom_id": "c"}'), decoder.flush()
        ([], [{'custom_id': 'c'}])
    """

    __slots__ = ("_decode_lines",)

    def __init__(self) -> None:
        """Build the msgspec decoder once.

        Raises:
            ModuleNotFoundError: msgspec is not installed (``pip install 'rxbatches[fast]'``).
        """
        if msgspec is None:
            raise ModuleNotFoundError(
                "MsgspecDictDecoder needs msgspec: pip install 'rxbatches[fast]'", name="msgspec"
            )
        super().__init__()
        # dict[str, Any]: msgspec itself rejects a line that is not a JSON object.
        self._decode_lines: Callable[[bytes], list[dict[str, Any]]] = msgspec.json.Decoder(
            dict[str, Any]
        ).decode_lines

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        """Add a chunk and return the dicts of the lines it completes, in order.

        Raises:
            ResultLineError: A line was malformed (see
                :meth:`~rxbatches._base.jsonl.JsonlDecoder.feed`).
        """
        if self._error is not None:
            raise self._error
        block = self.take_block(chunk)
        if not block:
            return []
        try:
            items: list[dict[str, Any]] | None = self._decode_lines(block)
        except (msgspec.DecodeError, ValueError, RecursionError):
            # DecodeError became a ValueError only in msgspec 0.19: name it for 0.18.
            items = None
        if items is None or (lines := count_object_lines(block)) != len(items):
            pieces = block.split(b"\n")
            pieces.pop()  # empty: the block ends with its last line's newline
            self._physical += len(pieces)
            return self._decode(pieces)
        self._physical += lines
        self.lines += lines
        return items


def count_object_lines(block: bytes) -> int:
    r"""How many lines ``block`` holds if each starts with ``{`` and ends with ``}``, else -1.

    This is what makes msgspec's count of decoded objects a count of lines. When the
    block decoded, every newline in it is outside a string (a raw newline inside one is
    invalid JSON). Inside an object or an array, a ``}`` may be followed (after
    whitespace) only by ``,``, ``}`` or ``]``, never by the ``{`` that starts the next
    line; so when every line starts with ``{`` and ends with ``}``, no object spans two
    lines, each line holds one or more whole objects, and as many objects as lines
    means exactly one each. A ``\r`` before the newline fails the test (such a block
    takes the line-by-line path), as does a blank line.

    ``find`` (memchr) in a loop, not ``bytes.count``: three times faster on results lines.
    """
    find = block.find
    start = 0
    lines = 0
    while (end := find(b"\n", start)) >= 0:
        if block[start] != _OPEN or block[end - 1] != _CLOSE:
            return -1
        lines += 1
        start = end + 1
    return lines
