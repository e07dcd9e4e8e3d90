"""The msgspec dict decoder (rxbatches/_fastjson.py): the same dicts, line numbers and errors
as the pydantic one, whatever the lines and however the bytes are cut."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rxbatches._base.fastjson
from rxbatches import ResultLineError
from rxbatches._base.fastjson import (
    FAST_JSON,
    MsgspecDictDecoder,
    count_object_lines,
    dict_decoder,
)
from rxbatches._base.jsonl import JsonlDictDecoder
from tests.test_jsonl import cut, decode_all

pytestmark = pytest.mark.skipif(
    not FAST_JSON, reason="msgspec is not installed (the optional `fast` extra)"
)

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
OBJECTS = st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5)

# Lines the API never writes: each must get the pydantic decoder's exact treatment.
ODD_LINES = st.sampled_from(
    [
        b"",
        b"   ",
        b"\t\r",
        b" {}",
        b"{} ",
        b"{}{}",
        b'{"a": 1} {"b": 2}',
        b'{"a":',
        b"1}",
        b"[1, 2]",
        b'"text"',
        b"null",
        b"{'single': 1}",
        b'{"a": 1, "a": 2}',
        b'{"s": "\xff"}',
        b'{"s": "\\ud800"}',
        b"[" * 300,
    ]
)


def _encode(obj: dict[str, Any], style: int) -> bytes:
    if style == 0:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return json.dumps(obj, ensure_ascii=style == 1).encode()


@st.composite
def jsonl_bodies(draw: st.DrawFn) -> bytes:
    """Results bodies: mostly API-shaped lines, sometimes odd ones, LF or CRLF, cut anywhere."""
    lines = draw(
        st.lists(
            st.one_of(
                st.builds(_encode, OBJECTS, st.integers(0, 2)),
                ODD_LINES,
            ),
            max_size=12,
        )
    )
    endings = draw(
        st.lists(st.sampled_from([b"\n", b"\r\n"]), min_size=len(lines), max_size=len(lines))
    )
    body = b"".join(line + end for line, end in zip(lines, endings, strict=True))
    if body and draw(st.booleans()):
        body = body.rstrip(b"\r\n")  # no newline after the last line
    return body


def _outcome(decoder: JsonlDictDecoder, chunks: list[bytes]) -> tuple[list[Any], Any, int]:
    items, error = decode_all(decoder, chunks)
    described = None if error is None else (error.line_number, str(error), error.body)
    return items, described, decoder.lines


@given(body=jsonl_bodies(), data=st.data())
def test_msgspec_and_pydantic_decoders_agree_on_any_body_cut_anywhere(
    body: bytes, data: st.DataObject
) -> None:
    positions = data.draw(st.lists(st.integers(0, len(body)), max_size=6))
    chunks = cut(body, positions)
    assert _outcome(MsgspecDictDecoder(), chunks) == _outcome(JsonlDictDecoder(), chunks)


@given(objects=st.lists(OBJECTS, min_size=1, max_size=20))
def test_api_shaped_blocks_count_one_line_per_object(objects: list[dict[str, Any]]) -> None:
    block = b"".join(_encode(obj, 0) + b"\n" for obj in objects)
    assert count_object_lines(block) == len(objects)
    assert MsgspecDictDecoder().feed(block) == objects


@pytest.mark.parametrize(
    "block",
    [
        b"\n",
        b"{}\n\n{}\n",
        b" {}\n",
        b"{} \n",
        b"{}\r\n",
        b"{}\n[1]\n",
    ],
)
def test_blocks_of_other_shapes_are_not_counted(block: bytes) -> None:
    assert count_object_lines(block) == -1


def test_two_objects_on_a_line_beside_a_blank_line_are_still_an_error() -> None:
    # msgspec reads 3 objects from these 3 lines; only the line check tells them apart.
    decoder = MsgspecDictDecoder()
    items, error = decode_all(decoder, [b'{"a": 1}{"b": 2}\n\n{"c": 3}\n'])
    assert items == []
    assert isinstance(error, ResultLineError)
    assert error.line_number == 1
    assert str(error).startswith("results line 1: Invalid JSON: trailing characters")


def test_an_object_split_over_two_lines_is_an_error_on_its_first_line() -> None:
    items, error = decode_all(MsgspecDictDecoder(), [b'{"a": 0}\n{"a":\n1}\n{"b": 2}\n'])
    assert items == [{"a": 0}]
    assert isinstance(error, ResultLineError)
    assert error.line_number == 2


def test_line_numbers_after_blank_lines_and_crlf_count_every_physical_line() -> None:
    decoder = MsgspecDictDecoder()
    body = b'{"a": 1}\r\n\r\n{"b": 2}\n{"c": 3}\n\n["not an object"]\n'
    items, error = decode_all(decoder, cut(body, [3, 17, 30]))
    assert items == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert isinstance(error, ResultLineError)
    assert error.line_number == 6
    assert str(error).startswith("results line 6: expected a JSON object, got list")


def test_an_8_mib_line_fed_in_64_kib_chunks_decodes_whole() -> None:
    text = "é\n" * (4 * 2**20)
    body = json.dumps({"custom_id": "big", "text": text}).encode() + b'\n{"custom_id": "next"}\n'
    items, error = decode_all(MsgspecDictDecoder(), cut(body, range(0, len(body), 65536)))
    assert error is None
    assert [item["custom_id"] for item in items] == ["big", "next"]
    assert items[0]["text"] == text


def test_dict_decoder_picks_msgspec_when_installed() -> None:
    assert type(dict_decoder()) is MsgspecDictDecoder


def test_without_msgspec_the_pydantic_decoder_is_used_and_the_fast_one_says_what_to_install() -> (
    None
):
    script = textwrap.dedent(
        """
        import sys
        sys.modules["msgspec"] = None  # what an environment without the extra sees
        from rxbatches._base.fastjson import FAST_JSON, MsgspecDictDecoder, dict_decoder
        from rxbatches._base.jsonl import JsonlDictDecoder
        assert FAST_JSON is False
        assert type(dict_decoder()) is JsonlDictDecoder
        assert dict_decoder().feed(b'{"a": 1}\\n') == [{"a": 1}]
        try:
            MsgspecDictDecoder()
        except ModuleNotFoundError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "MsgspecDictDecoder needs msgspec: pip install 'rxbatches[fast]'"
    )


def test_docstring_examples_run() -> None:
    failed, attempted = doctest.testmod(rxbatches._base.fastjson)
    assert attempted >= 3
    assert failed == 0
