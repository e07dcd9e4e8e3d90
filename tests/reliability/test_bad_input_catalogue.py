"""The bad input catalogue: every bad input gets a typed error naming the problem, none hangs.

Two tables. The caller's mistakes fail before anything is sent (the emulator counts no
request); the server's malformed answers (scripted with ``Fault.status(..., body=...)``
or served verbatim as a results file) fail with the error of the response's kind,
after exactly the requests they needed. Every message is checked for the words that
name the problem, and for a bounded length (a huge body is never pasted whole).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from reactivex import Observable
from reactivex import operators as ops

from rxbatches import (
    APIConnectionError,
    APIResponseValidationError,
    BadRequestError,
    BatchService,
    Client,
    CreateValidationError,
    InternalServerError,
    MessageBatchUnknownResult,
    RequestOptions,
    ResultLineError,
)
from rxbatches.emulator import Emulator, Fault
from tests.client.helpers import make_requests, outcome, result_line
from tests.conftest import API_KEY

CASE_TIMEOUT = 15.0
"""Real seconds any one case may take, subscription to termination (none may hang)."""

MAX_MESSAGE = 1200
"""The longest acceptable error message: a snippet of a bad body, never all of it."""

NO_RETRY = RequestOptions(max_retries=0)


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The cases name every setting they rely on: no key or URL leaks in from the shell.
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)


def _requests(**changes: Any) -> list[dict[str, Any]]:
    """One valid request changed by ``changes`` (dotted keys into ``params``; None: removed)."""
    requests = make_requests(1)
    for key, value in changes.items():
        target: dict[str, Any] = requests[0]
        *parents, last = key.split(".")
        for parent in parents:
            target = target[parent]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return requests


def _oversized_body() -> list[dict[str, Any]]:
    # NUL characters are written as \u0000: 6 bytes each, so a 43 M character string
    # makes a body over 256 MiB without holding 256 MiB of Python text.
    return _requests(**{"params.messages": [{"role": "user", "content": "\x00" * 45_000_000}]})


# --------------------------------------------------------------------------- the caller's


@dataclass(frozen=True)
class Ctx:
    """What a caller case works with: a client of the emulator and the emulator's URL."""

    client: Client
    base_url: str

    @property
    def batches(self) -> BatchService:
        return self.client.messages.batches


@dataclass(frozen=True)
class CallerCase:
    """A bad call: ``call`` raises at once or returns an Observable that fails."""

    call: Callable[[Ctx], Observable[Any]]
    error: type[Exception]
    names: tuple[str, ...]


def _new_client(**kwargs: Any) -> Callable[[Ctx], Observable[Any]]:
    def call(ctx: Ctx) -> Observable[Any]:
        options = {"api_key": API_KEY, "base_url": ctx.base_url, **kwargs}
        with Client(**options) as client:  # reached only if the bad value was accepted
            return client.messages.batches.retrieve("msgbatch_x")

    return call


