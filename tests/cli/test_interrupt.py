"""Ctrl-C in-process: the subscription is disposed, the client closed, exit status 130."""

from __future__ import annotations

import _thread
import gc
import signal
import threading
from typing import Any

import pytest
import reactivex
from reactivex.disposable import Disposable

from rxbatches.__main__ import main
from rxbatches._cli._run import drain
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


def test_drain_restores_the_sigint_handler_it_replaced() -> None:
    before = signal.getsignal(signal.SIGINT)
    seen: list[int] = []
    drain(reactivex.of(1, 2, 3), seen.append)
    assert seen == [1, 2, 3]
    assert signal.getsignal(signal.SIGINT) is before


def test_an_interrupt_during_drain_disposes_the_subscription_and_raises() -> None:
    disposed = threading.Event()

    def never_ends(observer: Any, scheduler: Any = None) -> Disposable:
        _thread.interrupt_main()  # Ctrl-C while the subscription is live
        return Disposable(disposed.set)

    with pytest.raises(KeyboardInterrupt):
        drain(reactivex.create(never_ends))
    assert disposed.is_set()


def test_drain_off_the_main_thread_leaves_signals_alone() -> None:
    # signal.signal() raises off the main thread: drain must not try it there.
    results: list[object] = []

    def work() -> None:
        try:
            seen: list[int] = []
            drain(reactivex.of(1, 2), seen.append)
            results.append(seen)
        except BaseException as exc:  # reported below, not lost in the thread
            results.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=10)
    assert results == [[1, 2]]


def test_an_interrupt_that_lands_in_a_finalizer_is_not_lost() -> None:
    # Python's default handler would raise KeyboardInterrupt inside __del__, where it is
    # printed as "ignored" and dropped: the command would go on waiting.
    class InterruptsWhenCollected:
        def __del__(self) -> None:
            _thread.interrupt_main()
            for _ in range(1000):  # the pending interrupt is handled here, in __del__
                pass

    def finalizer_then_a_long_wait(observer: Any, scheduler: Any = None) -> Disposable:
        InterruptsWhenCollected()  # collected at once: its __del__ runs now
        # Ends the stream if the interrupt was lost, so that the test fails, not hangs.
        fallback = threading.Timer(5.0, observer.on_completed)
        fallback.start()
        return Disposable(fallback.cancel)

    with pytest.raises(KeyboardInterrupt):
        drain(reactivex.create(finalizer_then_a_long_wait))
