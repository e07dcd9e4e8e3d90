"""Runtimes: what one client holds on each event loop it works on, and its one close.

A :class:`Runtime` belongs to one event loop. It holds that loop's HTTP session (made
by the HTTP layer on first use, and opaque here), the subscriptions whose tasks run on
that loop, and a closed flag. :class:`Runtimes` is the client's set of them, plus the
background loop thread used by subscriptions made outside asyncio.

Every subscription goes through :meth:`Runtime.start`, and the close routine
(:meth:`Runtimes.close` / :meth:`Runtimes.aclose`, used by ``close()``, ``aclose()``,
``with`` and ``async with``) marks everything closed under the same lock. So a
subscription is either refused at once with :class:`~rxbatches.ClientClosedError`,
or registered before the close and then ends with exactly one terminal
notification: its task is cancelled on its own loop (and reports the close), or, if
its task never started or its loop is gone, the close routine reports it.

This is the only place that starts, stops or closes event loops and sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any, Protocol

from reactivex import abc
from reactivex.scheduler import ImmediateScheduler, TrampolineScheduler
from reactivex.scheduler.eventloop import AsyncIOScheduler

from .._base.errors import APIConnectionError, ClientClosedError
from .backpressure import Demand
from .loops import running_loop

__all__ = ["Runtime", "Runtimes", "Session", "Subscription", "closed_error"]

CLOSE_TIMEOUT = 10.0
"""Seconds the close routine waits for one loop to cancel its tasks and close its session."""

# Schedulers that do not mean "run me elsewhere": the subscription stays on this thread's loop.
_LOCAL_SCHEDULERS = (AsyncIOScheduler, TrampolineScheduler, ImmediateScheduler)


def closed_error(detail: str = "") -> ClientClosedError:
    """The error of a subscription or request refused or interrupted by ``close()``."""
    return ClientClosedError("this rxbatches Client is closed" + (f": {detail}" if detail else ""))


def _loop_stopped_error() -> APIConnectionError:
    return APIConnectionError(
        "the request was aborted: the event loop it ran on stopped before it finished"
    )


class Session(Protocol):
    """What a runtime needs of the HTTP layer's session: to close it on its loop."""

    @property
    def closed(self) -> bool:
        """Whether the session is closed."""

    async def close(self) -> None:
        """Close the session and its connections."""


class Subscription:
    """One subscription's state, shared by its task, its disposable and the close routine."""

    __slots__ = ("__weakref__", "demand", "disposed", "done", "observer", "runtime", "task")

    def __init__(
        self, runtime: Runtime, observer: abc.ObserverBase[Any], demand: Demand | None = None
    ) -> None:
        self.runtime = runtime
        self.observer = observer
        self.demand = demand
        """The bounded consumer's window this subscription's items wait on, if any."""
        self.task: asyncio.Task[None] | None = None
        self.disposed = False
        self.done = False

    def finish(self, signal: Callable[..., None], *args: Any) -> None:
        """Send the one terminal notification (``signal(*args)``), unless one was sent."""
        with self.runtime.lock:
            if self.done or self.disposed:
                return
            self.done = True
        try:
            signal(*args)
        except Exception as exc:  # an observer without on_error re-raises: report, as asyncio would
            loop = self.runtime.loop
            if not loop.is_closed():
                loop.call_exception_handler(
                    {
                        "message": "an rxbatches observer raised while handling a notification",
                        "exception": exc,
                    }
                )

    def fail(self, error: Exception) -> None:
        """End the subscription with ``error`` (once)."""
        self.finish(self.observer.on_error, error)

    def dispose(self) -> None:
        """Dispose: cancel the task on its loop; nothing is emitted afterwards."""
        if self.disposed or self.done:
            return
        self.disposed = True
        task, loop = self.task, self.runtime.loop
        if running_loop() is loop:
            # Inside our own task (a downstream take(n) disposing from on_next), the
            # emit loop sees the flag; cancelling would interrupt its cleanup.
            if task is not None and asyncio.current_task() is not task:
                task.cancel()
        else:
            with contextlib.suppress(RuntimeError):  # loop closed: nothing left to cancel
                loop.call_soon_threadsafe(self._cancel)

    def _cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