CVE = CreateValidationError
CALLER_CASES: dict[str, CallerCase] = {
    # create: custom_id
    "custom_id-with-a-space": CallerCase(
        lambda c: c.batches.create(_requests(custom_id="has space")),
        CVE,
        ("requests[0].custom_id", "has space", "does not match"),
    ),
    "custom_id-too-long": CallerCase(
        lambda c: c.batches.create(_requests(custom_id="x" * 65)),
        CVE,
        ("requests[0].custom_id", "does not match"),
    ),
    "custom_id-empty": CallerCase(
        lambda c: c.batches.create(_requests(custom_id="")),
        CVE,
        ("requests[0].custom_id", "does not match"),
    ),
    "custom_id-not-a-string": CallerCase(
        lambda c: c.batches.create(_requests(custom_id=17)),
        CVE,
        ("requests[0].custom_id", "string"),
    ),
    "custom_id-missing": CallerCase(
        lambda c: c.batches.create(_requests(custom_id=None)),
        CVE,
        ("requests[0].custom_id", "is required"),
    ),
    "custom_id-duplicate": CallerCase(
        lambda c: c.batches.create(make_requests(3) + make_requests(1)),
        CVE,
        ("requests[3].custom_id", "'r0'", "not unique", "requests[0]"),
    ),
    # create: the list and the body
    "requests-empty": CallerCase(lambda c: c.batches.create([]), CVE, ("requests", "at least 1")),
    "requests-over-100000": CallerCase(
        lambda c: c.batches.create(make_requests(1) * 100_001),
        CVE,
        ("requests", "100,001", "100,000"),
    ),
    "requests-a-mapping-not-a-list": CallerCase(
        lambda c: c.batches.create(make_requests(1)[0]),  # type: ignore[arg-type]
        CVE,
        ("requests", "list", "dict"),
    ),
    "requests-a-string": CallerCase(
        lambda c: c.batches.create("requests.jsonl"),  # type: ignore[arg-type]
        CVE,
        ("requests", "list", "str"),
    ),
    "request-not-an-object": CallerCase(
        lambda c: c.batches.create([42]),  # type: ignore[list-item]
        CVE,
        ("requests[0]",),
    ),
    "request-unknown-field": CallerCase(
        lambda c: c.batches.create(_requests(priority="high")),
        CVE,
        ("requests[0].priority", "not a known field"),
    ),
    "params-missing": CallerCase(
        lambda c: c.batches.create(_requests(params=None)),
        CVE,
        ("requests[0].params", "is required"),
    ),
    "body-over-256-MiB": CallerCase(
        lambda c: c.batches.create(_oversized_body()), CVE, ("body", "268,435,456")
    ),
    # create: params
    "stream-true": CallerCase(
        lambda c: c.batches.create(_requests(**{"params.stream": True})),
        CVE,
        ("requests[0].params.stream", "must not be true"),
    ),
    "model-missing": CallerCase(
        lambda c: c.batches.create(_requests(**{"params.model": None})),
        CVE,
        ("requests[0].params.model", "is required"),
    ),
    "max_tokens-missing": CallerCase(
        lambda c: c.batches.create(_requests(**{"params.max_tokens": None})),
        CVE,
        ("requests[0].params.max_tokens", "is required"),
    ),
    "max_tokens-zero": CallerCase(
        lambda c: c.batches.create(_requests(**{"params.max_tokens": 0})),
        CVE,
        ("requests[0].params.max_tokens", "greater than or equal to 1"),
    ),
    "messages-missing": CallerCase(
        lambda c: c.batches.create(_requests(**{"params.messages": None})),
        CVE,
        ("requests[0].params.messages", "is required"),
    ),
    "message-content-missing": CallerCase(
        lambda c: c.batches.create(_requests(**{"params.messages": [{"role": "user"}]})),
        CVE,
        ("requests[0].params.messages[0].content", "is required"),
    ),
    # ids in a path
    "id-empty": CallerCase(
        lambda c: c.batches.retrieve(""), ValueError, ("message_batch_id", "non-empty")
    ),
    "id-whitespace-only": CallerCase(
        lambda c: c.batches.cancel("  \t"), ValueError, ("message_batch_id", "non-empty")
    ),
    "id-dot-dot": CallerCase(
        lambda c: c.batches.delete(".."), ValueError, ("message_batch_id", "'..'")
    ),
    "id-with-dot-dot-inside": CallerCase(
        lambda c: c.batches.results_streaming("msgbatch_..x"),
        ValueError,
        ("message_batch_id", "'..'"),
    ),
    "id-with-a-slash": CallerCase(
        lambda c: c.batches.retrieve("msgbatch_1/cancel"),
        ValueError,
        ("message_batch_id", "'/'", "msgbatch_1/cancel"),
    ),
    "id-with-a-backslash": CallerCase(
        lambda c: c.batches.watch("a\\b", interval=0.01),
        ValueError,
        ("message_batch_id", "'\\'"),
    ),
    "id-not-a-string": CallerCase(
        lambda c: c.batches.retrieve(123),  # type: ignore[arg-type]
        ValueError,
        ("message_batch_id", "str", "int"),
    ),
    # list
    "limit-zero": CallerCase(lambda c: c.batches.list(limit=0), ValueError, ("limit", "1 to 1000")),
    "limit-1001": CallerCase(
        lambda c: c.batches.list(limit=1001), ValueError, ("limit", "1 to 1000", "1001")
    ),
    "limit-negative": CallerCase(
        lambda c: c.batches.list_pages(limit=-5), ValueError, ("limit", "-5")
    ),
    "limit-a-string": CallerCase(
        lambda c: c.batches.list(limit="10"),  # type: ignore[arg-type]
        ValueError,
        ("limit", "'10'"),
    ),
    "limit-a-float": CallerCase(
        lambda c: c.batches.list(limit=2.5),  # type: ignore[arg-type]
        ValueError,
        ("limit", "2.5"),
    ),
    "limit-a-bool": CallerCase(lambda c: c.batches.list(limit=True), ValueError, ("limit", "True")),
    "before_id-empty": CallerCase(
        lambda c: c.batches.list(before_id=""), ValueError, ("before_id", "non-empty")
    ),
    # options
    "request-timeout-negative": CallerCase(
        lambda c: c.batches.retrieve("msgbatch_x", options=RequestOptions(timeout=-1)),
        ValueError,
        ("timeout", "> 0", "-1"),
    ),
    "request-timeout-nan": CallerCase(
        lambda c: c.batches.retrieve("msgbatch_x", options=RequestOptions(timeout=float("nan"))),
        ValueError,
        ("timeout", "nan"),
    ),
    "request-retries-negative": CallerCase(
        lambda c: c.batches.retrieve("msgbatch_x", options=RequestOptions(max_retries=-1)),
        ValueError,
        ("max_retries", ">= 0", "-1"),
    ),
    "service-retries-negative": CallerCase(
        lambda c: c.batches.with_options(max_retries=-2).retrieve("x"),
        ValueError,
        ("max_retries", "-2"),
    ),
    "header-with-crlf": CallerCase(
        lambda c: c.batches.with_options(extra_headers={"x-a": "1\r\nx-b: 2"}).retrieve("x"),
        ValueError,
        ("extra_headers", "CR or LF"),
    ),
    "watch-interval-zero": CallerCase(
        lambda c: c.batches.watch("msgbatch_x", interval=0), ValueError, ("interval", "> 0")
    ),
    "client-timeout-negative": CallerCase(
        _new_client(timeout=-3.0), ValueError, ("timeout", "> 0", "-3")
    ),
    "client-connect-timeout-zero": CallerCase(
        _new_client(connect_timeout=0), ValueError, ("connect_timeout", "> 0")
    ),
    "client-retries-negative": CallerCase(
        _new_client(max_retries=-1), ValueError, ("max_retries", ">= 0")
    ),
    # the client's configuration
    "api-key-missing": CallerCase(
        _new_client(api_key=None), ValueError, ("api_key", "ANTHROPIC_API_KEY")
    ),
    "api-key-blank": CallerCase(_new_client(api_key="   "), ValueError, ("api_key", "non-empty")),
    "base-url-ftp": CallerCase(
        lambda c: _new_client(base_url=c.base_url.replace("http", "ftp"))(c),
        ValueError,
        ("base_url", "ftp://", "http:// or https://"),
    ),
    "base-url-without-scheme": CallerCase(
        lambda c: _new_client(base_url=c.base_url.removeprefix("http://"))(c),
        ValueError,
        ("base_url", "http:// or https://"),
    ),
    "base-url-with-credentials": CallerCase(
        lambda c: _new_client(base_url=c.base_url.replace("//", "//user:pw@"))(c),
        ValueError,
        ("base_url", "credentials"),
    ),
}


