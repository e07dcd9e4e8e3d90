"""``Client``: configuration, lifecycle, and ``client.messages.batches``."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType

from ._batches import BatchService
from ._bridge import Bridge
from ._http import ConnectorFactory, HTTPClient
from ._options import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_NOT_FOUND_GRACE,
    DEFAULT_TIMEOUT,
    ClientOptions,
)
from ._runtime import Runtimes

__all__ = ["Client", "Messages"]


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
    explicitly with :meth:`aclose` (inside asyncio) or :meth:`close`. All four go
    through one close routine: every subscription alive at close ends with exactly one
    terminal notification (a :class:`~rxbatches.ClientClosedError` for those it
    interrupts), every connection is released, a request interrupted by the close is
    never retried, and every later subscription fails at once with
    :class:`~rxbatches.ClientClosedError`.

    Threads: an Observable subscribed inside asyncio runs on that event loop and emits
    on its thread. Subscribed from synchronous code (a script, a UI thread,
    ``observable.run()``), it runs on an event loop the client starts in a background
    thread on first use, and emits on that thread: to handle items on a UI thread, add
    ``ops.observe_on(ui_scheduler)``. The client keeps one session per event loop.

    Args:
        api_key: The API key; default ``ANTHROPIC_API_KEY``. It is never shown in a repr,
            an error or a log line.
        base_url: The API's base URL; default ``ANTHROPIC_BASE_URL``, else
            ``https://api.anthropic.com``. Must be http(s). The key is only ever sent
            there (redirects are not followed).
        timeout: Seconds to wait for each read (not a total: a long results download
            is never cut off while bytes keep arriving); ``None`` (or
            :data:`~rxbatches.NO_TIMEOUT`) waits forever.
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
        proxy: An ``http://`` or ``https://`` proxy for every request (credentials in
            the URL are allowed and never shown). Default: none given.
        trust_env: With no ``proxy``, take one from ``HTTPS_PROXY`` / ``HTTP_PROXY`` (by
            the base URL's scheme) or ``ALL_PROXY``, unless ``NO_PROXY`` names the API
            host, as the official SDK does (default ``True``). Read once, here.
        connector_factory: Makes the ``aiohttp.BaseConnector`` of each event loop's
            session (called on that loop): the escape hatch for anything else aiohttp
            can do (a custom SSL context, connection limits, a resolver, a SOCKS
            connector). The session's headers, timeouts and redirect policy stay ours.

    Raises:
        ValueError: Naming the field, when no API key is given or found, the base URL or
            proxy is not http(s), or a number is out of range.

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
        proxy: str | None = None,
        trust_env: bool = True,
        connector_factory: ConnectorFactory | None = None,
    ) -> None:
        if connector_factory is not None and not callable(connector_factory):
            raise ValueError("connector_factory: must be a callable returning a connector")
        self._options = ClientOptions.from_env(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            connect_timeout=connect_timeout,
            default_headers=default_headers or {},
            not_found_grace=not_found_grace,
            proxy=proxy,
            trust_env=trust_env,
        )
        self._runtimes = Runtimes()
        self._http = HTTPClient(self._options, self._runtimes, connector_factory)
        self.messages = Messages(BatchService(self._http, Bridge(self._runtimes)))
        """``client.messages.batches`` holds the batch operations."""

    @property
    def options(self) -> ClientOptions:
        """The resolved configuration (its repr hides the key)."""
        return self._options

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` or :meth:`aclose` was called."""
        return self._runtimes.closed

    def __repr__(self) -> str:
        return (
            f"Client(base_url={self._options.base_url!r}, timeout={self._options.timeout!r}, "
            f"max_retries={self._options.max_retries!r}, closed={self.closed})"
        )

    def with_options(
        self,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        not_found_grace: float | None = None,
    ) -> Client:
        """A copy of this client with other defaults, as the official SDK's ``with_options``.

        ``None`` keeps the current value; headers are merged. The copy shares this
        client's connections and lifecycle: closing either closes both.

        Raises:
            ValueError: For an invalid value, naming the field.

        Example:
            >>> patient = client.with_options(timeout=NO_TIMEOUT, max_retries=5)
        """
        batches = self.messages.batches.with_options(
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=default_headers,
            not_found_grace=not_found_grace,
        )
        changes: dict[str, object] = {}
        if timeout is not None:
            changes["timeout"] = timeout
        if max_retries is not None:
            changes["max_retries"] = max_retries
        if default_headers:
            changes["default_headers"] = {**self._options.default_headers, **default_headers}
        if not_found_grace is not None:
            changes["not_found_grace"] = not_found_grace
        copy = object.__new__(Client)
        copy._options = self._options.with_overrides(**changes)
        copy._runtimes = self._runtimes
        copy._http = self._http
        copy.messages = Messages(batches)
        return copy

    # ----------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the client: end every subscription, close every session, stop the thread.

        Blocks until every event loop the client worked on has ended its subscriptions
        (at most about 10 s a loop). Safe to call twice, and from any thread. Inside
        asyncio prefer ``await client.aclose()``: on the running loop itself, this can
        only cancel the tasks and schedule the session's close.
        """
        self._runtimes.close()

    async def aclose(self) -> None:
        """Close the client from inside asyncio (see :meth:`close`); nothing blocks the loop."""
        await self._runtimes.aclose()

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
