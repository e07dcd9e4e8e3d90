"""``rxbatches run --dashboard``: the job's dashboard, served while the run lasts.

The runs under a :class:`ManualClock` emulator are subprocesses (their stdout is read
line by line, Ctrl-C is a real SIGINT); the quick ones run in process, where pytest's
``filterwarnings = error`` turns a socket or session left open into a failure.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from rxbatches._cli._app import main
from rxbatches.emulator import Emulator, EmulatorThread, ManualClock
from tests.conftest import API_KEY, emulator_for_cli
from tests.dashboard.helpers import states
from tests.durable.helpers import requests, write_jsonl

SECRET = "sk-ant-run-dashboard-secret-42"


def _refused(url: str) -> bool:
    """Whether nothing listens at ``url``'s address any more."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True


async def _start_run(
    source: Path, store: Path, emu: Emulator, *options: str
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error::ResourceWarning",
        "-m",
        "rxbatches",
        "run",
        str(source),
        "--store",
        str(store),
        "--dashboard",
        *options,
        "--interval",
        "0.05",
        "--base-url",
        emu.base_url,
        "--api-key",
        SECRET,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")},
    )


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
        await process.wait()


async def test_it_serves_the_jobs_dashboard_while_it_runs_then_exits_with_the_run(
    tmp_path: Path,
) -> None:
    source, store = tmp_path / "requests.jsonl", tmp_path / "job.db"
    write_jsonl(source, requests(30))
    clock = ManualClock()  # the batches end when the test says so
    async with Emulator(clock=clock, request_latency=0.001) as emu:
        # One batch, made at once (a later one would wait for a clock that stands still).
        process = await _start_run(source, store, emu)
        assert process.stdout is not None
        seen: list[dict[str, Any]] = []
        advanced = False
        try:
            async with asyncio.timeout(4.5):
                url = (await process.stdout.readline()).decode().strip()
                parts = urlsplit(url)
                assert (parts.hostname, parts.path) == ("127.0.0.1", "/")
                assert parts.query.startswith("token=")
                # The batch is made once every request is in the store.
                await emu.wait_for(lambda: len(emu.batch_ids()) == 1)
                events = f"{url.split('?')[0]}events?{parts.query}"
                async with aiohttp.ClientSession() as http:
                    async with http.get(url) as response:
                        assert response.status == 200
                        assert "rxbatches" in await response.text()
                    async with http.get(url.split("?")[0]) as response:
                        assert response.status == 403
                    async with http.get(events) as response:
                        assert response.status == 200
                        async for state in states(response):
                            seen.append(state)
                            if state["stores"] and not advanced:
                                # The run's store, read while the run holds its lock.
                                (view,) = state["stores"]
                                assert view["name"] == "job.db"
                                assert view["summary"]["requests"] == 30
                                clock.advance(3600)  # now every batch can end
                                advanced = True
                        # The stream ended: the run is over and its server shut down.
                    out, err = await process.communicate()
        finally:
            await _stop(process)
    assert process.returncode == 0, err.decode()
    assert advanced, "no state showed the job's store"
    (batch,) = emu.batch_ids()
    assert batch in {b["id"] for s in seen for b in s["batches"]}
    assert all("error" not in view for s in seen for view in s["stores"])
    assert out == b""  # the URL was the only line on stdout
    assert b"run: done: 30 requests: 30 succeeded" in err
    assert b"Traceback" not in err
    assert b"ResourceWarning" not in err
    assert SECRET.encode() not in url.encode() + out + err + repr(seen).encode()
    assert _refused(url)


