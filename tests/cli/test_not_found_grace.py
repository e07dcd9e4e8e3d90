"""The 404 grace of every command that takes an id: a batch just created elsewhere is waited for."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rxbatches import Client, MessageBatch
from rxbatches.__main__ import main
from rxbatches.emulator import EmulatorThread
from tests.conftest import API_KEY

from .helpers import make_requests


@pytest.fixture
def lagging_emu() -> Iterator[EmulatorThread]:
    """An emulator where a new batch answers 404 for its first 0.4 s, as the API may."""
    with EmulatorThread(request_latency=0.001, propagation_delay=0.4) as emu:
        yield emu


def _create(emu: EmulatorThread, n: int) -> MessageBatch:
    # Another client than the command's: as if made by another process.
    with Client(api_key=API_KEY, base_url=emu.base_url) as client:
        return client.messages.batches.create(make_requests(n)).run()


@pytest.mark.parametrize("command", ["retrieve", "results", "delete", "watch"])
def test_a_command_right_after_a_create_waits_for_the_batch(
    lagging_emu: EmulatorThread,
    monkeypatch: pytest.MonkeyPatch,
    cli_env: dict[str, str],
    command: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", lagging_emu.base_url)
    batch = _create(lagging_emu, 2)  # ends at once; visible only after 0.4 s

    status = main(
        [command, batch.id, "--interval", "0.05"] if command == "watch" else [command, batch.id]
    )

    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert batch.id in captured.out or command == "results"
    assert (
        f"{command}: {batch.id} not found (404) yet; a batch just created can take a moment"
        " to appear: asking again for" in captured.err
    )
    assert captured.err.count("not found (404) yet") == 1  # said once, not at each ask
    assert lagging_emu.stats.requests["retrieve" if command == "watch" else command] >= 2


def test_cancel_right_after_a_create_waits_for_the_batch(
    monkeypatch: pytest.MonkeyPatch, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with EmulatorThread(request_latency=10_000, propagation_delay=0.4) as emu:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
        batch = _create(emu, 2)

        status = main(["cancel", batch.id, "--quiet"])

        captured = capsys.readouterr()
        assert status == 0
        assert "canceling" in captured.out
        assert captured.err == ""  # --quiet: no word about the wait
        assert emu.stats.requests["cancel"] >= 2


def test_a_zero_grace_reports_the_404_of_a_new_batch_at_once(
    lagging_emu: EmulatorThread,
    monkeypatch: pytest.MonkeyPatch,
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", lagging_emu.base_url)
    batch = _create(lagging_emu, 1)

    status = main(["retrieve", batch.id, "--not-found-grace", "0"])

    assert status == 1
    assert capsys.readouterr().err.startswith("error: 404")
    assert lagging_emu.stats.requests["retrieve"] == 1
