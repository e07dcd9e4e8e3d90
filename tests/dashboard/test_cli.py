"""``rxbatches dashboard``: its URL first on stdout, the token required, Ctrl-C exits 130."""

from __future__ import annotations

import asyncio
import signal
import sys
from urllib.parse import urlsplit

import aiohttp
import pytest

from rxbatches.__main__ import main
from rxbatches.emulator import Emulator

SECRET = "sk-ant-dashboard-cli-secret-42"


async def test_it_prints_its_url_first_serves_the_page_and_exits_130_on_ctrl_c(
    emulator: Emulator,
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rxbatches",
        "dashboard",
        "--base-url",
        emulator.base_url,
        "--api-key",
        SECRET,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(4):
            url = (await process.stdout.readline()).decode().strip()
            parts = urlsplit(url)
            assert parts.hostname == "127.0.0.1"
            assert parts.path == "/"
            assert parts.query.startswith("token=")
            async with aiohttp.ClientSession() as http:
                async with http.get(url) as response:
                    assert response.status == 200
                    assert "rxbatches" in await response.text()
                async with http.get(url.split("?")[0]) as response:
                    assert response.status == 403
            process.send_signal(signal.SIGINT)
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 130
    assert out == b""
    assert b"Traceback" not in err
    assert SECRET.encode() not in url.encode() + out + err


def test_a_missing_store_is_an_error_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["dashboard", "--api-key", SECRET, "--store", "/nonexistent/job.db"])

    assert status == 1
    assert "no job store at /nonexistent/job.db" in capsys.readouterr().err


def test_a_port_out_of_range_is_a_usage_error_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["dashboard", "--api-key", SECRET, "--port", "65536"])

    assert status == 2
    err = capsys.readouterr().err
    assert "argument --port: must be an int from 0 to 65,535" in err
    assert SECRET not in err
