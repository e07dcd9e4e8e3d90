"""A reactivex scheduler for Tkinter that may be used from any thread.

``ops.observe_on(TkThreadSafeScheduler(root))`` moves a stream's items onto the Tk thread,
whichever thread emits them. reactivex's own ``TkinterScheduler`` calls ``root.after``
from the emitting thread, which Tk does not allow off its own thread; this one puts each
action in a thread-safe queue instead, and the Tk thread drains it with ``root.after``.
Used by ``reactive_ui.py``; not an example itself.
"""

from __future__ import annotations

import queue
import tkinter as tk
from collections.abc import Callable
from typing import TypeVar

from reactivex import abc, typing
from reactivex.disposable import CompositeDisposable, Disposable, SingleAssignmentDisposable
from reactivex.scheduler.periodicscheduler import PeriodicScheduler

__all__ = ["TkThreadSafeScheduler"]

_TState = TypeVar("_TState")


class TkThreadSafeScheduler(PeriodicScheduler):
    """A reactivex scheduler that runs actions on the Tk thread, scheduled from any thread.

    Create it on the Tk thread: it drains its queue every ``poll_ms`` milliseconds with
    ``root.after`` until :meth:`close`.
    """

    def __init__(self, root: tk.Misc, poll_ms: int = 15) -> None:
        super().__init__()
        self._root = root
        self._poll_ms = poll_ms
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._closed = False
        self._pump()

    def _pump(self) -> None:
        if self._closed:
            return
        # Rescheduled first: an action that raises (Tk reports it) must not stop the pump.
        self._root.after(self._poll_ms, self._pump)
        while True:
            try:
                run = self._queue.get_nowait()
            except queue.Empty:
                return
            run()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Stop draining the queue (call it on the Tk thread, before destroying the root)."""
        self._closed = True

    def schedule(
        self, action: typing.ScheduledAction[_TState], state: _TState | None = None
    ) -> abc.DisposableBase:
        """Run ``action`` on the Tk thread as soon as possible."""
        return self.schedule_relative(0.0, action, state)

    def schedule_relative(
        self,
        duetime: typing.RelativeTime,
        action: typing.ScheduledAction[_TState],
        state: _TState | None = None,
    ) -> abc.DisposableBase:
        """Run ``action`` on the Tk thread after ``duetime``."""
        inner = SingleAssignmentDisposable()
        cancelled = False
        msecs = max(0, int(self.to_seconds(duetime) * 1000.0))

        def invoke() -> None:
            if not cancelled and not self._closed:
                inner.disposable = self.invoke_action(action, state=state)

        def on_tk_thread() -> None:
            if msecs == 0:
                invoke()
            else:
                self._root.after(msecs, invoke)

        def cancel() -> None:
            nonlocal cancelled
            cancelled = True  # best effort, as for every scheduler: checked before running

        self._queue.put(on_tk_thread)
        return CompositeDisposable(inner, Disposable(cancel))

    def schedule_absolute(
        self,
        duetime: typing.AbsoluteTime,
        action: typing.ScheduledAction[_TState],
        state: _TState | None = None,
    ) -> abc.DisposableBase:
        """Run ``action`` on the Tk thread at ``duetime``."""
        return self.schedule_relative(self.to_datetime(duetime) - self.now, action, state)
