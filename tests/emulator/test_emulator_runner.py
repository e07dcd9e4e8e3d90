"""Running the emulator in a thread, and as ``python -m rxbatches emulator``."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import pytest

from rxbatches.__main__ import build_parser, main
from rxbatches.emulator import Emulator, EmulatorThread, ManualClock
from tests.conftest import API_KEY

HEADERS = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
PATH = "/v1/messages/batches"


def fetch(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=HEADERS)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def one_request() -> dict[str, Any]:
    return {
        "requests": [
            {
                "custom_id": "only",
                "params": {
                    "model": "m",
                    "max_tokens": 8,
                    "messages": [{"role": "user", "content": "hi"}],
                },
            }
        ]
    }


def test_emulator_thread_serves_synchronous_callers() -> None:
    with EmulatorThread(request_latency=0.001) as emu:
        assert emu.base_url.startswith("http://127.0.0.1:")
        status, batch = fetch(emu.base_url + PATH, "POST", one_request())
        assert status == 200
        emu.wait_for(lambda: emu.batch(batch["id"]).ended, timeout=5)
        assert emu.batch_ids() == [batch["id"]]
        status, got = fetch(f"{emu.base_url}{PATH}/{batch['id']}")
        assert (status, got["request_counts"]["succeeded"]) == (200, 1)
        assert emu.stats.requests["create"] == 1
        emu.reset()
        assert emu.batch_ids() == []
        seeded = emu.add_ended_batch([b'{"custom_id":"a","result":{"type":"expired"}}\n'])
        assert emu.batch(seeded).request_counts.expired == 1
    with pytest.raises(RuntimeError, match="not running"):
        emu.wait_for(lambda: True)


def test_emulator_thread_wakes_wait_for_on_manual_clock_advance() -> None:
    clock = ManualClock()
    with EmulatorThread(clock=clock, request_latency=60.0) as emu:
        _, batch = fetch(emu.base_url + PATH, "POST", one_request())
        with pytest.raises(TimeoutError):
            emu.wait_for(lambda: emu.batch(batch["id"]).ended, timeout=0.05)
        clock.advance(60)
        emu.wait_for(lambda: emu.batch(batch["id"]).ended, timeout=5)


def test_emulator_thread_start_failure_is_raised_in_the_caller() -> None:
    with EmulatorThread() as first:
        port = int(first.base_url.rsplit(":", 1)[1])
        with pytest.raises(OSError, match=str(port)):
            EmulatorThread(port=port).start()


async def test_emulator_close_is_idempotent_and_base_url_needs_a_running_emulator() -> None:
    emu = Emulator()
    with pytest.raises(RuntimeError, match="not running"):
        _ = emu.base_url
    async with emu:
        assert emu.base_url
    await emu.close()
    with pytest.raises(RuntimeError, match="not running"):
        _ = emu.base_url


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_cli_prints_its_url_serves_and_exits_0_on_signal(sig: signal.Signals) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rxbatches",
        "emulator",
        "--port",
        "0",
        "--speed",
        "10",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip()
        assert line.startswith("http://127.0.0.1:")
        status, page = await asyncio.to_thread(fetch, line + PATH)
        assert (status, page["data"]) == (200, [])
        proc.send_signal(sig)
        _, stderr = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, stderr.decode()
        assert API_KEY not in stderr.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_cli_rejects_a_bad_speed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--speed", "0"]) == 2
    assert "speed" in capsys.readouterr().err


def test_cli_requires_a_subcommand() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([])
    args = build_parser().parse_args(["emulator", "--port", "8787", "--latency", "0.5"])
    assert (args.command, args.port, args.latency, args.host) == (
        "emulator",
        8787,
        0.5,
        "127.0.0.1",
    )
