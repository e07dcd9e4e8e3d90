"""The API key never shows and never travels anywhere but to the configured API.

A whole lifecycle and a series of failures are run, through the library and through
the command line, while everything is captured: reprs, log records of every logger at
DEBUG, errors (message, args, repr, notes, traceback, attributes, chained causes),
emitted items and the CLI's stdout and stderr. The captured text is then searched for
the key and for fragments of it. A second server stands where a redirect or a
``results_url`` points; it must never receive a request (so never the key).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reactivex import Observable
from reactivex import operators as ops

from rxbatches import (
    APIConnectionError,
    AuthenticationError,
    BatchSnapshot,
    Client,
    InternalServerError,
    NotFoundError,
    Request,
    RequestOptions,
    ResultReceived,
)
from rxbatches.__main__ import main
from rxbatches.emulator import (
    Emulator,
    EmulatorThread,
    Fault,
    ManualClock,
    Succeed,
    default_responder,
)
from tests.client.helpers import make_requests, outcome

SECRET = "sk-ant-api03-Qv7Lm2Xw9Rt4Np6Zk8Hd3Jc5Bf1Gs0Ye-AAbb"
WRONG = "sk-ant-api03-Wr0ngK3yTx5Vb8Mq2Lp7Dn4Hs9Jf6Gc1-CCdd"
"""A key the API refuses: a refused key must not show either."""

DEADLINE = 30.0


def fragments(key: str) -> list[str]:
    """The key and pieces of it that identify it (the ``sk-ant-api03-`` prefix does not)."""
    return [key, key[-12:], key[13:25], key[20:32]]


class Evidence:
    """Everything captured during a test, searched for the keys at the end."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def text(self, label: str, value: str) -> None:
        self.texts.append((label, value))

    def obj(self, label: str, value: object) -> None:
        self.text(label, repr(value))
        self.text(label + " str", str(value))

    def error(self, label: str, error: BaseException | None) -> None:
        seen: set[int] = set()
        while error is not None and id(error) not in seen:
            seen.add(id(error))
            self.text(label, "".join(traceback.format_exception(error)))
            self.obj(label, error)
            self.text(label + " args", repr(error.args))
            self.text(label + " notes", repr(getattr(error, "__notes__", None)))
            self.text(label + " attributes", repr(vars(error)))
            error = error.__cause__ or error.__context__

    def logs(self, caplog: pytest.LogCaptureFixture) -> None:
        formatter = logging.Formatter()
        for record in caplog.records:
            self.text(f"log {record.name}", formatter.format(record))
            self.text(f"log {record.name} args", repr(record.args))
            self.text(f"log {record.name} record", repr(vars(record)))

    def assert_clean(self, *keys: str) -> None:
        assert self.texts, "nothing was captured"
        leaks = [
            (label, piece)
            for label, value in self.texts
            for key in keys
            for piece in fragments(key)
            if piece in value
        ]
        assert not leaks, f"the key shows in: {leaks[:5]}"


def _responder(request: Request) -> Succeed:
    # One request at a time (concurrency=1), a quarter second each: a "slow" batch of 200
    # runs for 50 s, so a cancel always lands mid-batch and it ends a moment later.
    if request.custom_id.startswith("slow"):
        return Succeed(latency=0.25)
    return default_responder(request)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def evidence(caplog: pytest.LogCaptureFixture) -> Evidence:
    """Captures every log record at DEBUG, aiohttp's and asyncio's included."""
    caplog.set_level(logging.DEBUG)
    for name in ("aiohttp", "aiohttp.client", "aiohttp.server", "asyncio", "rxbatches"):
        caplog.set_level(logging.DEBUG, logger=name)
    return Evidence()


async def _items(evidence: Evidence, label: str, source: Observable[Any]) -> list[Any]:
    result = await asyncio.wait_for(outcome(source), DEADLINE)
    assert result.error is None, repr(result.error)
    for item in result.items:
        evidence.obj(label, item)
    return result.items


