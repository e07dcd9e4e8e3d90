"""Shared fixtures: the hypothesis profiles and an emulator on 127.0.0.1, port 0."""

from __future__ import annotations

import atexit
import os
import sys
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from rxbatches.emulator import Emulator, EmulatorThread

# tox's py311 run. 40, not hypothesis's 100: the slowest properties (tests/test_jsonl.py's
# chunkings) took 4.7-5.5 s at 60 examples, over the 5 s a test may take.
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
# tox's other runs (py312, py313, mindeps) repeat every test with fewer examples each:
# their own random examples add to py311's (100 a property in all), and the four runs fit
# the time the README gives.
settings.register_profile(
    "ci-quick",
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

REFERENCE_DIR = Path(
    os.environ.get("RXBATCHES_REFERENCE_DIR")
    or Path(__file__).resolve().parents[2] / "shared" / "reference"
)
"""Where the shared reference material lives (beside the checkout, or $RXBATCHES_REFERENCE_DIR)."""

API_KEY = "sk-ant-test-0123456789abcdef"
"""The key the tests use; the emulator accepts any non-empty key by default."""


def pytest_configure(config: pytest.Config) -> None:
    """Make a ResourceWarning raised after the last test fail the run."""
    atexit.register(_fail_on_resource_warnings_at_exit)


def _fail_on_resource_warnings_at_exit() -> None:
    # During a test, filterwarnings = error makes a finalizer's ResourceWarning an
    # unraisable exception, which pytest reports as a failure. What is still alive when
    # the session ends (a module global, a forgotten client) is freed later, while the
    # interpreter shuts down, where nothing reports it but a line on stderr: this atexit
    # hook (run before that teardown) makes such a warning end the process with status 1.
    warnings.simplefilter("error", ResourceWarning)
    previous = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        previous(unraisable)
        if isinstance(unraisable.exc_value, ResourceWarning):
            sys.stdout.flush()
            print("error: a ResourceWarning after the last test (above)", file=sys.stderr)
            sys.stderr.flush()
            os._exit(1)

    sys.unraisablehook = hook


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """A fresh emulator on 127.0.0.1 (free port) whose small batches end in well under a second."""
    from rxbatches.emulator import Emulator

    async with Emulator(request_latency=0.001) as emu:
        yield emu


@contextmanager
def emulator_for_cli(monkeypatch: pytest.MonkeyPatch, **options: Any) -> Iterator[EmulatorThread]:
    """An emulator thread (``options`` as ``EmulatorThread``'s) that the in-process CLI uses.

    Its URL and :data:`API_KEY` are set in the environment (``ANTHROPIC_BASE_URL``,
    ``ANTHROPIC_API_KEY``) for as long as the test lasts.
    """
    from rxbatches.emulator import EmulatorThread

    with EmulatorThread(**options) as emu:
        monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
        yield emu
