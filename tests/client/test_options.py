"""Client configuration, RequestOptions, with_options, and the headers every request carries."""

from __future__ import annotations

import dataclasses
import math

import pytest
from reactivex import operators as ops

from rxbatches import (
    APITimeoutError,
    BadRequestError,
    BatchService,
    Client,
    ClientOptions,
    InternalServerError,
    RequestOptions,
)
from rxbatches.emulator import Emulator, Fault
from tests.conftest import API_KEY

from .helpers import make_requests, outcome

# --------------------------------------------------------------------------- RequestOptions


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"timeout": -1.0}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": math.nan}, "timeout"),
        ({"timeout": "10"}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"extra_headers": {"x-bad": "a\r\nx-injected: 1"}}, "extra_headers"),
        ({"extra_headers": {"bad name": "v"}}, "extra_headers"),
        ({"extra_query": {"limit": 5}}, "extra_query"),
    ],
)
def test_request_options_reject_bad_values_naming_the_field(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        RequestOptions(**kwargs)  # type: ignore[arg-type]


def test_request_options_are_frozen_and_merge_field_by_field() -> None:
    base = RequestOptions(timeout=5.0, extra_headers={"a": "1", "b": "1"})
    over = RequestOptions(max_retries=0, extra_headers={"b": "2"}, extra_query={"q": "x"})

    merged = base.merged(over)

    assert merged == RequestOptions(
        timeout=5.0, max_retries=0, extra_headers={"a": "1", "b": "2"}, extra_query={"q": "x"}
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.timeout = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        base.extra_headers["c"] = "3"  # type: ignore[index]
    assert hash(base) == hash(RequestOptions(timeout=5.0, extra_headers={"x": "y"}))


# --------------------------------------------------------------------------- Client


def test_client_reads_key_and_base_url_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/")

    with Client() as client:
        assert client.options.api_key == "sk-env"
        assert client.options.base_url == "http://127.0.0.1:9"


def test_client_defaults_to_the_public_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)

    with Client(api_key="k") as client:
        assert client.options.base_url == "https://api.anthropic.com"
        assert client.options.timeout == 600.0
        assert client.options.max_retries == 2


def test_a_missing_key_fails_at_construction_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)

    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY"):
        Client()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base_url": "ftp://example.com"}, "base_url"),
        ({"base_url": "example.com"}, "base_url"),
        ({"base_url": "http://user:pw@example.com"}, "base_url"),
        ({"base_url": "http://example.com/?q=1"}, "base_url"),
        ({"timeout": -5}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"default_headers": {"x": "a\nb"}}, "default_headers"),
    ],
)
def test_client_rejects_bad_configuration_naming_the_field(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        Client(api_key="k", **kwargs)  # type: ignore[arg-type]


def test_a_base_url_with_a_path_prefix_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    options = ClientOptions(api_key="k", base_url="https://proxy.example/anthropic/")

    assert options.base_url == "https://proxy.example/anthropic"


# --------------------------------------------------------------------------- on the wire


async def test_every_request_carries_the_api_headers(
    batches: BatchService, emulator: Emulator
) -> None:
    created = await batches.create(make_requests(1))
    await batches.retrieve(created.id)

    create_headers = emulator.stats.last_headers["create"]
    retrieve_headers = emulator.stats.last_headers["retrieve"]
    for headers in (create_headers, retrieve_headers):
        assert headers["x-api-key"] == API_KEY
        assert headers["anthropic-version"] == "2023-06-01"
        assert headers["user-agent"].startswith("rxbatches/")
        assert "application/json" in headers["accept"]
    assert create_headers["content-type"] == "application/json"
    assert "content-type" not in retrieve_headers


async def test_extra_headers_and_query_are_sent(batches: BatchService, emulator: Emulator) -> None:
    for _ in range(5):
        emulator.add_ended_batch([])
    options = RequestOptions(extra_headers={"x-trace": "abc"}, extra_query={"limit": "3"})

    page = await batches.list_pages(options=options).pipe(ops.first())
    sent = emulator.stats.last_headers["list"]
    unknown = await outcome(batches.list(options=RequestOptions(extra_query={"bogus": "1"})))

    assert len(page.data) == 3  # extra_query overrides the method's own parameters
    assert sent["x-trace"] == "abc"
    assert isinstance(unknown.error, BadRequestError)  # the emulator saw (and refused) it


async def test_client_default_headers_are_sent_and_overridable(emulator: Emulator) -> None:
    async with Client(
        api_key=API_KEY, base_url=emulator.base_url, default_headers={"x-team": "a"}
    ) as client:
        batch_id = emulator.add_ended_batch([])
        await client.messages.batches.retrieve(batch_id)
        sent_default = emulator.stats.last_headers["retrieve"]["x-team"]
        override = RequestOptions(extra_headers={"x-team": "b"})
        await client.messages.batches.retrieve(batch_id, options=override)

    assert sent_default == "a"
    assert emulator.stats.last_headers["retrieve"]["x-team"] == "b"


async def test_with_options_returns_a_copy_with_other_defaults(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch([])
    no_retry = batches.with_options(max_retries=0, extra_headers={"x-copy": "1"})
    emulator.faults.script("retrieve", Fault.status(500, headers={"retry-after-ms": "1"}))

    failed = await outcome(no_retry.retrieve(batch_id))
    emulator.faults.script("retrieve", Fault.status(500, headers={"retry-after-ms": "1"}))
    recovered = await batches.retrieve(batch_id)  # the original still retries

    assert isinstance(failed.error, InternalServerError)
    assert recovered.id == batch_id
    assert no_retry is not batches
    assert emulator.stats.requests["retrieve"] == 3
    assert "x-copy" not in emulator.stats.last_headers["retrieve"]


async def test_per_call_options_win_over_with_options(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch([])
    no_retry = batches.with_options(max_retries=0)
    emulator.faults.script("retrieve", Fault.status(500, headers={"retry-after-ms": "1"}))

    got = await no_retry.retrieve(batch_id, options=RequestOptions(max_retries=1))

    assert got.id == batch_id


async def test_timeout_is_per_read_and_set_per_call_or_per_service(
    batches: BatchService, emulator: Emulator
) -> None:
    batch_id = emulator.add_ended_batch([])
    quick = batches.with_options(timeout=0.05, max_retries=0)
    emulator.faults.script("retrieve", Fault.delay(0.3))

    result = await outcome(quick.retrieve(batch_id))
    patient = await quick.retrieve(batch_id, options=RequestOptions(timeout=5.0))

    assert isinstance(result.error, APITimeoutError)
    assert patient.id == batch_id


async def test_with_options_validates_its_values(batches: BatchService) -> None:
    with pytest.raises(ValueError, match="timeout"):
        batches.with_options(timeout=-1.0)
