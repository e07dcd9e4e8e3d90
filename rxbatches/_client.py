"""``Client``: configuration, lifecycle, and ``client.messages.batches``."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType

from ._batches import BatchService
from ._bridge import BackgroundLoop, Bridge
from ._http import HTTPClient
from ._options import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_NOT_FOUND_GRACE,
    DEFAULT_TIMEOUT,
    ClientOptions,
)

__all__ = ["Client", "Messages"]

_CLOSE_TIMEOUT = 10.0
# Closers scheduled on a running loop by a synchronous close(): kept alive until done.
_pending_closes: set[asyncio.Task[None]] = set()


class Messages:
    """``client.messages``: the namespace of the Messages API resources."""

    def __init__(self, batches: BatchService) -> None:
        self.batches = batches
        """The Message Batches operations, as cold Observables."""

    def __repr__(self) -> str:
        return f"<Messages batches={self.batches!r}>"


class Client:
    """A client of the Message Batches API whose operations are cold Observables.

    Usable as ``async with Client() as client``, ``with Client() as client``, or closed
    explicitly with :meth:`aclose` (inside asyncio) or :meth:`close`. Closing aborts the
    requests still running and releases every connection.

    Threads: an Observable subscribed inside asyncio runs on that event loop and emits
    on its thread. Subscribed from synchronous code (a script, a UI thread,
    ``observable.run()``), it runs on an event loop the client starts in a background
    thread on first use, and emits on that thread: to handle items on a UI thread, add
    ``ops.observe_on(ui_scheduler)``.

    Args:
        api_key: The API key; default ``ANTHROPIC_API_KEY``. It is never shown in a repr,
            an error or a log line.
        base_url: The API's base URL; default ``ANTHROPIC_BASE_URL``, else
            ``https://api.anthropic.com``. Must be http(s). The key is only ever sent
            there (redirects are not followed).
        timeout: Seconds to wait for each read (not a total: a long results download
            is never cut off while bytes keep arriving); ``None`` waits forever.
        max_retries: Retries after the first attempt of a request.
        connect_timeout: Seconds to wait for a connection.
        default_headers: Headers sent with every request.
        not_found_grace: Seconds during which a 404 about a batch this client just
            created is asked again (0.1 s, 0.2 s, 0.4 s... at most 1 s apart), counted
            from its create: the API may not show a new batch everywhere at once. Applies
            to ``retrieve``, ``cancel``, ``delete`` and ``results_streaming`` (and
            ``run``); a 404 about a batch this client did not create is reported at
            once. ``watch`` uses it as its own grace before its first snapshot, for any
            id. ``0`` reports every 404 at once; overridable per call with
            ``RequestOptions(not_found_grace=...)``.

    Raises:
        ValueError: Naming the field, when no API key is given or found, the base URL is
            not http(s), or a number is out of range.

    Example:
        >>> async with Client(base_url="http://127.0.0.1:8787") as client:
        ...     batch = await client.messages.batches.retrieve("msgbatch_01")
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        default_headers: Mapping[str, str] | None = None,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
    ) -> None:
        self._options = ClientOptions.from_env(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            connect_timeout=connect_timeout,
            default_headers=default_headers or {},
            not_found_grace=not_found_grace,
        )
        self._background = BackgroundLoop()
        self._http = HTTPClient(self._options)
        self._closed = False
        self.messages = Messages(BatchService(self._http, Bridge(self._background)))
        """``client.messages.batches`` holds the batch operations."""

    @property
    def options(self) -> ClientOptions:
        """The resolved configuration (its repr hides the key)."""
        return self._options

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` or :meth:`aclose` was called."""
        return self._closed

    def __repr__(self) -> str:
        return (
            f"Client(base_url={self._options.base_url!r}, timeout={self._options.timeout!r}, "
            f"max_retries={self._options.max_retries!r}, closed={self._closed})"
        )

    # ----------------------------------------------------------------- lifecycle

    def _begin_close(
        self,
    ) -> list[tuple[asyncio.AbstractEventLoop, Callable[[], Awaitable[None]]]] | None:
        if self._closed:
            return None
        self._closed = True
        return self._http.detach()

    def close(self) -> None:
        """Close the client: abort running requests, close every session, stop the thread.

        Safe to call twice. Inside asyncio prefer ``await client.aclose()``: called on a
        running loop, this only schedules the close of that loop's session.
        """
        closers = self._begin_close()
        if closers is None:
            return
        here = _running_loop()
        background = self._background.started
        for loop, closer in closers:
            if loop is background or loop.is_closed():
                continue  # stopping the background loop closes its session
            if loop is here:
                task = loop.create_task(_quietly(closer))
                _pending_closes.add(task)
                task.add_done_callback(_pending_closes.discard)
            elif loop.is_running():
                future = asyncio.run_coroutine_threadsafe(_quietly(closer), loop)
                with contextlib.suppress(Exception):
                    future.result(_CLOSE_TIMEOUT)
            else:
                with contextlib.suppress(RuntimeError):
                    loop.run_until_complete(_quietly(closer))
        self._background.stop(_CLOSE_TIMEOUT)
        del closers  # held until now: the loops finalize the session guards they name

    async def aclose(self) -> None:
        """Close the client from inside asyncio (see :meth:`close`)."""
        closers = self._begin_close()
        if closers is None:
            return
        here = asyncio.get_running_loop()
        background = self._background.started
        for loop, closer in closers:
            if loop is background or loop.is_closed():
                continue
            if loop is here:
                await _quietly(closer)
            elif loop.is_running():
                future = asyncio.run_coroutine_threadsafe(_quietly(closer), loop)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.wrap_future(future), _CLOSE_TIMEOUT)
        thread = self._background.thread
        if thread is not None and thread is not threading.current_thread():
            # Joining the thread blocks: do it off this loop.
            await asyncio.get_running_loop().run_in_executor(
                None, self._background.stop, _CLOSE_TIMEOUT
            )
        else:
            self._background.stop(_CLOSE_TIMEOUT)
        del closers

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def _quietly(closer: Callable[[], Awaitable[None]]) -> None:
    with contextlib.suppress(Exception):
        await closer()
