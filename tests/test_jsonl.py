"""The incremental JSONL splitter and decoder (rxbatches/_jsonl.py), without any network."""

from __future__ import annotations

import doctest
import itertools
import json
import tracemalloc
from collections.abc import Iterable, Sequence
from typing import Any, SupportsIndex, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rxbatches
import rxbatches._base.jsonl
from rxbatches import (
    APIResponseValidationError,
    MessageBatchIndividualResponse,
    MessageBatchSucceededResult,
    ResultLineError,
)
from rxbatches._base.jsonl import JsonlDecoder, JsonlDictDecoder, LineSplitter
from tests.strategies import individual_responses

T = TypeVar("T")
WS = b" \t\r"
MIB = 2**20

# Each example of these decodes a file under many chunkings: a quarter of the profile's
# examples (at least 10) keeps each test well under 5 s on a loaded 2-core machine (half
# took 3.9 s in a full tox run; the "thorough" profile still runs 250).
HEAVY = settings(max_examples=max(10, settings().max_examples // 4))


def split_all(chunks: Iterable[bytes]) -> list[bytes]:
    splitter = LineSplitter()
    lines: list[bytes] = []
    for chunk in chunks:
        lines += splitter.feed(chunk)
    return lines + splitter.flush()


def decode_all(
    decoder: JsonlDecoder[T], chunks: Iterable[bytes]
) -> tuple[list[T], ResultLineError | None]:
    """Feed every chunk then flush; return the items and the error that ended it, if any."""
    items: list[T] = []
    try:
        for chunk in chunks:
            items += decoder.feed(chunk)
        items += decoder.flush()
    except ResultLineError as exc:
        return items, exc
    return items, None


def cut(data: bytes, positions: Iterable[int]) -> list[bytes]:
    bounds = sorted({0, len(data), *positions})
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def line(custom_id: str, result: str = '{"type": "expired"}') -> bytes:
    return f'{{"custom_id": "{custom_id}", "result": {result}}}'.encode()


# --------------------------------------------------------------------------- splitter


def test_crlf_cut_between_two_chunks_ends_the_line_once() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b'{"a": 1}\r') == []
    assert splitter.feed(b'\n{"b": 2}\r') == [b'{"a": 1}']
    assert splitter.line_number == 1
    assert splitter.feed(b"\n") == [b'{"b": 2}']
    assert splitter.line_number == 2
    assert splitter.flush() == []


def test_blank_lines_are_skipped_but_counted_in_line_number() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"\n\r\n  \t\r\nfirst\n\n") == [b"first"]
    assert splitter.line_number == 4
    assert splitter.feed(b"\r\n\nsecond\r\nthird") == [b"second"]
    assert splitter.line_number == 8
    assert splitter.flush() == [b"third"]
    assert splitter.line_number == 9


def test_cr_only_line_is_blank() -> None:
    assert split_all([b"\r\n\r\r\n\r\nx\r\n\r"]) == [b"x"]
    splitter = LineSplitter()
    assert splitter.feed(b"\r") == []
    assert splitter.feed(b"\n\r") == []
    assert splitter.flush() == []
    assert splitter.line_number == 0


def test_last_line_without_newline_comes_out_of_flush() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"one\ntw") == [b"one"]
    assert splitter.feed(b"o") == []
    assert splitter.flush() == [b"two"]
    assert splitter.line_number == 2
    assert splitter.flush() == []


def test_lone_cr_inside_a_line_does_not_end_it() -> None:
    assert split_all([b'{"a":\r1}\n', b"x\ry\n"]) == [b'{"a":\r1}', b"x\ry"]


def test_empty_chunks_change_nothing() -> None:
    assert split_all([b"", b"a", b"", b"\n", b"", b"b", b""]) == [b"a", b"b"]


