"""The API key: sent to the configured API only, never shown in a repr, an error or a log."""

from __future__ import annotations

import logging
import traceback

import pytest

from rxbatches import (
    APIConnectionError,
    AuthenticationError,
    Client,
    ClientOptions,
    RequestOptions,
)
from rxbatches.emulator import Emulator, Fault
from tests.conftest import API_KEY

from .helpers import make_requests, outcome

SECRET = "sk-ant-secret-do-not-print-0123456789"


def _texts(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error) + str(error)


async def test_reprs_never_show_the_key(emulator: Emulator) -> None:
    async with Client(api_key=SECRET, base_url=emulator.base_url) as client:
        texts = [
            repr(client),
            str(client),
            repr(client.options),
            str(client.options),
            repr(client.messages),
            repr(client.messages.batches),
            repr(client.messages.batches.with_options(extra_headers={"x-api-key": SECRET})),
            repr(RequestOptions(extra_headers={"X-Api-Key": SECRET, "Authorization": SECRET})),
        ]
    assert all(SECRET not in text for text in texts)
    assert "x-api-key" not in repr(client).lower()


async def test_an_authentication_error_does_not_contain_the_key() -> None:
    async with (
        Emulator(api_keys={"the-right-key"}) as emu,
        Client(api_key=SECRET, base_url=emu.base_url) as client,
    ):
        result = await outcome(client.messages.batches.retrieve("msgbatch_x"))

    assert isinstance(result.error, AuthenticationError)
    assert SECRET not in _texts(result.error)
    assert SECRET not in repr(result.error.body)
    assert SECRET not in repr(dict(result.error.headers))


async def test_transport_errors_and_retry_logs_do_not_contain_the_key(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.faults.script("cancel", Fault.status(529, headers={"retry-after-ms": "1"}))
    emulator.faults.script("cancel", Fault.reset())
    async with Client(api_key=SECRET, base_url=emulator.base_url, max_retries=1) as client:
        result = await outcome(client.messages.batches.cancel("msgbatch_x"))

    assert isinstance(result.error, APIConnectionError)
    assert SECRET not in _texts(result.error)
    assert "retrying POST" in caplog.text
    assert SECRET not in caplog.text


async def test_the_key_goes_to_the_configured_api(emulator: Emulator) -> None:
    async with Client(api_key=SECRET, base_url=emulator.base_url) as client:
        await client.messages.batches.create(make_requests(1))

    assert emulator.stats.last_headers["create"]["x-api-key"] == SECRET


async def test_a_redirect_to_another_host_never_receives_the_key(emulator: Emulator) -> None:
    async with Emulator() as elsewhere:
        target = f"{elsewhere.base_url}/v1/messages/batches/x/results"
        emulator.faults.script("results", Fault.status(302, headers={"location": target}))
        async with Client(api_key=SECRET, base_url=emulator.base_url) as client:
            result = await outcome(client.messages.batches.results_streaming("x"))

        assert result.error is not None
        assert "redirect" in str(result.error)
        assert elsewhere.stats.last_headers == {}


@pytest.mark.parametrize("key", ["", "a\r\nx-injected: 1"])
def test_an_empty_or_header_breaking_key_is_rejected(key: str) -> None:
    with pytest.raises(ValueError, match="api_key") as raised:
        ClientOptions(api_key=key)

    assert key.strip() == "" or key not in str(raised.value)


def test_the_key_is_not_in_the_error_for_a_bad_client_option() -> None:
    with pytest.raises(ValueError, match="timeout") as raised:
        Client(api_key=API_KEY, timeout=-1)

    assert API_KEY not in str(raised.value)