async def _fail(make: Callable[[], Observable[Any]]) -> tuple[Exception, list[Any]]:
    """Call ``make`` and subscribe; return the error (raised at once or in on_error) and items."""
    try:
        source = make()
    except Exception as exc:
        return exc, []
    result = await outcome(source)
    assert result.error is not None, f"completed with {len(result.items)} items instead of failing"
    assert not result.completed
    return result.error, result.items


def _check_message(error: Exception, names: tuple[str, ...]) -> None:
    text = str(error)
    missing = [name for name in names if name not in text]
    assert not missing, f"{type(error).__name__}: {text!r} does not name {missing}"
    assert len(text) <= MAX_MESSAGE, f"a {len(text):,} character message"


@pytest.mark.parametrize("case", CALLER_CASES.values(), ids=CALLER_CASES.keys())
async def test_a_bad_input_of_the_caller_fails_clearly_and_sends_nothing(
    emulator: Emulator, case: CallerCase
) -> None:
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        ctx = Ctx(client, emulator.base_url)
        error, items = await asyncio.wait_for(_fail(lambda: case.call(ctx)), CASE_TIMEOUT)

    assert type(error) is case.error, repr(error)
    _check_message(error, case.names)
    assert items == []
    assert dict(emulator.stats.requests) == {}