@pytest.mark.parametrize("chunk_size", [1024, 4096, 65536])
def test_8_mib_line_comes_out_whole_whatever_the_chunk_size(chunk_size: int) -> None:
    long_line = bytes(range(11, 256)) * (8 * MIB // 245 + 1)
    data = b"short\r\n" + long_line + b"\r\nlast\r\n"
    numbers = {b"short": 1, long_line: 2, b"last": 3}
    splitter = LineSplitter()
    lines: list[bytes] = []
    for chunk in cut(data, range(0, len(data), chunk_size)):
        out = splitter.feed(chunk)
        if out:
            assert splitter.line_number == numbers[out[-1]]
        lines += out
    assert lines + splitter.flush() == [b"short", long_line, b"last"]
    assert splitter.line_number == 3
    assert len(long_line) > 8 * MIB


def test_long_line_is_held_without_copies_until_its_newline() -> None:
    # A growing buffer (bytes += or bytearray) would allocate at least the line's size
    # before its newline; holding the chunks themselves allocates next to nothing.
    chunks = [bytes([65 + i % 26]) * 1024 for i in range(8 * 1024)]
    splitter = LineSplitter()
    already_tracing = tracemalloc.is_tracing()
    if not already_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start, _ = tracemalloc.get_traced_memory()
        for chunk in chunks:
            assert splitter.feed(chunk) == []
        _, peak_before_newline = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        (joined,) = splitter.feed(b"\n")
        _, peak_at_newline = tracemalloc.get_traced_memory()
    finally:
        if not already_tracing:
            tracemalloc.stop()
    assert joined == b"".join(chunks)
    assert peak_before_newline - start < MIB
    assert peak_at_newline - start < len(joined) + MIB


class CountingBytes(bytes):
    """A chunk that records how many of its bytes the splitter searches."""

    searched: list[int]

    def split(self, sep: Any = None, maxsplit: SupportsIndex = -1) -> list[bytes]:
        self.searched.append(len(self))
        return super().split(sep, maxsplit)

    def find(self, *args: Any) -> int:
        self.searched.append(len(self))
        return super().find(*args)

    def index(self, *args: Any) -> int:
        self.searched.append(len(self))
        return super().index(*args)

    def __contains__(self, key: Any) -> bool:
        self.searched.append(len(self))
        return super().__contains__(key)


def test_every_byte_is_searched_once_however_long_the_line() -> None:
    searched: list[int] = []
    data = b"a\n" + b"x" * (2 * MIB) + b"\r\n" + b"tail"
    chunks = []
    for piece in cut(data, range(0, len(data), 1000)):
        chunk = CountingBytes(piece)
        chunk.searched = searched
        chunks.append(chunk)
    assert split_all(chunks) == [b"a", b"x" * (2 * MIB), b"tail"]
    assert sum(searched) == len(data)


# --------------------------------------------------------------------------- decoder


def test_decoder_validates_each_line_into_the_model() -> None:
    succeeded = (
        '{"type": "succeeded", "message": {"id": "msg_1", "type": "message", "role": '
        '"assistant", "model": "m", "content": [{"type": "text", "text": "hi"}], '
        '"stop_reason": "end_turn", "stop_sequence": null, '
        '"usage": {"input_tokens": 1, "output_tokens": 2}}}'
    )
    data = line("a", succeeded) + b"\r\n\r\n" + line("b") + b"\n"
    decoder = JsonlDecoder(MessageBatchIndividualResponse)
    items, error = decode_all(decoder, cut(data, [5, 50, len(data) - 2]))
    assert error is None
    assert [item.custom_id for item in items] == ["a", "b"]
    assert isinstance(items[0].result, MessageBatchSucceededResult)
    assert items[0].result.message.text == "hi"
    assert items[1].result.type == "expired"
    assert decoder.lines == 2


def test_8_mib_result_line_decodes() -> None:
    text = "y" * (8 * MIB)
    result = json.dumps(
        {
            "type": "succeeded",
            "message": {
                "id": "msg_1",
                "model": "m",
                "content": [{"type": "text", "text": text}],
                "usage": {"input_tokens": 1, "output_tokens": 2},
            },
        }
    )
    data = line("big", result) + b"\n" + line("next")
    items, error = decode_all(
        JsonlDecoder(MessageBatchIndividualResponse), cut(data, range(0, len(data), 65536))
    )
    assert error is None
    assert [item.custom_id for item in items] == ["big", "next"]
    assert isinstance(items[0].result, MessageBatchSucceededResult)
    assert items[0].result.message.text == text


def test_malformed_line_raises_result_line_error_naming_its_physical_line() -> None:
    data = line("a") + b"\n\r\n\n" + b'{"custom_id": "b", "result": {"type": \n' + line("c") + b"\n"
    items, error = decode_all(JsonlDecoder(MessageBatchIndividualResponse), [data])
    assert [item.custom_id for item in items] == ["a"]
    assert isinstance(error, ResultLineError)
    assert isinstance(error, APIResponseValidationError)
    assert error.line_number == 4
    assert str(error).startswith("results line 4: Invalid JSON: ")
    assert error.body == b'{"custom_id": "b", "result": {"type":'


def test_line_of_the_wrong_shape_names_the_field() -> None:
    decoder = JsonlDecoder(MessageBatchIndividualResponse)
    with pytest.raises(
        ResultLineError, match=r"^results line 1: custom_id: Field required"
    ) as info:
        decoder.feed(b'{"result": {"type": "expired"}}\n')
    assert info.value.line_number == 1


def test_invalid_utf8_is_a_malformed_line() -> None:
    bad = line("\xff").replace(b"\xc3\xbf", b"\xff")
    items, error = decode_all(
        JsonlDecoder(MessageBatchIndividualResponse), [line("a") + b"\n" + bad + b"\n"]
    )
    assert [item.custom_id for item in items] == ["a"]
    assert isinstance(error, ResultLineError)
    assert error.line_number == 2
    assert str(error).startswith("results line 2: Invalid JSON: invalid unicode")


def test_lines_before_a_malformed_one_come_first_then_every_call_raises() -> None:
    decoder = JsonlDecoder(MessageBatchIndividualResponse)
    good = decoder.feed(line("a") + b"\n" + line("b") + b"\nnot json\n" + line("c") + b"\n")
    assert [item.custom_id for item in good] == ["a", "b"]
    assert decoder.lines == 2
    with pytest.raises(ResultLineError) as first:
        decoder.feed(line("d") + b"\n")
    assert first.value.line_number == 3
    with pytest.raises(ResultLineError) as again:
        decoder.flush()
    assert again.value is first.value
    assert decoder.lines == 2


def test_malformed_first_line_of_a_chunk_raises_from_that_feed() -> None:
    decoder = JsonlDecoder(MessageBatchIndividualResponse)
    assert len(decoder.feed(line("a") + b"\n")) == 1
    with pytest.raises(ResultLineError) as info:
        decoder.feed(b"\r\n{}\n" + line("b") + b"\n")
    assert info.value.line_number == 3


def test_malformed_unterminated_last_line_raises_from_flush() -> None:
    decoder = JsonlDecoder(MessageBatchIndividualResponse)
    assert decoder.feed(line("a") + b"\n" + line("b")[:-1]) != []
    with pytest.raises(ResultLineError, match=r"^results line 2: Invalid JSON: EOF"):
        decoder.flush()


def test_error_message_quotes_at_most_200_characters_of_the_line() -> None:
    bad = b'{"custom_id": "' + b"z" * 10_000
    decoder = JsonlDecoder(MessageBatchIndividualResponse)
    with pytest.raises(ResultLineError) as info:
        decoder.feed(bad + b"\n")
    message = str(info.value)
    assert "z" * 180 in message
    assert "z" * 201 not in message
    assert f"({len(bad)} bytes)" in message
    assert len(message) < 400


def test_dict_decoder_yields_plain_dicts() -> None:
    data = line("a") + b"\r\n\n" + line("b", '{"type": "errored", "extra": [1, 2.5, null]}')
    decoder = JsonlDictDecoder()
    items, error = decode_all(decoder, cut(data, [3, 60]))
    assert error is None
    assert items == [
        {"custom_id": "a", "result": {"type": "expired"}},
        {"custom_id": "b", "result": {"type": "errored", "extra": [1, 2.5, None]}},
    ]
    assert decoder.lines == 2


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'"text"', "expected a JSON object, got str"),
        (b"{'single': 1}", "Invalid JSON"),
        (b"[" * 100_000, "Invalid JSON"),
    ],
)
def test_dict_decoder_rejects_lines_that_are_not_json_objects(bad: bytes, reason: str) -> None:
    for decoder in (JsonlDictDecoder(), JsonlDecoder(dict)):
        items, error = decode_all(decoder, [b"{}\n\n", bad, b"\n{}\n"])
        assert items == [{}]
        assert isinstance(error, ResultLineError)
        assert error.line_number == 3
        assert str(error).startswith(f"results line 3: {reason}")


