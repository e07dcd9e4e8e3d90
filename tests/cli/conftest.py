"""Fixtures of the CLI tests: an emulator on its own thread and an environment pointing at it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from rxbatches.emulator import EmulatorThread
from tests.conftest import API_KEY


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    """A fresh emulator whose small batches end in well under a second."""
    with EmulatorThread(request_latency=0.001) as emu:
        yield emu


@pytest.fixture
def cli_env(emu: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point the in-process CLI at ``emu`` through the environment; returns a subprocess env."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


PYTHON = sys.executable
"""The interpreter the subprocess tests run ``-m rxbatches`` with."""


@pytest.fixture
def slow_emu() -> Iterator[EmulatorThread]:
    """An emulator whose batches stay ``in_progress`` for the whole test."""
    with EmulatorThread(request_latency=10_000) as emu:
        yield emu


@pytest.fixture
def serial_emu() -> Iterator[EmulatorThread]:
    """An emulator processing one request at a time, 0.2 s each: a cancel lands mid-batch."""
    with EmulatorThread(request_latency=0.2, concurrency=1) as emu:
        yield emu