async def _error(evidence: Evidence, label: str, source: Observable[Any]) -> BaseException:
    result = await asyncio.wait_for(outcome(source), DEADLINE)
    assert result.error is not None
    evidence.error(label, result.error)
    return result.error


# --------------------------------------------------------------------------- the library


async def test_a_whole_lifecycle_and_its_failures_never_show_the_key(
    evidence: Evidence, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    async with (
        Emulator(
            request_latency=0.001, concurrency=1, api_keys={SECRET}, responder=_responder
        ) as emu,
        Client(api_key=SECRET, base_url=emu.base_url, max_retries=2) as client,
    ):
        batches = client.messages.batches
        for label, value in [
            ("client", client),
            ("options", client.options),
            ("messages", client.messages),
            ("service", batches),
            ("raw service", batches.with_raw_response),
            ("service with options", batches.with_options(extra_headers={"x-api-key": SECRET})),
            ("request options", RequestOptions(extra_headers={"Authorization": SECRET})),
        ]:
            evidence.obj(label, value)

        # The lifecycle: create, watch, results, list, cancel, delete; raw views too.
        [batch] = await _items(evidence, "create", batches.create(make_requests(3)))
        await _items(evidence, "watch", batches.watch(batch.id, interval=0.01))
        await _items(evidence, "results", batches.results_streaming(batch.id))
        await _items(evidence, "list", batches.list())
        for raw in await _items(
            evidence, "raw retrieve", batches.with_raw_response.retrieve(batch.id)
        ):
            evidence.obj("raw headers", dict(raw.headers))
            evidence.text("raw url", raw.url)
        [slow] = await _items(evidence, "create slow", batches.create(make_requests(200, "slow")))
        await _items(evidence, "cancel", batches.cancel(slow.id))
        await _items(evidence, "watch canceled", batches.watch(slow.id, interval=0.01))
        await _items(evidence, "delete", batches.delete(slow.id))
        events = await _items(evidence, "run", batches.run(make_requests(4), interval=0.01))
        assert sum(isinstance(e, ResultReceived) for e in events) == 4

        # The failures.
        fast = RequestOptions(max_retries=0)
        emu.faults.script("retrieve", *[Fault.status(500, headers={"retry-after-ms": "1"})] * 3)
        error = await _error(evidence, "500 after retries", batches.retrieve(batch.id))
        assert isinstance(error, InternalServerError)
        error = await _error(evidence, "404", batches.retrieve("msgbatch_nope", options=fast))
        assert isinstance(error, NotFoundError)
        # Cut every time: the resumes (and their log lines) run out, then it fails.
        emu.faults.script("results", *[Fault.truncate(100)] * 10)
        error = await _error(evidence, "cut", batches.results_streaming(batch.id, options=fast))
        assert isinstance(error, APIConnectionError)
        emu.faults.clear()
        emu.faults.script("cancel", Fault.reset())
        error = await _error(evidence, "reset", batches.cancel(batch.id, options=fast))
        assert isinstance(error, APIConnectionError)
        async with Client(api_key=WRONG, base_url=emu.base_url) as refused:
            evidence.obj("client with the wrong key", refused)
            error = await _error(evidence, "401", refused.messages.batches.retrieve(batch.id))
            assert isinstance(error, AuthenticationError)
        closed = f"http://127.0.0.1:{_closed_port()}"
        async with Client(api_key=SECRET, base_url=closed, max_retries=1) as nowhere:
            error = await _error(
                evidence, "refused", nowhere.messages.batches.create(make_requests(1))
            )
            assert isinstance(error, APIConnectionError)

        # The key was used, and only where it belongs.
        assert emu.stats.last_headers["retrieve"]["x-api-key"] == WRONG
        assert emu.stats.last_headers["delete"]["x-api-key"] == SECRET

    evidence.logs(caplog)
    assert any("retrying" in text for label, text in evidence.texts if label.startswith("log"))
    captured = capsys.readouterr()
    evidence.text("stdout", captured.out)
    evidence.text("stderr", captured.err)
    evidence.assert_clean(SECRET, WRONG)


# --------------------------------------------------------------------------- the CLI


def _cli(evidence: Evidence, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    evidence.text(f"cli {argv[:2]} stdout", out)
    evidence.text(f"cli {argv[:2]} stderr", err)
    return status, out + err


@pytest.fixture
def cli_emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(
        request_latency=0.001, concurrency=1, api_keys={SECRET}, responder=_responder
    ) as emu:
        yield emu


def test_the_command_line_never_prints_the_key(
    evidence: Evidence,
    cli_emu: EmulatorThread,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", cli_emu.base_url)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    given = ("--api-key", SECRET)
    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps(r) + "\n" for r in make_requests(3)))
    slow_requests = tmp_path / "slow.jsonl"
    slow_requests.write_text("".join(json.dumps(r) + "\n" for r in make_requests(200, "slow")))

    status, out = _cli(evidence, capsys, "create", str(requests), "--json", *given)
    assert status == 0, out
    batch_id = json.loads(out)["id"]
    assert _cli(evidence, capsys, "watch", batch_id, "--interval", "0.01", *given)[0] == 0
    status, out = _cli(evidence, capsys, "results", batch_id, *given)
    assert status == 0
    assert out.count('"custom_id"') == 3
    assert _cli(evidence, capsys, "list", *given)[0] == 0
    # From here the key comes from the environment.
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    status, out = _cli(evidence, capsys, "create", str(slow_requests), "--json")
    slow_id = json.loads(out)["id"]
    assert _cli(evidence, capsys, "cancel", slow_id)[0] == 0
    assert _cli(evidence, capsys, "watch", slow_id, "--interval", "0.01")[0] == 0
    assert _cli(evidence, capsys, "delete", slow_id)[0] == 0
    for command in ([], ["create"], ["results"]):
        assert _cli(evidence, capsys, *command, "--help")[0] == 0

    # The failures: a refused key, an unknown batch, a server failing every retry, no
    # server at all, and a command line argparse rejects.
    status, out = _cli(evidence, capsys, "retrieve", batch_id, "--api-key", WRONG)
    assert (status, "authentication" in out.lower() or "401" in out) == (1, True), out
    status, out = _cli(evidence, capsys, "retrieve", "msgbatch_nope", "--not-found-grace", "0")
    assert (status, "404" in out) == (1, True), out
    cli_emu.faults.script("retrieve", *[Fault.status(500, headers={"retry-after-ms": "1"})] * 3)
    status, out = _cli(evidence, capsys, "retrieve", batch_id)
    assert (status, "500" in out) == (1, True), out
    closed = f"http://127.0.0.1:{_closed_port()}"
    status, out = _cli(evidence, capsys, "delete", batch_id, "--base-url", closed, *given)
    assert status == 1
    status, out = _cli(evidence, capsys, "--api-key", SECRET, "no-such-command", SECRET)
    assert status == 2  # a usage error
    assert cli_emu.stats.requests["retrieve"] >= 5

    evidence.logs(caplog)
    evidence.assert_clean(SECRET, WRONG)


# --------------------------------------------------------------------------- other hosts


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize(
    ("endpoint", "call"),
    [
        ("create", lambda b: b.create(make_requests(1))),
        ("retrieve", lambda b: b.retrieve("msgbatch_x")),
        ("list", lambda b: b.list()),
        ("cancel", lambda b: b.cancel("msgbatch_x")),
        ("delete", lambda b: b.delete("msgbatch_x")),
        ("results", lambda b: b.results_streaming("msgbatch_x")),
    ],
    ids=["create", "retrieve", "list", "cancel", "delete", "results"],
)
async def test_a_redirect_to_another_origin_never_receives_the_key(
    emulator: Emulator, endpoint: str, call: Any, status: int, evidence: Evidence
) -> None:
    async with Emulator() as elsewhere:
        target = f"{elsewhere.base_url}/v1/messages/batches/msgbatch_x"
        emulator.faults.script(endpoint, Fault.status(status, headers={"location": target}))
        async with Client(api_key=SECRET, base_url=emulator.base_url) as client:
            error = await _error(evidence, "redirect", call(client.messages.batches))

        assert "redirect" in str(error)
        assert dict(elsewhere.stats.requests) == {}
        assert elsewhere.stats.last_headers == {}
        assert emulator.stats.requests[endpoint] == 1
        assert emulator.stats.last_headers[endpoint]["x-api-key"] == SECRET
    evidence.assert_clean(SECRET)


async def test_a_results_url_on_another_origin_never_receives_the_key() -> None:
    clock = ManualClock()
    async with (
        Emulator(clock=clock, request_latency=1.0) as api,
        Emulator() as elsewhere,
        Client(api_key=SECRET, base_url=api.base_url) as client,
    ):
        job: Observable[Any] = client.messages.batches.run(make_requests(3), interval=0.01)
        events = asyncio.ensure_future(asyncio.wait_for(job.pipe(ops.to_list()), DEADLINE))
        # The job watches its batch, in progress while the clock stands still.
        await api.wait_for(lambda: api.stats.requests["retrieve"] >= 1)
        [batch_id] = api.batch_ids()
        # With no await in between (one loop): end the batch, and make the next polls
        # answer with a results_url elsewhere.
        clock.advance(60.0)
        wire = api.batch(batch_id).to_wire()
        wire["results_url"] = f"{elsewhere.base_url}/v1/messages/batches/{batch_id}/results"
        assert wire["processing_status"] == "ended"
        body = json.dumps(wire).encode()
        api.faults.script("retrieve", *[Fault.status(200, body=body)] * 3)
        finished: list[Any] = await events

        snapshots = [e.batch for e in finished if isinstance(e, BatchSnapshot)]
        assert snapshots[-1].results_url == wire["results_url"]
        assert sorted(e.response.custom_id for e in finished if isinstance(e, ResultReceived)) == [
            "r0",
            "r1",
            "r2",
        ]
        assert api.stats.requests["results"] == 1
        assert api.stats.last_headers["results"]["x-api-key"] == SECRET
        assert dict(elsewhere.stats.requests) == {}
        assert elsewhere.stats.last_headers == {}


# --------------------------------------------------------------------------- echoes

_ENVELOPE = '{{"type": "error", "error": {{"type": "authentication_error", "message": "{}"}}}}'


@pytest.mark.parametrize(
    ("endpoint", "fault"),
    [
        pytest.param(
            "retrieve",
            Fault.status(401, body=_ENVELOPE.format(f"invalid x-api-key {SECRET}").encode()),
            id="401-envelope",
        ),
        pytest.param(
            "retrieve",
            Fault.status(502, body=f"<pre>x-api-key: {SECRET}</pre>".encode()),
            id="502-html-page",
        ),
        pytest.param(
            "retrieve",
            Fault.status(302, headers={"location": f"https://elsewhere.test/?key={SECRET}"}),
            id="redirect-location",
        ),
        pytest.param(
            "retrieve", Fault.status(200, body=f'{{"id": "{SECRET}"}}'.encode()), id="200-bad-batch"
        ),
        pytest.param(
            "results",
            Fault.status(200, body=f"<pre>x-api-key: {SECRET}</pre>\n".encode()),
            id="results-html-page",
        ),
        pytest.param(
            "results",
            Fault.status(200, body=f'{{"custom_id": "{SECRET}"}}\n'.encode()),
            id="results-bad-line",
        ),
    ],
)
async def test_an_answer_echoing_the_key_does_not_put_it_in_the_error(
    emulator: Emulator, endpoint: str, fault: Fault, evidence: Evidence
) -> None:
    emulator.faults.script(endpoint, fault)
    fast = RequestOptions(max_retries=0)
    async with Client(api_key=SECRET, base_url=emulator.base_url) as client:
        batches = client.messages.batches
        source = (
            batches.retrieve("msgbatch_x", options=fast)
            if endpoint == "retrieve"
            else batches.results_streaming("msgbatch_x", options=fast)
        )
        error = await asyncio.wait_for(outcome(source), DEADLINE)

    assert error.error is not None
    for text in [str(error.error), repr(error.error), repr(error.error.args)]:
        evidence.text("echo", text)
    evidence.assert_clean(SECRET)
