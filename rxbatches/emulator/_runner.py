"""Running the emulator on the caller's event loop, or on its own loop in a thread.

:class:`Emulator` serves on the running loop; :class:`EmulatorThread` runs one on a
private loop in a daemon thread, for synchronous code.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .._base.models import MessageBatch, Request
from .._base.validation import validate_requests
from ._app import EmulatorStats, Service, build_app
from ._clock import Clock, ScaledClock
from ._faults import Faults
from ._responders import Responder
from ._store import Rejection, Store

__all__ = ["Emulator", "EmulatorThread"]

_T = TypeVar("_T")

# Seconds a shutdown waits for handlers still running (e.g. an abandoned results stream).
_SHUTDOWN_TIMEOUT = 0.25


class Emulator:
    """The Message Batches API emulator, served on the running event loop.

    Args:
        host: The interface to listen on.
        port: The port (0: a free one).
        speed: How many times faster than real time the default clock runs.
        request_latency: Emulator seconds each request takes unless its outcome says otherwise.
        concurrency: Requests of one batch processed at the same time.
        api_keys: The accepted API keys, or one key as a string (``None``: any
            non-empty key); any other key gets a 401 ``authentication_error``.
        responder: Decides each request's outcome (``None``: succeed with the
            deterministic default message).
        clock: The clock (``None``: real time scaled by ``speed``; a
            :class:`ManualClock` for step-by-step tests).
        results_chunk_size: Bytes per chunk when streaming results.
        gzip_results: Compress results streams with gzip when the client accepts it
            (``Accept-Encoding: gzip``), as a CDN in front of the API may.
        propagation_delay: Emulator seconds a batch made by a create answers 404 to
            retrieve, cancel, delete and results, as a fresh batch may on the real API
            (settable later as ``emu.faults.propagation_delay``).
        fault_seed: Seed of the generator behind ``emu.faults.randomly(...)`` rules and
            of the draws of ``error_rate`` and ``expire_rate`` (``None``: a fresh seed).
        error_rate: The probability that a request ends ``errored`` with a retryable
            ``api_error`` or ``overloaded_error`` (settable later as
            ``emu.faults.error_rate``). Drawn from the seed, the ``custom_id`` and the
            number of times it was sent, so a resubmitted request draws again.
        expire_rate: The probability that a request ends ``expired`` (its batch then
            ends at ``expires_at``, 24 emulator hours after creation); settable later as
            ``emu.faults.expire_rate``.

    Example:
        >>> async def main() -> None:
        ...     async with Emulator(request_latency=0.001) as emu:
        ...         print(emu.base_url)  # http://127.0.0.1:<port>
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        request_latency: float = 0.01,
        concurrency: int = 1000,
        api_keys: Collection[str] | None = None,
        responder: Responder | None = None,
        clock: Clock | None = None,
        results_chunk_size: int = 64 * 1024,
        gzip_results: bool = False,
        propagation_delay: float = 0.0,
        fault_seed: int | None = 0,
        error_rate: float = 0.0,
        expire_rate: float = 0.0,
    ) -> None:
        if results_chunk_size < 1:
            raise ValueError("results_chunk_size must be at least 1")
        self.host = host
        self.port = port
        self.clock: Clock = clock if clock is not None else ScaledClock(speed)
        self.stats = EmulatorStats()
        self.faults = Faults(
            seed=fault_seed,
            propagation_delay=propagation_delay,
            error_rate=error_rate,
            expire_rate=expire_rate,
        )
        self._store = Store(
            self.clock,
            request_latency=request_latency,
            concurrency=concurrency,
            responder=responder,
            faults=self.faults,
        )
        self._service = Service(
            store=self._store,
            faults=self.faults,
            stats=self.stats,
            api_keys=_keys(api_keys),
            results_chunk_size=results_chunk_size,
            on_change=self._notify,
            gzip_results=gzip_results,
        )
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()
        self._unlisten: Callable[[], None] | None = None

    @property
    def base_url(self) -> str:
        """The root URL, like ``http://127.0.0.1:54321`` (no trailing slash)."""
        if not self._service.base_url:
            raise RuntimeError("the emulator is not running")
        return self._service.base_url

    async def start(self) -> Emulator:
        """Start listening; returns the emulator itself."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        self._loop = asyncio.get_running_loop()
        runner = web.AppRunner(
            build_app(self._service),
            handle_signals=False,
            access_log=None,
            shutdown_timeout=_SHUTDOWN_TIMEOUT,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._service.base_url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
        self._unlisten = self.clock.add_listener(self._notify_threadsafe)
        return self

    async def close(self) -> None:
        """Stop serving; open connections are closed. Calling it again does nothing."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        await runner.cleanup()
        self._service.base_url = ""

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _notify(self) -> None:
        # Wake every waiter at once: a fresh event for the next round of waiting.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _notify_threadsafe(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._notify()
        else:
            loop.call_soon_threadsafe(self._notify)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` is true, re-checking it whenever emulator state changes.

        State changes are requests handled, results streams opened or closed, clock
        advances, and the moments the clock reaches a batch's next milestone.

        Args:
            predicate: Checked on the emulator's loop; must not block.
            timeout: Real seconds to wait at most.

        Raises:
            TimeoutError: The predicate was still false after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            # Taken before the predicate: a milestone passing while the predicate runs
            # must not leave the wait on the one after it (or none) for the whole timeout.
            milestone = self._store.next_change()
            changed = self._changed
            if predicate():
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"emulator condition still false after {timeout} s")
            wake = remaining
            if milestone is not None:
                delay = self.clock.real_delay(milestone - self.clock.time())
                wake = min(wake, max(0.0, delay) + 0.001)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), wake)

    def batch_ids(self) -> list[str]:
        """The ids of the stored batches, newest first."""
        return self._store.ids()

    def batch(self, batch_id: str) -> MessageBatch:
        """The batch as a retrieve would show it now (handy in :meth:`wait_for` predicates).

        Raises:
            KeyError: No such batch.
        """
        try:
            found = self._store.get(batch_id)
        except Rejection:
            raise KeyError(batch_id) from None
        return MessageBatch.model_validate(found.to_wire(self.clock.time(), self._service.base_url))

    def add_batch(self, requests: Iterable[Request | Mapping[str, Any]]) -> str:
        """Store a batch as a create of ``requests`` would, without an HTTP request.

        Its schedule, responder outcomes and faults are those of a create now: meant for
        tests and demos that need many batches in progress (a thousand creates over HTTP
        take most of a second).

        Args:
            requests: The batch's requests, as models or plain dicts of the wire shape.

        Returns:
            The new batch id.

        Raises:
            CreateValidationError: A request breaks a rule of the API (as a create's
                would: the field and the rule are named); no batch is stored.
        """
        batch = self._store.create(validate_requests(requests))
        self._notify_threadsafe()
        return batch.id

    def add_ended_batch(
        self,
        lines: Iterable[bytes] | Callable[[], Iterable[bytes]],
        request_counts: Mapping[str, int] | None = None,
    ) -> str:
        """Store a batch that has already ended and serves ``lines`` as its results.

        Meant for benchmarks: the lines are written verbatim (each should end with a
        newline), so a big pre-built results file costs no model building.

        Args:
            lines: The JSONL lines, or a callable returning a fresh iterable of them on
                each download (e.g. ``lambda: open(path, "rb")``). A one-shot iterator
                is kept in memory so it can be served more than once.
            request_counts: The batch's final counts (missing keys are 0); ``None``
                counts the lines by their ``result.type``.

        Returns:
            The new batch id.
        """
        batch = self._store.add_ended(lines, request_counts)
        self._notify_threadsafe()
        return batch.id

    def reset(self) -> None:
        """Drop every batch, zero the stats, forget scripted and random faults."""
        self._store.clear()
        self.faults.clear()
        open_streams = self.stats.results_open
        self.stats.reset()
        self.stats.results_open = open_streams
        self._notify_threadsafe()

    def __repr__(self) -> str:
        where = self._service.base_url or "not running"
        return f"<Emulator {where} clock={self.clock!r}>"


def _keys(api_keys: Collection[str] | None) -> frozenset[str] | None:
    if api_keys is None:
        return None
    # A lone string is one key, not a set of one-character keys.
    keys = frozenset([api_keys] if isinstance(api_keys, str) else api_keys)
    if not keys or "" in keys:
        raise ValueError("api_keys must hold at least one key, and no empty one")
    return keys


class EmulatorThread:
    """An :class:`Emulator` running on its own event loop in a daemon thread.

    Takes the same keyword arguments as :class:`Emulator`; every method may be called
    from any thread.

    Example:
        >>> with EmulatorThread(request_latency=0.001) as emu:
        ...     print(emu.base_url)  # http://127.0.0.1:<port>
    """

    def __init__(self, **kwargs: Any) -> None:
        self.emulator = Emulator(**kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        """The root URL, like ``http://127.0.0.1:54321``."""
        return self.emulator.base_url

    @property
    def clock(self) -> Clock:
        """The emulator's clock."""
        return self.emulator.clock

    @property
    def stats(self) -> EmulatorStats:
        """The emulator's counters."""
        return self.emulator.stats

    @property
    def faults(self) -> Faults:
        """The emulator's fault script (thread-safe)."""
        return self.emulator.faults

    def start(self) -> EmulatorThread:
        """Start the thread and wait until the emulator listens; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("the emulator thread is already running")
        ready = threading.Event()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._main(ready),), name="rxbatches-emulator", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise self._error
        return self

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.emulator.start()
        except BaseException as exc:
            self._error = exc
            ready.set()
            return
        ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.emulator.close()

    def stop(self) -> None:
        """Stop the emulator and join its thread. Calling it again does nothing."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        thread.join()

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _call(self, fn: Callable[[], _T]) -> _T:
        async def run() -> _T:
            return fn()

        if self._loop is None or self._thread is None:
            raise RuntimeError("the emulator thread is not running")
        if threading.current_thread() is self._thread:
            # Already on the emulator's loop (e.g. inside a wait_for predicate).
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Block until ``predicate()`` is true (checked on the emulator's loop).

        Raises:
            TimeoutError: The predicate was still false after ``timeout`` seconds.
        """
        if self._loop is None or self._thread is None:
            raise RuntimeError("the emulator thread is not running")
        future = asyncio.run_coroutine_threadsafe(
            self.emulator.wait_for(predicate, timeout), self._loop
        )
        future.result()

    def batch_ids(self) -> list[str]:
        """The ids of the stored batches, newest first."""
        return self.emulator.batch_ids()

    def batch(self, batch_id: str) -> MessageBatch:
        """Like :meth:`Emulator.batch`."""
        return self._call(lambda: self.emulator.batch(batch_id))

    def add_batch(self, requests: Iterable[Request | Mapping[str, Any]]) -> str:
        """Like :meth:`Emulator.add_batch`, run on the emulator's loop."""
        return self._call(lambda: self.emulator.add_batch(requests))

    def add_ended_batch(
        self,
        lines: Iterable[bytes] | Callable[[], Iterable[bytes]],
        request_counts: Mapping[str, int] | None = None,
    ) -> str:
        """Like :meth:`Emulator.add_ended_batch`, run on the emulator's loop."""
        return self._call(lambda: self.emulator.add_ended_batch(lines, request_counts))

    def reset(self) -> None:
        """Like :meth:`Emulator.reset`, run on the emulator's loop."""
        self._call(self.emulator.reset)

    def __repr__(self) -> str:
        return f"<EmulatorThread {self.emulator!r}>"