async def test_ctrl_c_stops_the_run_and_its_dashboard_and_the_job_resumes(
    tmp_path: Path,
) -> None:
    source, store = tmp_path / "requests.jsonl", tmp_path / "job.db"
    write_jsonl(source, requests(20))
    clock = ManualClock()
    async with Emulator(clock=clock, request_latency=0.001) as emu:
        process = await _start_run(source, store, emu, "--batch-size", "10")
        assert process.stdout is not None
        try:
            async with asyncio.timeout(4.5):
                url = (await process.stdout.readline()).decode().strip()
                await emu.wait_for(lambda: len(emu.batch_ids()) == 2)
                async with aiohttp.ClientSession() as http, http.get(url) as response:
                    assert response.status == 200
                process.send_signal(signal.SIGINT)
                out, err = await process.communicate()
                assert process.returncode == 130, err.decode()
                assert _refused(url)
                made = emu.batch_ids()
                clock.advance(3600)
                # Continued without the dashboard: the two batches are followed, none made.
                status = await asyncio.to_thread(
                    main,
                    [
                        "run",
                        str(source),
                        "--store",
                        str(store),
                        "--interval",
                        "0.05",
                        "--base-url",
                        emu.base_url,
                        "--api-key",
                        SECRET,
                        "--quiet",
                    ],
                )
        finally:
            await _stop(process)
        assert status == 0
        assert emu.batch_ids() == made
    assert out == b""
    assert b"interrupted" in err
    assert b"Traceback" not in err
    assert b"ResourceWarning" not in err
    assert SECRET.encode() not in out + err


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorThread]:
    with emulator_for_cli(monkeypatch, request_latency=0.001) as emu:
        yield emu


def test_in_process_the_server_is_gone_when_main_returns(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "requests.jsonl"
    write_jsonl(source, requests(12))
    store = str(tmp_path / "job.db")

    status = main(["run", str(source), "--store", store, "--dashboard", "--interval", "0.02"])

    out, err = capsys.readouterr()
    assert status == 0, err
    (url,) = out.splitlines()
    assert url.startswith("http://127.0.0.1:")
    assert "/?token=" in url
    assert "done: 12 requests: 12 succeeded" in err
    assert API_KEY not in out + err
    assert _refused(url)


def test_a_failing_run_stops_its_dashboard_and_exits_1(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "requests.jsonl"
    bad = requests(3)
    bad[2]["custom_id"] = "not valid!"
    write_jsonl(source, bad)

    status = main(["run", str(source), "--store", str(tmp_path / "job.db"), "--dashboard"])

    out, err = capsys.readouterr()
    assert status == 1
    assert "requests[2].custom_id" in err
    (url,) = out.splitlines()
    assert _refused(url)
    assert emu.batch_ids() == []
    assert API_KEY not in out + err


def test_a_port_in_use_is_an_error_before_the_job_starts(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "requests.jsonl"
    write_jsonl(source, requests(3))
    store = tmp_path / "job.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        status = main(
            ["run", str(source), "--store", str(store), "--dashboard", "--dashboard-port", port]
        )

    out, err = capsys.readouterr()
    assert status == 1
    assert err.startswith("error: ")
    assert port in err
    assert out == ""
    assert not store.exists()
    assert emu.batch_ids() == []


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--dashboard-port", "8790"], "argument --dashboard-port: needs --dashboard"),
        (["--dashboard-host", "127.0.0.1"], "argument --dashboard-host: needs --dashboard"),
        (["--dashboard", "--dashboard-port", "65536"], "argument --dashboard-port: must be"),
        (["--dashboard", "--dashboard-port", "http"], "argument --dashboard-port: not a whole"),
        (["--dashboard-port", "-1"], "argument --dashboard-port: must be"),
    ],
)
def test_a_misused_dashboard_option_is_a_usage_error_naming_it(
    options: list[str],
    named: str,
    emu: EmulatorThread,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "requests.jsonl"
    write_jsonl(source, requests(3))
    store = tmp_path / "job.db"

    status = main(["run", str(source), "--store", str(store), *options])

    out, err = capsys.readouterr()
    assert status == 2
    assert err.startswith("error: ")
    assert named in err
    assert "rxbatches run --help" in err
    assert out == ""
    assert not store.exists()
    assert emu.batch_ids() == []
