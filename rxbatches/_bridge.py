"""The Observable bridge: coroutines and async iterators in, cold Observables out.

This is the only module that turns async code into Observables. Each subscription
starts its own task, so nothing happens before subscribe and every subscription does
the work again (``ops.retry(n)`` re-issues a request). Disposing the subscription
cancels the task: the request is aborted and its connection released, and nothing
is emitted afterwards.

Where the task runs (and so on which thread items arrive):

- subscribed on a thread whose asyncio loop is running (a coroutine, a callback of
  that loop, ``await observable``), with no scheduler or an asyncio / trampoline one:
  on that loop, so items arrive on that loop's thread;
- otherwise (plain synchronous code, a UI thread, ``observable.run()``, a subscription
  made with a thread-based scheduler): on a background event-loop thread the client
  starts on first use and stops on ``close()``; items arrive on that thread. A UI
  marshals them to its own thread with ``ops.observe_on(ui_scheduler)``.

``observable.run()`` passes a thread scheduler, so even when called from a thread
that runs a loop (a notebook cell) the work goes to the background loop instead of
deadlocking the blocked one.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

import reactivex
from reactivex import Observable, abc
from reactivex.disposable import Disposable
from reactivex.scheduler import ImmediateScheduler, TrampolineScheduler
from reactivex.scheduler.eventloop import AsyncIOScheduler

from ._errors import APIConnectionError

__all__ = ["BackgroundLoop", "Bridge"]

T = TypeVar("T")

# Schedulers that do not mean "run me elsewhere": the subscription stays on this thread's loop.
_LOCAL_SCHEDULERS = (AsyncIOScheduler, TrampolineScheduler, ImmediateScheduler)


class BackgroundLoop:
    """An asyncio event loop in a daemon thread, started on first use.

    Stopping it cancels the tasks left on it, finalizes its async generators (which
    closes the HTTP sessions made on it) and closes the loop, all on its own thread.
    If the owner is garbage-collected or the interpreter exits first, a finalizer does
    the same.
    """

    def __init__(self, name: str = "rxbatches-loop") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @property
    def thread(self) -> threading.Thread | None:
        """The loop's thread, once started."""
        return self._thread

    @property
    def started(self) -> asyncio.AbstractEventLoop | None:
        """The loop if it was started and is not stopped, else ``None``."""
        return None if self._closed else self._loop

    def get(self) -> asyncio.AbstractEventLoop:
        """Return the running background loop, starting its thread if needed.

        Raises:
            RuntimeError: The loop was stopped (the client is closed).
        """
        loop = self._loop
        if loop is not None and not self._closed:
            return loop
        with self._lock:
            if self._closed:
                raise RuntimeError("this rxbatches Client is closed")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                thread = threading.Thread(
                    target=_serve, args=(loop, ready), name=self._name, daemon=True
                )
                thread.start()
                ready.wait()
                self._thread = thread
                self._loop = loop
                self._finalizer = weakref.finalize(self, _stop, loop, thread, 10.0)
            return self._loop

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and wait (up to ``timeout`` seconds) for its thread to clean up.

        Called from the loop's own thread (e.g. from an ``on_next``), it stops the loop
        without waiting.
        """
        with self._lock:
            self._closed = True
            finalizer, self._finalizer = self._finalizer, None
        if finalizer is not None:
            finalizer.detach()
            loop, thread = self._loop, self._thread
            if loop is not None and thread is not None:
                _stop(loop, thread, timeout)


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
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread, timeout: float) -> None:
    with contextlib.suppress(RuntimeError):  # already closed
        loop.call_soon_threadsafe(loop.stop)
    if threading.current_thread() is not thread:
        thread.join(timeout)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _Subscription:
    """The state one subscription shares between its task and its disposable."""

    __slots__ = ("disposed", "done", "loop", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.task: asyncio.Task[None] | None = None
        self.disposed = False
        self.done = False

    def dispose(self) -> None:
        if self.disposed or self.done:
            return
        self.disposed = True
        task = self.task
        if _running_loop() is self.loop:
            # Inside our own task (a downstream take(n) disposing from on_next), the
            # emit loop sees the flag; cancelling would interrupt its cleanup.
            if task is not None and asyncio.current_task() is not task:
                task.cancel()
        else:
            with contextlib.suppress(RuntimeError):  # loop closed: nothing left to cancel
                self.loop.call_soon_threadsafe(self._cancel)

    def _cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


Body = Callable[[abc.ObserverBase[T], _Subscription], Coroutine[Any, Any, None]]


class Bridge:
    """Makes cold Observables from async code, choosing the loop per subscription."""

    def __init__(self, background: BackgroundLoop) -> None:
        self.background = background
        # The loop holds only weak references to tasks: keep them alive until done.
        self._tasks: set[asyncio.Task[None]] = set()

    def loop_for(self, scheduler: abc.SchedulerBase | None) -> asyncio.AbstractEventLoop:
        """The loop a subscription made here, with ``scheduler``, runs on (see module doc)."""
        loop = _running_loop()
        if loop is not None and (scheduler is None or isinstance(scheduler, _LOCAL_SCHEDULERS)):
            return loop
        return self.background.get()

    def from_coroutine(self, factory: Callable[[], Awaitable[T]]) -> Observable[T]:
        """A cold Observable of the single value of ``factory()``'s awaitable.

        ::

            subscribe ──(value)|      or      subscribe ──X (the coroutine's exception)
        """

        async def body(observer: abc.ObserverBase[T], sub: _Subscription) -> None:
            value = await factory()
            if not sub.disposed:
                observer.on_next(value)

        return self._observable(body)

    def from_async_iterable(self, factory: Callable[[], AsyncIterable[T]]) -> Observable[T]:
        """A cold Observable of the items of ``factory()``'s async iterable.

        The iterator is pulled one item at a time: a dispose (or a downstream
        ``take(n)``) stops it before it asks for anything more, and closes it.

        ::

            subscribe ──a──b──c──|
        """

        async def body(observer: abc.ObserverBase[T], sub: _Subscription) -> None:
            iterator = aiter(factory())
            try:
                async for item in iterator:
                    observer.on_next(item)
                    if sub.disposed:
                        return
                    del item  # see from_async_batches: hold nothing already emitted
            finally:
                aclose = getattr(iterator, "aclose", None)
                if aclose is not None:
                    await aclose()

        return self._observable(body)

    def from_async_batches(
        self, factory: Callable[[], AsyncIterable[Iterable[T]]]
    ) -> Observable[T]:
        """A cold Observable of every item of every batch ``factory()`` yields.

        Each batch is emitted in a tight loop (no task switch per item), which keeps
        the per-item cost of large streams low.

        ::

            batches:  ──[a,b]────[c]──|
            result:   ──a─b──────c────|
        """

        async def body(observer: abc.ObserverBase[T], sub: _Subscription) -> None:
            iterator = aiter(factory())
            on_next = observer.on_next
            try:
                async for batch in iterator:
                    if _emit_all(batch, on_next, sub):
                        return
                    # Hold no emitted batch while the next one is produced: items kept
                    # alive survive garbage collections and make full ones frequent.
                    del batch
            finally:
                aclose = getattr(iterator, "aclose", None)
                if aclose is not None:
                    await aclose()

        return self._observable(body)

    def _observable(self, body: Body[T]) -> Observable[T]:
        def subscribe(
            observer: abc.ObserverBase[T], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            try:
                loop = self.loop_for(scheduler)
            except RuntimeError as exc:
                observer.on_error(exc)
                return Disposable()
            sub = _Subscription(loop)

            def start() -> None:
                if sub.disposed:
                    return
                task = loop.create_task(_drive(body, observer, sub))
                sub.task = task
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

            if _running_loop() is loop:
                start()
            else:
                try:
                    loop.call_soon_threadsafe(start)
                except RuntimeError:
                    observer.on_error(RuntimeError("the event loop of this subscription is closed"))
                    return Disposable()
            return Disposable(sub.dispose)

        return reactivex.create(subscribe)


def _emit_all(batch: Iterable[T], on_next: Callable[[T], None], sub: _Subscription) -> bool:
    """Emit every item of ``batch``; return whether the subscription was disposed meanwhile."""
    for item in batch:
        on_next(item)
        if sub.disposed:
            return True
    return False


async def _drive(body: Body[T], observer: abc.ObserverBase[T], sub: _Subscription) -> None:
    try:
        await body(observer, sub)
    except asyncio.CancelledError:
        if not sub.disposed and not sub.done:
            # Cancelled by a loop shutdown or a client close, not by the subscriber:
            # tell it, or a blocking run() would wait forever.
            sub.done = True
            _notify(
                sub,
                observer.on_error,
                APIConnectionError(
                    "the request was aborted: the client was closed or its event loop stopped"
                ),
            )
        raise
    except Exception as exc:  # every failure travels in the stream
        if not sub.disposed and not sub.done:
            sub.done = True
            _notify(sub, observer.on_error, exc)
    else:
        if not sub.disposed and not sub.done:
            sub.done = True
            _notify(sub, observer.on_completed)


def _notify(sub: _Subscription, signal: Callable[..., None], *args: Any) -> None:
    try:
        signal(*args)
    except Exception as exc:  # an observer without on_error re-raises: report, as asyncio would
        sub.loop.call_exception_handler(
            {
                "message": "an rxbatches observer raised while handling a notification",
                "exception": exc,
            }
        )
