"""Key redaction masks the key as a token: it never leaks, and it does not mangle words.

Both the library's ``scrub`` (error messages) and the command line's ``redact`` (its
last line of defence) follow the same rule.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxbatches._cli._format import redact
from rxbatches._transport.response import scrub

Masker = Callable[[str, str], str]


def _cli_redact(text: str, secret: str) -> str:
    return redact(text, [secret])


MASKERS = pytest.mark.parametrize("mask", [scrub, _cli_redact], ids=["scrub", "cli"])

SHORT_KEY = "loo"
LONG_KEY = "sk-ant-api03-0123456789abcdefXYZ_-"


@MASKERS
@pytest.mark.parametrize(
    "text",
    [
        "loop",
        "a loose looking balloon",
        "igloo",
        "loo_x",  # run into key characters: another token, not the key
        "x-loo",
    ],
)
def test_a_short_key_inside_ordinary_words_is_left_alone(mask: Masker, text: str) -> None:
    assert mask(text, SHORT_KEY) == text


@MASKERS
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("loo", "<redacted>"),
        ("x-api-key: loo", "x-api-key: <redacted>"),
        ("Authorization: Bearer loo\r\n", "Authorization: Bearer <redacted>\r\n"),
        ("GET http://host/loo?x=1", "GET http://host/<redacted>?x=1"),
        ("http://host/v1/loo/results", "http://host/v1/<redacted>/results"),
        ('{"api_key":"loo"}', '{"api_key":"<redacted>"}'),
        ("key=loo&loop=1", "key=<redacted>&loop=1"),
        ("'loo' loo. (loo)", "'<redacted>' <redacted>. (<redacted>)"),
    ],
)
def test_a_short_key_as_a_token_is_masked(mask: Masker, text: str, expected: str) -> None:
    assert mask(text, SHORT_KEY) == expected


@MASKERS
@pytest.mark.parametrize(
    "around",
    ["{}", "x{}", "{}x", "abc{}def", "http://h/{}/p", '"{}"', "Bearer {}", "{}{}"],
)
def test_a_real_length_key_never_shows_wherever_it_is(mask: Masker, around: str) -> None:
    text = around.format(LONG_KEY, LONG_KEY) if around == "{}{}" else around.format(LONG_KEY)

    assert LONG_KEY not in mask(text, LONG_KEY)


@MASKERS
def test_no_key_masks_nothing(mask: Masker) -> None:
    assert mask("anything at all", "") == "anything at all"


_KEY_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
_SEPARATORS = " /?&=:\"'\r\n.,;()[]{}<>@#%+"


@MASKERS
@given(
    key=st.text(_KEY_CHARS, min_size=1, max_size=40),
    parts=st.lists(st.text(_SEPARATORS, min_size=1, max_size=3), min_size=2, max_size=5),
)
def test_a_delimited_key_never_survives(mask: Masker, key: str, parts: list[str]) -> None:
    # The key between separators, any number of times, in any context: always masked.
    text = key.join(parts)

    masked = mask(text, key)

    assert masked == "<redacted>".join(parts)


@MASKERS
@given(words=st.lists(st.text(_KEY_CHARS, min_size=1, max_size=12), min_size=1, max_size=6))
def test_text_without_the_key_as_a_token_is_unchanged(mask: Masker, words: list[str]) -> None:
    # A short key that is a strict part of every word it appears in masks nothing.
    key = "k"
    text = " ".join(word + "z" + key + "z" for word in words)

    assert mask(text, key) == text
