"""``Client``: configuration, lifecycle, and ``client.messages.batches``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from os import PathLike
from types import TracebackType
from typing import Any

from reactivex import Observable

from ._base.models import Request
from ._base.options import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_NOT_FOUND_GRACE,
    DEFAULT_TIMEOUT,
    ClientOptions,
    RequestOptions,
)
from ._base.validation import MAX_BODY_BYTES, MAX_REQUESTS
from ._jobs.durable import DEFAULT_RETRY_ERRORED, run_durable
from ._jobs.events import JobEvent
from ._jobs.lifecycle import run_job
from ._jobs.store import JobStore
from ._rx.bridge import Bridge
from ._rx.runtime import Runtimes
from ._service.batches import BatchOperations, job_parts
from ._transport.http import ConnectorFactory, HTTPClient

__all__ = ["BatchService", "Client", "Messages"]


class Messages:
    """``client.messages``: the namespace of the Messages API resources."""

    def __init__(self, batches: BatchService) -> None:
        self.batches = batches
        """The Message Batches operations, as cold Observables."""

    def __repr__(self) -> str:
        return f"<Messages batches={self.batches!r}>"


class BatchService(BatchOperations):
    """``client.messages.batches``: the Message Batches API as cold Observables.

    Every method returns at once, without sending anything; each subscription sends its
    own request (so ``ops.retry(n)`` re-issues it), and disposing a subscription aborts
    its request. Errors arrive in ``on_error`` as the typed errors of
    :mod:`rxbatches` (bad input too: nothing is raised out of a method or of
    ``subscribe``, except for an invalid ``interval`` or ``options``).

    Items arrive on the event loop of the subscribing thread when it runs one (inside
    asyncio), else on the client's background loop thread; use
    ``rbo.observe_on(scheduler, max_pending=N)`` to move them to a UI thread.

    Every method takes a keyword-only ``options: RequestOptions`` overriding the
    timeout, retries, headers, query or ``not_found_grace`` of that call.

    A batch the API does not show yet just after this client created it answers 404
    for a moment: ``retrieve``, ``cancel``, ``delete`` and ``results_streaming`` ask
    again about it (0.1 s, 0.2 s, 0.4 s... at most 1 s apart) until ``not_found_grace``
    seconds (2 by default) have passed since its create, then report the 404. A 404
    about a batch this client did not create is reported at once.

    The single operations are those of its base, ``BatchOperations``; ``run`` (here)
    drives a whole job over them.
    """

    def run(
        self,
        requests: Iterable[Request | Mapping[str, Any]],
        *,
        interval: float = 5.0,
        max_concurrent_batches: int = 2,
        max_requests_per_batch: int = MAX_REQUESTS,
        max_body_bytes: int = MAX_BODY_BYTES,
        cancel_on_dispose: bool = False,
        options: RequestOptions | None = None,
        store: str | PathLike[str] | JobStore | None = None,
        retry_errored: int = DEFAULT_RETRY_ERRORED,
        retry_canceled: bool = False,
    ) -> Observable[JobEvent]:
        """Run a whole job: create its batches, watch them, stream their results.

        One subscription drives everything. The requests are read lazily, a batch at a
        time, checked against the API's rules as they stream past (``custom_id``
        uniqueness across the whole job), and cut into batches of at most
        ``max_requests_per_batch`` requests and ``max_body_bytes`` bytes. Up to
        ``max_concurrent_batches`` batches run at once; each is created, then watched
        every ``interval`` until it has ended, then its results are streamed; then the
        next batch is read. Everything arrives as typed events in one stream (here three
        batches, two at a time):

        ::

            run(requests):       ──S0P─S1P─B0P─B1P─···─B0'P─r─r─S2P─B1'P─r─r─B2P─···─B2'P─r─r─|
            rbo.results():       ──────────────────···──────r─r──────────r─r─────···──────r─r─|
            rbo.job_progress():  ────p───p───p───p─···────p───────p────p───────p─···────P─────|

        ``S``: :class:`~rxbatches.BatchSubmitted`; ``B``: :class:`~rxbatches.BatchSnapshot`
        (``B'``: ended); ``P``: :class:`~rxbatches.JobProgressed`, after each of those, with
        the progress of the whole job (the last ``P`` has ``ended=True``, fraction 1.0);
        ``r``: :class:`~rxbatches.ResultReceived`. Pick one kind with
        ``rxbatches.operators.results()``, ``batch_snapshots()`` or ``job_progress()``. A bad
        request ends the stream with ``CreateValidationError`` (naming its job index,
        field and rule) before the batch that would hold it is created; batches created
        earlier keep running on the server.

        Faults are ridden over as by the single operations: polls and downloads are
        retried, a download cut mid-way is resumed (up to
        :data:`DEFAULT_MAX_RESUMES` times, each result delivered once), a batch that
        answers 404 just after its create is asked again for a couple of seconds, and
        a create whose outcome is unknown ends the job with
        :class:`~rxbatches.CreateOutcomeUnknownError` rather than risk a second batch.

        Batch bodies are not held in memory: each is written, request by request, to
        a temporary file (past 1 MiB) and streamed from there to the create, and
        results are streamed, not collected. Each subscription reads
        ``requests`` again: a list or :func:`~rxbatches.read_requests_jsonl` can be run
        several times, a generator only once. Disposing stops the polls and downloads
        but leaves the batches running on the server, unless ``cancel_on_dispose``.

        **Durable jobs.** With ``store="job.db"`` (a path, or a :class:`~rxbatches.JobStore`)
        the job's state lives in an SQLite file, and subscribing again after any
        interruption (Ctrl-C, ``kill -9``, a lost network) continues where it stopped:
        a request whose ``custom_id`` and params already have a final result is not sent
        again (a finished job creates no batch), each batch's intent is recorded before
        its create and its id as soon as it is known (after a crash in between, the
        batch the server made is found and adopted), results are written into the store
        as they stream, each ``custom_id`` once, and results that failed for a transient
        reason (``api_error``, ``overloaded_error``, rate limits, timeouts, ``expired``)
        are resubmitted up to ``retry_errored`` times. The events are those of an
        uninterrupted run: the batches earlier runs finished are replayed first (their
        submission, last snapshot and stored results), then the job goes on (``R``: a
        resubmission of what failed)::

            run(requests, store="job.db"), resumed:
                ──S0 B0' r r (replayed)──S1P─B1P─···─B1'P─r─r─P──SR P─···─BR'P─r─P(ended)|

        Two processes on one store get :class:`~rxbatches.JobStoreError`; so does a store
        from a newer rxbatches, or a crash that left several batches that could be the
        one it made (named in the message). ``cancel_on_dispose`` must stay ``False``.

        Args:
            requests: The requests, as :class:`~rxbatches.Request` models or dicts, in any
                iterable: a list, a generator, :func:`~rxbatches.read_requests_jsonl`.
            interval: Seconds between polls of each batch.
            max_concurrent_batches: How many batches may be in flight at once.
            max_requests_per_batch: At most this many requests per batch (1 to 100,000).
            max_body_bytes: At most this many bytes per create body (up to 256 MiB).
            cancel_on_dispose: On dispose, ask the server to cancel the job's batches
                that have not ended (fire and forget; a create in flight is aborted, and
                a batch it may have made is not known).
            options: Per-call overrides, applied to every request of the job.
            store: Make the job durable: the path of its SQLite job store, or an open
                :class:`~rxbatches.JobStore` (see above).
            retry_errored: With a store: how many times a request that failed for a
                transient reason, or expired, is resubmitted (default 2).
            retry_canceled: With a store: resubmit canceled requests too.

        Returns:
            A cold Observable of the job's :data:`~rxbatches.JobEvent` events.

        Raises:
            ValueError: For an invalid interval or limit (raised by this call).
            TypeError: If ``requests`` is not an iterable of requests.

        Example:
            >>> job = batches.run(read_requests_jsonl("requests.jsonl"), interval=30)
            >>> job.pipe(ops.publish(lambda events: reactivex.merge(
            ...     events.pipe(rbo.job_progress(), ops.do_action(show)),
            ...     events.pipe(rbo.results(), ops.do_action(save)),
            ... ))).run()
        """
        if store is not None:
            if cancel_on_dispose:
                raise ValueError(
                    "cancel_on_dispose: a durable job (store=...) is resumed, not canceled"
                )
            return run_durable(
                job_parts(self),
                requests,
                store,
                interval=interval,
                max_concurrent_batches=max_concurrent_batches,
                max_requests_per_batch=max_requests_per_batch,
                max_body_bytes=max_body_bytes,
                retry_errored=retry_errored,
                retry_canceled=retry_canceled,
                options=options,
            )
        return run_job(
            job_parts(self),
            requests,
            interval=interval,
            max_concurrent_batches=max_concurrent_batches,
            max_requests_per_batch=max_requests_per_batch,
            max_body_bytes=max_body_bytes,
            cancel_on_dispose=cancel_on_dispose,
            options=options,
        )


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
