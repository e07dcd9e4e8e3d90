"""Proxies, the connector escape hatch, NO_TIMEOUT, with_options and results(): the SDK's habits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import aiohttp
import pytest
from aiohttp import web
from reactivex import Observable
from reactivex import operators as ops

from rxbatches import NO_TIMEOUT, Client, ClientOptions, RequestOptions
from rxbatches._base.options import env_proxy
from rxbatches.emulator import Emulator, Fault
from tests.client.helpers import result_line
from tests.conftest import API_KEY

T = TypeVar("T")

_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def _no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


class ForwardProxy:
    """A plain HTTP forward proxy on 127.0.0.1 that records what it forwards."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.auth: list[str | None] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ForwardProxy:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession(auto_decompress=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._session is not None
        assert self._runner is not None
        await self._session.close()
        await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        target = str(request.url)
        self.seen.append(target)
        self.auth.append(request.headers.get("Proxy-Authorization"))
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in {"host", "proxy-authorization"}
        }
        async with self._session.request(
            request.method, target, headers=headers, data=await request.read()
        ) as upstream:
            body = await upstream.read()
            drop = {"transfer-encoding", "content-length", "content-encoding", "connection"}
            kept = {k: v for k, v in upstream.headers.items() if k.lower() not in drop}
            return web.Response(status=upstream.status, body=body, headers=kept)


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    async with ForwardProxy() as running:
        yield running


async def test_a_request_goes_through_the_proxy_named_by_http_proxy(
    emulator: Emulator, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        batches = await client.messages.batches.list().pipe(_to_list())

    assert batches == []
    assert proxy.seen == [f"{emulator.base_url}/v1/messages/batches?limit=20"]
    assert emulator.stats.requests["list"] == 1


async def test_a_request_goes_through_an_explicit_proxy_with_credentials_hidden(
    emulator: Emulator, proxy: ForwardProxy
) -> None:
    with_credentials = proxy.url.replace("http://", "http://user:s3cret@")
    async with Client(
        api_key=API_KEY, base_url=emulator.base_url, proxy=with_credentials
    ) as client:
        shown = repr(client.options)
        await client.messages.batches.list().pipe(_to_list())

    assert len(proxy.seen) == 1
    assert proxy.auth == ["Basic dXNlcjpzM2NyZXQ="]  # user:s3cret, sent to the proxy only
    assert "s3cret" not in shown
    assert "<credentials>@127.0.0.1" in shown


async def test_no_proxy_and_trust_env_false_bypass_the_environment_proxy(
    emulator: Emulator, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with Client(api_key=API_KEY, base_url=emulator.base_url, trust_env=False) as client:
        await client.messages.batches.list().pipe(_to_list())
    monkeypatch.setenv("NO_PROXY", "example.com, 127.0.0.1")
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        await client.messages.batches.list().pipe(_to_list())

    assert proxy.seen == []
    assert emulator.stats.requests["list"] == 2


@pytest.mark.parametrize(
    ("environ", "url", "expected"),
    [
        ({}, "https://api.anthropic.com", None),
        ({"HTTPS_PROXY": "http://p:1"}, "https://api.anthropic.com", "http://p:1"),
        ({"HTTPS_PROXY": "http://p:1"}, "http://127.0.0.1:9", None),
        ({"HTTP_PROXY": "http://p:1"}, "http://127.0.0.1:9", "http://p:1"),
        ({"ALL_PROXY": "http://all:1"}, "https://api.anthropic.com", "http://all:1"),
        (
            {"https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:1"},
            "https://a.b",
            "http://low:1",
        ),
        (
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "anthropic.com"},
            "https://api.anthropic.com",
            None,
        ),
        (
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".anthropic.com"},
            "https://api.anthropic.com",
            None,
        ),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "https://api.anthropic.com", None),
        (
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "thropic.com"},
            "https://api.anthropic.com",
            "http://p:1",
        ),
        ({"HTTP_PROXY": "http://p:1", "NO_PROXY": "127.0.0.1:9"}, "http://127.0.0.1:9", None),
        (
            {"HTTP_PROXY": "http://p:1", "NO_PROXY": "127.0.0.1:8"},
            "http://127.0.0.1:9",
            "http://p:1",
        ),
    ],
)
def test_the_environment_proxy_follows_the_official_sdk_rules(
    environ: dict[str, str], url: str, expected: str | None
) -> None:
    assert env_proxy(url, environ) == expected


def test_an_unusable_proxy_is_refused_naming_where_it_came_from() -> None:
    with pytest.raises(ValueError, match=r"ALL_PROXY: .*http:// or https://.*connector_factory"):
        ClientOptions.from_env(api_key=API_KEY, environ={"ALL_PROXY": "socks5://p:1080"})
    with pytest.raises(ValueError, match=r"^proxy: "):
        Client(api_key=API_KEY, proxy="ftp://p:21")
    with pytest.raises(ValueError, match=r"^connector_factory: "):
        Client(api_key=API_KEY, connector_factory=42)  # type: ignore[arg-type]


async def test_the_connector_factory_makes_each_loops_connector(emulator: Emulator) -> None:
    made: list[aiohttp.BaseConnector] = []

    def factory() -> aiohttp.BaseConnector:
        connector = aiohttp.TCPConnector(limit=1)
        made.append(connector)
        return connector

    async with Client(
        api_key=API_KEY, base_url=emulator.base_url, connector_factory=factory
    ) as client:
        first = client.messages.batches.list().pipe(_to_list())
        second = client.messages.batches.list().pipe(_to_list())
        both = await asyncio.gather(first, second)
        assert list(both) == [[], []]

    assert len(made) == 1
    assert made[0].closed


async def test_no_timeout_per_call_outlasts_the_clients_read_timeout(emulator: Emulator) -> None:
    batch_id = emulator.add_ended_batch([])
    emulator.faults.script("retrieve", Fault.delay(0.4), Fault.delay(0.4))
    async with Client(
        api_key=API_KEY, base_url=emulator.base_url, timeout=0.1, max_retries=0
    ) as client:
        batches = client.messages.batches
        with pytest.raises(TimeoutError):
            await batches.retrieve(batch_id)
        batch = await batches.retrieve(batch_id, options=RequestOptions(timeout=NO_TIMEOUT))

    assert batch.id == batch_id


async def test_client_with_options_shares_the_connections_and_the_close(emulator: Emulator) -> None:
    batch_id = emulator.add_ended_batch([])
    emulator.faults.script("retrieve", Fault.status(529))
    client = Client(api_key=API_KEY, base_url=emulator.base_url)
    strict = client.with_options(max_retries=0, default_headers={"x-note": "strict"})

    with pytest.raises(Exception, match="529"):
        await strict.messages.batches.retrieve(batch_id)
    assert (await client.messages.batches.retrieve(batch_id)).id == batch_id
    assert strict.options.max_retries == 0
    assert client.options.max_retries == 2
    assert dict(strict.options.default_headers) == {"x-note": "strict"}

    await strict.aclose()
    assert client.closed


async def test_results_is_the_official_name_of_results_streaming(emulator: Emulator) -> None:
    batch_id = emulator.add_ended_batch([result_line(f"r{i}") + b"\n" for i in range(5)])
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        batches = client.messages.batches
        official = await batches.results(batch_id).pipe(_to_list())
        seed = await batches.results_streaming(batch_id).pipe(_to_list())

    assert [r.custom_id for r in official] == [r.custom_id for r in seed]
    assert len(official) == 5


def _to_list() -> Callable[[Observable[T]], Observable[list[T]]]:
    return ops.to_list()