# --------------------------------------------------------------------------- the server's

HTML_PAGE = b"<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
NOT_UTF8 = b"\xff\xfe\x00\xc3("
HUGE = 6 * 1024 * 1024


@dataclass(frozen=True)
class ServerCase:
    """A malformed answer: ``setup`` scripts it and returns the batch id to ask for."""

    endpoint: str
    setup: Callable[[Emulator], str]
    call: Callable[[BatchService, str], Observable[Any]]
    error: type[Exception]
    names: tuple[str, ...]
    items: int = 0
    requests: int = 1


def _answer(
    endpoint: str, status: int, body: bytes, content_type: str = "application/json"
) -> Callable[[Emulator], str]:
    def setup(emu: Emulator) -> str:
        emu.faults.script(
            endpoint, Fault.status(status, headers={"content-type": content_type}, body=body)
        )
        return "msgbatch_x"

    return setup


def _answer_with(
    endpoint: str, status: int, body: bytes, headers: dict[str, str]
) -> Callable[[Emulator], str]:
    def setup(emu: Emulator) -> str:
        emu.faults.script(endpoint, Fault.status(status, headers=headers, body=body))
        return "msgbatch_x"

    return setup


def _results_file(*lines: bytes) -> Callable[[Emulator], str]:
    def setup(emu: Emulator) -> str:
        return emu.add_ended_batch(list(lines), request_counts={"succeeded": len(lines)})

    return setup


def _retrieve(batches: BatchService, batch_id: str) -> Observable[Any]:
    return batches.retrieve(batch_id, options=NO_RETRY)


def _results(batches: BatchService, batch_id: str) -> Observable[Any]:
    return batches.results_streaming(batch_id, options=NO_RETRY)