def test_result_line_error_is_public_and_an_api_response_validation_error() -> None:
    assert "ResultLineError" in rxbatches.__all__
    assert rxbatches.ResultLineError is ResultLineError
    assert issubclass(ResultLineError, APIResponseValidationError)
    assert ResultLineError("results line 3: x", line_number=3).line_number == 3


def test_docstring_examples_run() -> None:
    failed, attempted = doctest.testmod(rxbatches._base.jsonl)
    assert attempted >= 10
    assert failed == 0


# --------------------------------------------------------------------------- properties

_CONTENT = st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b""))
_LONG = st.tuples(st.binary(min_size=1, max_size=16), st.integers(1_000, 200_000)).map(
    lambda t: (t[0].replace(b"\n", b"a").replace(b"\r", b"b") * (t[1] // len(t[0]) + 1))[: t[1]]
)
_BLANK = st.sampled_from([b"", b" ", b"\t", b" \t  "])
_ENDINGS = st.sampled_from([b"\n", b"\r\n"])


@st.composite
def chunkings(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """Any way of cutting ``data`` into chunks, CRLFs cut in two included."""
    if len(data) <= 300 and draw(st.booleans()):
        return [data[i : i + 1] for i in range(len(data))]
    positions = draw(st.lists(st.integers(0, len(data)), max_size=30))
    crlfs: list[int] = []
    at = data.find(b"\r\n")
    while at != -1 and len(crlfs) < 50:
        crlfs.append(at + 1)
        at = data.find(b"\r\n", at + 2)
    if crlfs:
        positions += draw(st.lists(st.sampled_from(crlfs), max_size=10))
    return cut(data, positions)


@st.composite
def streams(draw: st.DrawFn, lines: Sequence[bytes]) -> bytes:
    """``lines`` with blank lines between them, each ending in LF or CRLF, the last maybe none."""
    parts: list[bytes] = []
    for text in lines:
        parts += [blank + draw(_ENDINGS) for blank in draw(st.lists(_BLANK, max_size=2))]
        parts += [text, draw(_ENDINGS)]
    unterminated = draw(st.booleans())
    if parts and unterminated:
        parts.pop()
    return b"".join(parts)


@given(st.data())
def test_splitter_yields_splitlines_minus_blanks_for_any_chunking(data: st.DataObject) -> None:
    lines = data.draw(st.lists(_CONTENT | _LONG | _BLANK, max_size=12))
    stream = data.draw(streams(lines))
    reference = [
        (number, text.strip(WS))
        for number, text in enumerate(stream.splitlines(), 1)
        if text.strip(WS)
    ]
    splitter = LineSplitter()
    got: list[tuple[int, bytes]] = []
    for chunk in data.draw(chunkings(stream)):
        out = splitter.feed(chunk)
        got += [(0, text) for text in out]
        if out:
            got[-1] = (splitter.line_number, got[-1][1])
    out = splitter.flush()
    got += [(splitter.line_number, text) for text in out]
    assert [text for _, text in got] == [text for _, text in reference]
    # line_number is checked for the last line of each batch; the others carry 0.
    for (number, _), (expected, _) in zip(got, reference, strict=True):
        assert number in (0, expected)


_RESPONSES = individual_responses(extras=True, unknown=True)


def _encode(payload: dict[str, Any], ascii_only: bool) -> bytes:
    return json.dumps(payload, ensure_ascii=ascii_only).encode()


@HEAVY
@given(st.data())
def test_decoder_yields_the_same_models_for_any_chunking(data: st.DataObject) -> None:
    payloads = data.draw(st.lists(_RESPONSES, max_size=5))
    lines = [_encode(p, data.draw(st.booleans())) for p in payloads]
    stream = data.draw(streams(lines))
    decoder = JsonlDecoder(MessageBatchIndividualResponse)
    items, error = decode_all(decoder, data.draw(chunkings(stream)))
    assert error is None
    assert items == [MessageBatchIndividualResponse.model_validate_json(text) for text in lines]
    assert decoder.lines == len(payloads)


_MALFORMED = st.sampled_from(
    [
        b"{",
        b"nope",
        b"[]",
        b'{"custom_id": 5, "result": {"type": "expired"}}',
        b'{"custom_id": "x"}',
    ]
)


@HEAVY
@given(st.data())
def test_malformed_line_stops_decoding_at_the_same_place_for_any_chunking(
    data: st.DataObject,
) -> None:
    before = data.draw(st.lists(_RESPONSES, max_size=3))
    after = data.draw(st.lists(_RESPONSES, max_size=2))
    lines = [_encode(p, True) for p in before]
    bad = data.draw(_MALFORMED)
    stream = data.draw(streams([*lines, bad, *(_encode(p, True) for p in after)]))
    bad_number = stream.splitlines().index(bad) + 1
    items, error = decode_all(
        JsonlDecoder(MessageBatchIndividualResponse), data.draw(chunkings(stream))
    )
    assert items == [MessageBatchIndividualResponse.model_validate_json(text) for text in lines]
    assert isinstance(error, ResultLineError)
    assert error.line_number == bad_number
    assert str(error).startswith(f"results line {bad_number}: ")
