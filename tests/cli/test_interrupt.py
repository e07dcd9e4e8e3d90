"""Ctrl-C in-process: the subscription is disposed, the client closed, exit status 130."""

from __future__ import annotations

import _thread
import gc
import threading

import pytest

from rxbatches.__main__ import main
from rxbatches.emulator import EmulatorThread

from .helpers import create_batch


def _loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "rxbatches-loop" and t.is_alive()]


def test_ctrl_c_during_watch_closes_the_client_and_returns_130(
    slow_emu: EmulatorThread,
    monkeypatch: pytest.MonkeyPatch,
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", slow_emu.base_url)
    batch = create_batch(slow_emu, 3, ended=False)
    # Threads of clients from earlier tests may still be winding down: track only new ones.
    before = set(_loop_threads())

    def interrupt_once_polling() -> None:
        slow_emu.wait_for(lambda: slow_emu.stats.requests["retrieve"] >= 2, timeout=10)
        _thread.interrupt_main()  # what Ctrl-C does: KeyboardInterrupt in the main thread

    helper = threading.Thread(target=interrupt_once_polling)
    helper.start()
    status = main(["watch", batch.id, "--interval", "0.01"])
    helper.join()
    # A poll already on the wire when Ctrl-C came may still land: one round trip lets it.
    create_batch(slow_emu, 1, ended=False)
    polls = slow_emu.stats.requests["retrieve"]
    gc.collect()  # an unclosed session would warn now (warnings are errors)

    captured = capsys.readouterr()
    assert status == 130
    assert "Traceback" not in captured.err
    assert captured.err.endswith("interrupted\n")
    assert set(_loop_threads()) <= before  # the client's loop thread was stopped
    # Disposed: no poll goes out after the interrupt (another round trip proves it).
    create_batch(slow_emu, 1, ended=False)
    assert slow_emu.stats.requests["retrieve"] == polls