GOOD = result_line("good") + b"\n"
ARVE = APIResponseValidationError
SERVER_CASES: dict[str, ServerCase] = {
    "200-malformed-json": ServerCase(
        "retrieve",
        _answer("retrieve", 200, b'{"id": "msgbatch_x", '),
        _retrieve,
        ARVE,
        ("MessageBatch", "Invalid JSON", "request-id"),
    ),
    "200-html-page": ServerCase(
        "retrieve",
        _answer("retrieve", 200, HTML_PAGE, "text/html"),
        _retrieve,
        ARVE,
        ("MessageBatch", "Invalid JSON"),
    ),
    "200-not-utf8": ServerCase(
        "retrieve",
        _answer("retrieve", 200, NOT_UTF8),
        _retrieve,
        ARVE,
        ("MessageBatch", "Invalid JSON"),
    ),
    "200-empty-body": ServerCase(
        "retrieve", _answer("retrieve", 200, b""), _retrieve, ARVE, ("MessageBatch", "EOF")
    ),
    "200-json-array": ServerCase(
        "retrieve", _answer("retrieve", 200, b"[1, 2]"), _retrieve, ARVE, ("MessageBatch",)
    ),
    "200-wrong-content-type-and-shape": ServerCase(
        "retrieve",
        _answer("retrieve", 200, b'{"id": "msgbatch_x", "type": "message_batch"}', "text/plain"),
        _retrieve,
        ARVE,
        ("MessageBatch", "processing_status"),
    ),
    "200-page-of-the-wrong-shape": ServerCase(
        "list",
        _answer("list", 200, b'{"data": 3, "has_more": false}'),
        lambda b, _: b.list(options=NO_RETRY),
        ARVE,
        ("MessageBatchPage", "data"),
    ),
    "200-create-answer-not-json": ServerCase(
        "create",
        _answer("create", 200, b"OK", "text/plain"),
        lambda b, _: b.create(make_requests(2), options=NO_RETRY),
        ARVE,
        ("MessageBatch", "Invalid JSON"),
    ),
    "200-undecodable-gzip": ServerCase(
        "retrieve",
        _answer_with("retrieve", 200, b"plain", {"content-encoding": "gzip"}),
        _retrieve,
        APIConnectionError,
        ("content-encoding", "gzip"),
    ),
    "502-html-page-from-a-proxy": ServerCase(
        "retrieve",
        _answer("retrieve", 502, HTML_PAGE, "text/html"),
        _retrieve,
        InternalServerError,
        ("502", "Bad Gateway"),
    ),
    "500-empty-body": ServerCase(
        "retrieve",
        _answer("retrieve", 500, b""),
        _retrieve,
        InternalServerError,
        ("500", "Internal Server Error"),
    ),
    "500-huge-text-body": ServerCase(
        "retrieve",
        _answer("retrieve", 500, b"overloaded " * (HUGE // 11), "text/plain"),
        _retrieve,
        InternalServerError,
        ("500", "overloaded"),
    ),
    "400-malformed-json-envelope": ServerCase(
        "cancel",
        _answer("cancel", 400, b'{"type": "error", "error": {'),
        lambda b, i: b.cancel(i, options=NO_RETRY),
        BadRequestError,
        ("400", '{"type": "error"'),
    ),
    "400-not-utf8": ServerCase(
        "delete",
        _answer("delete", 400, NOT_UTF8),
        lambda b, i: b.delete(i, options=NO_RETRY),
        BadRequestError,
        ("400", "\ufffd"),
    ),
    "results-html-page": ServerCase(
        "results",
        _answer("results", 200, HTML_PAGE, "text/html"),
        _results,
        ResultLineError,
        ("results line 1", "Invalid JSON", "<html>"),
    ),
    "results-json-error-envelope-as-a-line": ServerCase(
        "results",
        _answer("results", 200, b'{"type": "error", "error": {"type": "api_error"}}\n'),
        _results,
        ResultLineError,
        ("results line 1", "custom_id", "Field required"),
    ),
    "results-line-not-utf8": ServerCase(
        "results",
        _results_file(GOOD, NOT_UTF8 + b"\n"),
        _results,
        ResultLineError,
        ("results line 2", "Invalid JSON"),
        items=1,
    ),
    "results-line-of-an-unknown-shape": ServerCase(
        "results",
        _results_file(GOOD, GOOD.replace(b"good", b"g2"), b'{"outcome": "ok", "id": 7}\n'),
        _results,
        ResultLineError,
        ("results line 3", "custom_id", "result", "Field required"),
        items=2,
    ),
    "results-line-an-array": ServerCase(
        "results",
        _results_file(b"[1, 2, 3]\n"),
        _results,
        ResultLineError,
        ("results line 1", "object", "[1, 2, 3]"),
    ),
    "results-huge-malformed-line": ServerCase(
        "results",
        _results_file(GOOD, b'{"custom_id": "big", "result": "' + b"x" * HUGE + b"\n"),
        _results,
        ResultLineError,
        ("results line 2", "Invalid JSON", '{"custom_id": "big"'),
        items=1,
    ),
}


@pytest.mark.parametrize("case", SERVER_CASES.values(), ids=SERVER_CASES.keys())
async def test_a_malformed_answer_of_the_server_fails_clearly_without_hanging(
    emulator: Emulator, case: ServerCase
) -> None:
    batch_id = case.setup(emulator)
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        batches = client.messages.batches
        error, items = await asyncio.wait_for(
            _fail(lambda: case.call(batches, batch_id)), CASE_TIMEOUT
        )

    assert type(error) is case.error, repr(error)
    _check_message(error, case.names)
    assert len(items) == case.items
    assert dict(emulator.stats.requests) == {case.endpoint: case.requests}


async def test_a_server_that_does_not_speak_http_fails_clearly() -> None:
    # A shape no emulator fault makes: the port answers, but not in HTTP (a wrong port).
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with Client(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}") as client:
            error, items = await asyncio.wait_for(
                _fail(lambda: client.messages.batches.retrieve("msgbatch_x", options=NO_RETRY)),
                CASE_TIMEOUT,
            )
    finally:
        server.close()
        await server.wait_closed()

    assert type(error) is APIConnectionError, repr(error)
    _check_message(error, ("not valid HTTP",))
    assert items == []


def test_the_catalogue_holds_at_least_thirty_distinct_bad_inputs() -> None:
    assert len(CALLER_CASES) + len(SERVER_CASES) >= 30
    assert len(CALLER_CASES) >= 30


# --------------------------------------------------------------------------- not errors


async def test_a_valid_line_of_several_mebibytes_still_streams_through(emulator: Emulator) -> None:
    big = result_line("big", pad=HUGE) + b"\n"
    batch_id = emulator.add_ended_batch([GOOD, big, GOOD.replace(b"good", b"after")])
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        results = await asyncio.wait_for(
            client.messages.batches.results_streaming(batch_id).pipe(ops.to_list()), CASE_TIMEOUT
        )

    assert [r.custom_id for r in results] == ["good", "big", "after"]
    assert len(results[1].model_extra["pad"]) == HUGE  # type: ignore[index]


async def test_a_result_of_an_unknown_type_is_kept_not_rejected(emulator: Emulator) -> None:
    line = b'{"custom_id": "a", "result": {"type": "teleported", "where": "mars"}}\n'
    batch_id = emulator.add_ended_batch([line], request_counts={"succeeded": 1})
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        results = await asyncio.wait_for(
            client.messages.batches.results_streaming(batch_id).pipe(ops.to_list()), CASE_TIMEOUT
        )

    assert len(results) == 1
    assert isinstance(results[0].result, MessageBatchUnknownResult)
    assert results[0].result.type == "teleported"
    assert results[0].result.model_extra == {"where": "mars"}


async def test_an_empty_results_body_is_an_empty_file_not_an_error(emulator: Emulator) -> None:
    emulator.faults.script(
        "results", Fault.status(200, body=b"", headers={"content-type": "application/x-jsonl"})
    )
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        result = await asyncio.wait_for(
            outcome(client.messages.batches.results_streaming("msgbatch_x")), CASE_TIMEOUT
        )

    assert result.completed
    assert result.items == []
    assert result.error is None


async def test_a_2xx_html_page_error_names_its_content_type(emulator: Emulator) -> None:
    _answer("retrieve", 200, HTML_PAGE, "text/html")(emulator)
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        error, _ = await asyncio.wait_for(
            _fail(lambda: client.messages.batches.retrieve("msgbatch_x")), CASE_TIMEOUT
        )

    assert isinstance(error, APIResponseValidationError)
    assert "text/html" in str(error)