class Runtime:
    """One client's share of one event loop: its session, its subscriptions, closed or not."""

    def __init__(self, loop: asyncio.AbstractEventLoop, lock: threading.RLock) -> None:
        self.loop = loop
        self.lock = lock
        """The lock of the client's :class:`Runtimes`, taken by start, finish and close."""
        self.closed = False
        self.session: Session | None = None
        self._guard: AsyncGenerator[None, None] | None = None
        self._subs: set[Subscription] = set()

    def __repr__(self) -> str:
        return f"<Runtime subscriptions={len(self._subs)} closed={self.closed}>"

    # ----------------------------------------------------------------- subscriptions

    def start(self, sub: Subscription, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``work()`` as ``sub``'s task on this loop, or refuse it if closed.

        From this loop's thread the task is created at once; from any other thread it
        is created by a callback queued on the loop.
        """
        with self.lock:
            refused = self.closed
            if not refused:
                self._subs.add(sub)
        if refused:
            sub.fail(closed_error())
            return
        if running_loop() is self.loop:
            self._create_task(sub, work)
            return
        try:
            self.loop.call_soon_threadsafe(self._create_task, sub, work)
        except RuntimeError:  # the loop is closed: no task can ever run there
            self._forget(sub)
            sub.fail(closed_error() if self.closed else _loop_stopped_error())

    def _create_task(
        self, sub: Subscription, work: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        with self.lock:
            if sub.done or sub.disposed:  # closed (and told) or disposed before it started
                self._subs.discard(sub)
                return
            task = self.loop.create_task(work())
            sub.task = task
        task.add_done_callback(lambda t: self._task_done(sub, t))

    def _task_done(self, sub: Subscription, task: asyncio.Task[None]) -> None:
        self._forget(sub)
        if not sub.done and not sub.disposed:
            # Cancelled before its first step (so its own handler never ran), or a
            # cancellation swallowed somewhere: still exactly one terminal notification.
            sub.fail(self.abort_error())

    def _forget(self, sub: Subscription) -> None:
        with self.lock:
            self._subs.discard(sub)

    def abort_error(self) -> APIConnectionError:
        """The error of a task cancelled by something other than its subscriber."""
        return closed_error("the request was aborted") if self.closed else _loop_stopped_error()

    # ----------------------------------------------------------------- session

    async def attach_session(self, session: Session) -> None:
        """Keep ``session`` as this loop's: closed by the close routine or with the loop.

        The session is also registered as an async generator of the loop, so a loop
        shut down by ``asyncio.run`` (or any ``asyncio.Runner``) closes it even when
        the client is never closed.
        """
        guard = self._session_guard(session)
        self.session, self._guard = session, guard
        # Its first step registers the guard with the loop's async-generator hooks.
        await anext(guard)

    async def _session_guard(self, session: Session) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            if self.session is session:
                self.session = None
            if not session.closed:
                await session.close()

    # ----------------------------------------------------------------- closing

    def cancel_all(self) -> list[asyncio.Task[None]]:
        """On this loop's thread: end every subscription of this runtime.

        A subscription whose task never started is told at once; every task is
        cancelled (it reports the close itself). Returns the tasks to wait for.
        """
        with self.lock:
            subs = list(self._subs)
        current = asyncio.current_task(self.loop) if running_loop() is self.loop else None
        tasks: list[asyncio.Task[None]] = []
        for sub in subs:
            task = sub.task
            if task is None:
                self._forget(sub)
                sub.fail(closed_error())
            elif not task.done():
                task.cancel()
                if task is not current:
                    tasks.append(task)
        return tasks

    async def shutdown(self) -> None:
        """On this loop: cancel every task of this runtime, wait for them, close the session."""
        tasks = self.cancel_all()
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)
        await self.close_session()

    async def close_session(self) -> None:
        """On this loop: close the session, if one was made."""
        guard, self._guard = self._guard, None
        if guard is not None:
            with contextlib.suppress(Exception):
                await guard.aclose()
        session, self.session = self.session, None
        if session is not None and not session.closed:
            with contextlib.suppress(Exception):
                await session.close()

    def abandon(self) -> None:
        """From any thread, last: tell every subscription still registered that it ended.

        Used for a loop that is closed (its tasks can never run again) and after the
        close routine's waits, so that no subscription is left without an end.
        """
        with self.lock:
            subs = list(self._subs)
            self._subs.clear()
        for sub in subs:
            sub.fail(closed_error())


class Runtimes:
    """A client's runtimes, one per event loop, its background loop, and its close routine.

    Subscriptions made on a running loop (with no scheduler, or an asyncio, trampoline
    or immediate one) run there; every other one runs on a background event loop the
    client starts in a daemon thread on first use.
    """

    def __init__(self, name: str = "rxbatches-loop") -> None:
        self._name = name
        self.lock = threading.RLock()
        self.closed = False
        self._by_loop: dict[asyncio.AbstractEventLoop, Runtime] = {}
        self._background: _BackgroundThread | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        # Session closes scheduled by a synchronous close() on its own running loop.
        self._closing: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<Runtimes loops={len(self._by_loop)} closed={self.closed}>"

    @property
    def background_thread(self) -> threading.Thread | None:
        """The background loop's thread, once started."""
        background = self._background
        return None if background is None else background.thread

    # ----------------------------------------------------------------- lookup

    def for_subscription(self, scheduler: abc.SchedulerBase | None) -> Runtime:
        """The runtime a subscription made here with ``scheduler`` runs on.

        Raises:
            ClientClosedError: The client is closed.
        """
        loop = running_loop()
        if loop is not None and (scheduler is None or isinstance(scheduler, _LOCAL_SCHEDULERS)):
            return self.for_loop(loop)
        return self._for_background()

    def current(self) -> Runtime:
        """The runtime of the running loop (made on first use).

        Raises:
            ClientClosedError: The client is closed.
            RuntimeError: No event loop runs on this thread.
        """
        return self.for_loop(asyncio.get_running_loop())

    def for_loop(self, loop: asyncio.AbstractEventLoop) -> Runtime:
        """The runtime of ``loop`` (made on first use).

        Raises:
            ClientClosedError: The client is closed.
        """
        runtime = self._by_loop.get(loop)
        if runtime is not None and not runtime.closed:
            return runtime
        with self.lock:
            if self.closed:
                raise closed_error()
            runtime = self._by_loop.get(loop)
            if runtime is None:
                # Forget loops that are gone (tests and asyncio.run make many).
                for old in [lp for lp in self._by_loop if lp.is_closed()]:
                    del self._by_loop[old]
                runtime = self._by_loop[loop] = Runtime(loop, self.lock)
            return runtime

    def _for_background(self) -> Runtime:
        with self.lock:
            if self.closed:
                raise closed_error()
            if self._background is None:
                background = _BackgroundThread(self._name)
                self._background = background
                self._finalizer = weakref.finalize(self, background.stop, CLOSE_TIMEOUT)
            return self.for_loop(self._background.loop)

    # ----------------------------------------------------------------- the close routine

    def _mark_closed(self) -> list[Runtime] | None:
        with self.lock:
            if self.closed:
                return None
            self.closed = True
            for runtime in self._by_loop.values():
                runtime.closed = True
            return list(self._by_loop.values())

    def close(self) -> None:
        """Close every runtime; block until each loop has ended its subscriptions.

        On the caller's own running loop (``close()`` called inside asyncio), tasks are
        cancelled at once and the session's close is scheduled on that loop.
        """
        runtimes = self._mark_closed()
        if runtimes is None:
            return
        here = running_loop()
        own = [r for r in runtimes if r.loop is here]
        for runtime in own:
            runtime.cancel_all()
            if self._background is None or runtime.loop is not self._background.loop:
                task = runtime.loop.create_task(runtime.close_session())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        self._close_others([r for r in runtimes if r.loop is not here])

    async def aclose(self) -> None:
        """Close every runtime from inside asyncio; the blocking part runs off this loop."""
        runtimes = self._mark_closed()
        if runtimes is None:
            return
        here = asyncio.get_running_loop()
        for runtime in runtimes:
            if runtime.loop is here:
                await runtime.shutdown()
        others = [r for r in runtimes if r.loop is not here]
        if others or self._background is not None:
            await asyncio.to_thread(self._close_others, others)

    def _close_others(self, runtimes: list[Runtime]) -> None:
        # Blocking: runs on the closing thread, never on one of these runtimes' loops.
        background = self._background
        for runtime in runtimes:
            loop = runtime.loop
            if loop.is_closed():
                pass  # nothing can run there any more: abandon() below tells its subscribers
            elif loop.is_running():
                with contextlib.suppress(Exception):
                    future = asyncio.run_coroutine_threadsafe(runtime.shutdown(), loop)
                    future.result(CLOSE_TIMEOUT + 1)
            else:
                _run_on_idle_loop(loop, runtime.shutdown())
        if background is not None:
            if self._finalizer is not None:
                self._finalizer.detach()
            background.stop(CLOSE_TIMEOUT)
        for runtime in runtimes:
            runtime.abandon()


def _run_on_idle_loop(loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` on a loop that is neither running nor closed, from a fresh thread.

    A fresh thread has no running loop, so ``run_until_complete`` is allowed there even
    when the closing thread itself runs one.
    """

    def run() -> None:
        try:
            loop.run_until_complete(work)
        except Exception:  # the loop was started meanwhile by its owner: leave it to them
            work.close()

    thread = threading.Thread(target=run, name="rxbatches-close", daemon=True)
    thread.start()
    thread.join(CLOSE_TIMEOUT + 1)


class _BackgroundThread:
    """An asyncio event loop running in a daemon thread.

    Stopping it cancels the tasks left on it, finalizes its async generators (which
    closes the sessions made on it) and closes the loop, all on its own thread.
    """

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(
            target=_serve, args=(self.loop, ready), name=name, daemon=True
        )
        self.thread.start()
        ready.wait()

    def stop(self, timeout: float) -> None:
        """Stop the loop and wait (up to ``timeout`` s) for its thread, unless called on it."""
        with contextlib.suppress(RuntimeError):  # already closed
            self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self.thread:
            self.thread.join(timeout)


def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.call_soon(ready.set)
        loop.run_forever()
        # Stopped: finish cleanly so nothing warns about pending tasks or open sessions.
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        # At interpreter exit (a client never closed, stopped by its finalizer) no thread
        # can be started to join the executor; its threads are ending anyway.
        with contextlib.suppress(RuntimeError):
            loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
