"""The headers of an API error: case-insensitive as HTTP's, read-only, picklable, repr-safe."""

from __future__ import annotations

import copy
import pickle

import pytest

from rxbatches import APIStatusError, Client, NotFoundError, RateLimitError
from rxbatches._base.errors import Headers
from rxbatches.emulator import Emulator, Fault
from tests.conftest import API_KEY


async def _error_of_retrieve(emulator: Emulator, fault: Fault) -> APIStatusError:
    emulator.faults.script("retrieve", fault)
    async with Client(api_key=API_KEY, base_url=emulator.base_url, max_retries=0) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.messages.batches.retrieve("msgbatch_x")
    return caught.value


async def test_error_headers_are_read_whatever_the_case(emulator: Emulator) -> None:
    error = await _error_of_retrieve(
        emulator, Fault.status(429, headers={"X-Extra": "1"}, retry_after=7)
    )

    assert isinstance(error, RateLimitError)
    assert error.request_id is not None
    # A plain dict answered None here, while RawResponse.headers found it.
    assert error.headers.get("Request-Id") == error.request_id
    assert error.headers["REQUEST-ID"] == error.request_id
    assert error.headers["retry-after"] == error.headers["Retry-After"] == "7"
    assert error.headers.get("x-extra") == "1"
    assert "Content-Type" in error.headers
    assert "x-missing" not in error.headers
    assert error.headers.get("x-missing") is None
    assert len(error.headers) == len(set(map(str.lower, error.headers)))


async def test_error_headers_are_read_only_picklable_and_their_repr_shows_no_value(
    emulator: Emulator,
) -> None:
    secret = "sk-ant-echoed-by-a-proxy"
    error = await _error_of_retrieve(
        emulator, Fault.status(404, headers={"x-echoed-authorization": secret})
    )

    assert isinstance(error, NotFoundError)
    headers = error.headers
    with pytest.raises(TypeError):
        headers["request-id"] = "forged"  # type: ignore[index]
    assert secret not in repr(headers)
    assert "x-echoed-authorization" in repr(headers)
    assert secret not in repr(error)
    for revived in (pickle.loads(pickle.dumps(headers)), copy.deepcopy(headers)):
        assert isinstance(revived, Headers)
        assert dict(revived) == dict(headers)
        assert revived.get("X-Echoed-Authorization") == secret


def test_headers_keep_each_name_once_with_its_first_value() -> None:
    headers = Headers([("Set-Cookie", "a=1"), ("set-cookie", "b=2"), ("ETag", "x")])

    assert list(headers) == ["Set-Cookie", "ETag"]
    assert headers["SET-COOKIE"] == "a=1"
    assert headers == {"Set-Cookie": "a=1", "ETag": "x"}
    not_a_name: object = 7
    assert not_a_name not in headers
    with pytest.raises(KeyError):
        headers[7]  # type: ignore[index]
    assert repr(headers) == "<Headers Set-Cookie, ETag>"
    assert Headers(headers) == headers
    assert Headers() == {}
