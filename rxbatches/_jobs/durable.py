"""Durable jobs: ``batches.run(requests, store="job.db")``, resumable after any interruption.

The job's whole state lives in a :class:`~rxbatches._jobs.store.JobStore`; this module drives
it with the service's own primitives (create, list, watch, results), one step at a time,
recording each step before taking the next:

1. the input is read and checked; new or changed requests (by a content hash of
   ``custom_id`` and params) become pending, the others keep their results;
2. an intent left without an id by a crash is resolved: the batch the server made for
   it is adopted (listed after the intent, same request count, not claimed by the job),
   or, if there is none, its requests are pending again; with several candidates the
   job stops with an error naming them. An intent younger than the longest its create
   can take (:func:`create_horizon`: every attempt's connect and read timeouts, the
   waits between retries, and a margin for writing the body) may have a create still
   on its way to the server, to arrive after the listing: its requests wait (on the
   job's clock, while the rest of the job goes on) until that horizon has passed, or
   :data:`IN_FLIGHT_SETTLE` after this run took the store if that comes first (the run
   that recorded the intent is over: no attempt of it can start any more), then the
   batches are listed again before they are sent again;
3. batches that were live are watched again and their results stored;
4. pending requests go into new batches (intent recorded, then create, then id
   recorded), at most ``max_concurrent_batches`` at a time; results are written as they
   stream, 512 KiB of lines per transaction, decoded in the writer's thread
   (:mod:`rxbatches._jobs.lines`), at most a few network reads waiting (the socket
   pauses while the disk is behind); retryable failures become pending again.

The job ends when every request has a final result.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from functools import partial
from os import PathLike
from typing import Any, TypeVar

from reactivex import Observable

from .._base.checks import check_int, check_seconds
from .._base.clock import SYSTEM_CLOCK, Clock
from .._base.errors import CreateOutcomeUnknownError, ResultLineError
from .._base.models import MessageBatch, MessageBatchIndividualResponse, Request
from .._base.offload import off_loop
from .._base.options import EffectiveOptions, RequestOptions
from .._base.validation import MAX_BODY_BYTES, MAX_REQUESTS
from .._rx.async_iter import aiterate
from .._service.batches import JobParts
from .._service.raw import DEFAULT_MAX_RESUMES
from .._service.results import ResultBlock
from .._transport.retry import MAX_RETRY_AFTER
from .events import BatchSnapshot, BatchSubmitted, JobEvent, JobProgressed, ResultReceived
from .input import MIN_BODY_BYTES
from .lines import AttemptReader
from .progress import JobProgress
from .store import Attempt, Intent, JobStore, JobStoreError, StoredBatch

__all__ = [
    "ADOPT_SKEW",
    "BODY_MARGIN",
    "IN_FLIGHT_SETTLE",
    "DEFAULT_RETRY_ERRORED",
    "UNBOUNDED_ATTEMPT",
    "create_horizon",
    "run_durable",
]

T = TypeVar("T")

log = logging.getLogger("rxbatches")

DEFAULT_RETRY_ERRORED = 2
"""How many times a request that failed for a transient reason is resubmitted, by default."""

ADOPT_SKEW = 60.0
"""Seconds a server's clock may run behind ours: a batch listed as created up to this long
before an intent may still be the intent's."""

UNBOUNDED_ATTEMPT = 3600.0
"""Seconds one create attempt is assumed to take at most when its timeout is unbounded
(``timeout=None`` or ``NO_TIMEOUT``, an infinite ``connect_timeout``): an hour, far beyond
what sending and answering the largest create body (256 MB) takes."""

IN_FLIGHT_SETTLE = 60.0
"""Seconds after a run takes its store during which a create of the run before it may
still land. The store's lock says that run is over (its process died, or it was
disposed of): no attempt of it can start any more, and one whose body was already
sent is answered, or dropped, by the server within this time."""

BODY_MARGIN = 60.0
"""Seconds between recording an intent and sending its create, at most: the body is
written from the store after the intent is recorded (256 MB take a few seconds)."""


def create_horizon(options: EffectiveOptions) -> float:
    """The longest a create sent with ``options`` can take, counted from its intent (seconds).

    Each attempt waits at most ``connect_timeout`` for its connection and ``timeout``
    for each read (the first read waits for the whole body to be sent and answered);
    ``max_retries`` more attempts may follow, each after a wait of at most
    ``MAX_RETRY_AFTER``. An unbounded timeout counts as :data:`UNBOUNDED_ATTEMPT`.

    Example:
        >>> create_horizon(EffectiveOptions(600.0, 5.0, 2, {}, {}))  # the defaults
        1995.0
    """
    read = options.timeout
    if read is None or not math.isfinite(read):
        read = UNBOUNDED_ATTEMPT
    connect = options.connect_timeout
    if not math.isfinite(connect):
        connect = UNBOUNDED_ATTEMPT
    attempts = options.max_retries + 1
    return BODY_MARGIN + attempts * (connect + read) + options.max_retries * MAX_RETRY_AFTER


_FLUSH_BYTES = 512 * 1024  # results lines per transaction (about 400 results of 1.3 KB)
_MAX_PENDING_BLOCKS = 4  # network reads (a few hundred KiB each) waiting for the writer, at most
_LIST_PAGE = 100
_SAME_PROCESS_WAIT = 10.0


@dataclass(frozen=True, slots=True)
class _Settings:
    every: float
    workers: int
    max_requests: int
    max_body: int
    retry_errored: int
    retry_canceled: bool
    options: RequestOptions | None
    replay: bool
    result_events: bool
    clock: Clock


def run_durable(
    parts: JobParts,
    requests: Iterable[Request | Mapping[str, Any]] | None,
    store: str | PathLike[str] | JobStore,
    *,
    interval: float,
    max_concurrent_batches: int,
    max_requests_per_batch: int,
    max_body_bytes: int,
    retry_errored: int = DEFAULT_RETRY_ERRORED,
    retry_canceled: bool = False,
    options: RequestOptions | None = None,
    replay: bool = True,
    result_events: bool = True,
    clock: Clock = SYSTEM_CLOCK,
) -> Observable[JobEvent]:
    """The Observable of ``BatchService.run(requests, store=...)`` (see there).

    Args:
        parts: The service's parts the job runs on.
        requests: The job's requests (``None``: only what the store holds).
        store: The store's path, or an open :class:`JobStore` (left open).
        interval: Seconds between polls of each batch.
        max_concurrent_batches: Batches in flight at once.
        max_requests_per_batch: Requests per batch, at most.
        max_body_bytes: Bytes per create body, at most.
        retry_errored: Resubmissions of a request that failed for a transient reason.
        retry_canceled: Resubmit canceled requests too.
        options: Per-call overrides for every request of the job.
        replay: Emit the events of the batches earlier runs finished, with their stored
            results, so a resumed job's events are those of an uninterrupted run.
        result_events: Emit :class:`ResultReceived` events (the CLI needs none).
        clock: What the wait for a create that may still be in flight sleeps on
            (virtual in tests).

    Raises:
        ValueError: For an invalid interval, limit or ``retry_errored``.
    """
    every = check_seconds("interval", interval)
    max_requests = check_int(
        "max_requests_per_batch", max_requests_per_batch, at_least=1, at_most=MAX_REQUESTS
    )
    max_body = check_int(
        "max_body_bytes", max_body_bytes, at_least=MIN_BODY_BYTES, at_most=MAX_BODY_BYTES
    )
    check_int("max_concurrent_batches", max_concurrent_batches, at_least=1)
    check_int("retry_errored", retry_errored, at_least=0)
    if requests is not None and (
        isinstance(requests, str | bytes | Mapping) or not isinstance(requests, Iterable)
    ):
        raise TypeError(f"requests: must be an iterable of requests, not {type(requests).__name__}")
    if not isinstance(store, JobStore | str | PathLike):
        raise TypeError(f"store: must be a path or a JobStore, not {type(store).__name__}")
    settings = _Settings(
        every,
        max_concurrent_batches,
        max_requests,
        max_body,
        retry_errored,
        retry_canceled,
        options,
        replay,
        result_events,
        clock,
    )

    def events() -> AsyncIterator[JobEvent]:
        return _Job(parts, settings, store).run(requests)

    return parts.bridge.from_async_iterable(events)


@dataclass(frozen=True, slots=True)
class _Finished:
    error: BaseException | None


def _submitted(batch: MessageBatch, stored: StoredBatch | Intent) -> BatchSubmitted:
    """The event of a batch of the job, created now or by an earlier run."""
    return BatchSubmitted(
        batch=batch,
        batch_index=stored.position,
        first_request=stored.first_request,
        requests=stored.requests,
    )


async def _first(observable: Observable[T]) -> T:
    async with aclosing(aiterate(observable, max_pending=1)) as items:
        async for item in items:
            return item
    raise RuntimeError("the request completed without an answer")


def _dump(batch: MessageBatch) -> str:
    return json.dumps(batch.to_wire(), separators=(",", ":"))


class _Job:
    """One run of a durable job (one subscription)."""

    def __init__(
        self, parts: JobParts, settings: _Settings, store: str | PathLike[str] | JobStore
    ) -> None:
        self._service = parts.operations
        self._raw = parts.raw
        self._s = settings
        self._store_arg = store
        self._store: JobStore | None = None
        self._live: dict[int, tuple[MessageBatch, int]] = {}  # key -> latest snapshot, size
        self._creating = asyncio.Lock()  # held from a create until its id is recorded

    @staticmethod
    def _open(path: str | PathLike[str]) -> JobStore:
        # A run of this process just disposed of may still be closing the store.
        return JobStore.open(path, wait=_SAME_PROCESS_WAIT)

    @property
    def store(self) -> JobStore:
        assert self._store is not None
        return self._store

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        # The store blocks on the disk: never on the loop.
        return await off_loop(fn, *args)

    async def run(
        self, requests: Iterable[Request | Mapping[str, Any]] | None
    ) -> AsyncIterator[JobEvent]:
        owned = not isinstance(self._store_arg, JobStore)
        stop = threading.Event()
        tasks: set[asyncio.Task[None]] = set()
        try:
            if isinstance(self._store_arg, JobStore):
                self._store = self._store_arg
            else:
                self._store = await self._call(self._open, self._store_arg)
            store = self.store
            taken = time.time()
            if requests is not None:
                await self._call(store.ingest, requests, stop)
            await self._call(store.requeue, self._s.retry_errored, self._s.retry_canceled)
            late: list[tuple[StoredBatch, float]] = []
            for unresolved in await self._call(store.batches, "intent"):
                wait = await self._resolve(unresolved, taken)
                if wait > 0:
                    late.append((unresolved, wait))
            if self._s.replay:
                for done in await self._call(store.batches, "done"):
                    for event in await self._call(self._replayed, done):
                        yield event
            queue: asyncio.Queue[JobEvent | _Finished] = asyncio.Queue(maxsize=64)

            followed = False

            def start(key: int, batch: MessageBatch, stored: StoredBatch | Intent) -> None:
                nonlocal followed
                followed = True
                self._live[key] = (batch, stored.requests)
                follow = partial(self._watch_and_store, key, batch.id, stored.position, queue)
                task = asyncio.get_running_loop().create_task(self._reported(follow, queue))
                tasks.add(task)

            for stored in await self._call(store.batches, "created", "ended"):
                assert stored.snapshot is not None
                batch = MessageBatch.model_validate_json(stored.snapshot)
                yield _submitted(batch, stored)
                start(stored.key, batch, stored)
                yield JobProgressed(progress=await self._progress())
            waiting: set[asyncio.Task[None]] = set()
            for unresolved, wait in late:
                # Not a worker: most likely its create never reached the server.
                followed = True
                task = asyncio.get_running_loop().create_task(
                    self._reported(partial(self._resolve_later, unresolved, wait, queue), queue)
                )
                tasks.add(task)
                waiting.add(task)
            may_have_pending = True
            while True:
                while may_have_pending and len(tasks) - len(waiting) < self._s.workers:
                    made = await self._submit()
                    if made is None:
                        may_have_pending = False
                        break
                    intent, batch = made
                    yield _submitted(batch, intent)
                    start(intent.key, batch, intent)
                    yield JobProgressed(progress=await self._progress())
                if not tasks:
                    break
                item = await queue.get()
                if isinstance(item, _Finished):
                    tasks = {task for task in tasks if not task.done()}
                    waiting &= tasks
                    if item.error is not None:
                        raise item.error
                    may_have_pending = True  # resubmissions may have become pending
                    yield JobProgressed(progress=await self._progress())
                    continue
                yield item
            final = await self._progress()
            if final.processing:
                raise JobStoreError("the job ended with requests still pending")  # a bug
            if not followed:
                yield JobProgressed(progress=final)  # a finished job, replayed: where it stands
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            try:
                if tasks:
                    await asyncio.gather(*tasks, return_exceptions=True)
            finally:
                if owned and self._store is not None:
                    await self._close(self._store)

    async def _close(self, store: JobStore) -> None:
        # A dispose cancels the run, then the client's close cancels it again while this
        # cleanup awaits: closed here and now then, or the store's lock stays held.
        try:
            await self._call(store.close)
        except asyncio.CancelledError:
            store.close()
            raise

    # ------------------------------------------------------------------ steps

    async def _submit(self) -> tuple[Intent, MessageBatch] | None:
        """Record the next batch's intent, create it, record its id."""
        # Spooled, as a plain create's body: a batch of 256 MB is never whole in memory.
        reserved = await self._call(
            self.store.reserve_spooled, self._s.max_requests, self._s.max_body
        )
        if reserved is None:
            return None
        intent, body = reserved
        async with self._creating:
            try:
                create = self._raw.create_encoded(body, self._s.options, intent.requests)
                batch = await _first(create)
            except CreateOutcomeUnknownError:
                raise  # the intent stays: the next run finds the batch, if it was made
            except asyncio.CancelledError:
                if not body.handed_whole:
                    # Cut before its last byte left (a dispose, Ctrl-C): no server has
                    # the whole body, so no batch was made, and the next run need not
                    # wait for one. On the loop: a one-row write while the run is torn
                    # down, whose worker-thread result nobody could await any more. (A
                    # store closed already keeps the intent: the next run waits for it.)
                    with contextlib.suppress(sqlite3.Error):
                        self.store.abandon(intent.key)
                raise
            except Exception:
                # The create was refused: no batch was made, the requests wait again.
                await self._call(self.store.abandon, intent.key)
                raise
            # (A cancellation here leaves the intent: the create may have gone through.)
            await self._call(self.store.record_created, intent.key, batch.id, _dump(batch), False)
        return intent, batch

    async def _resolve(self, intent: StoredBatch, taken: float) -> float:
        """Adopt the batch a crash left without an id, or release its requests.

        Args:
            intent: The batch recorded without an id.
            taken: When this run took the store (``time.time()``).

        Returns:
            0 once resolved; else the seconds its create may still be in flight (the
            intent is left as it is, for :meth:`_resolve_later`).
        """
        batch = await self._find(intent)
        if batch is not None:
            await self._call(self.store.record_created, intent.key, batch.id, _dump(batch), True)
            return 0.0
        horizon = create_horizon(self._raw.options(self._s.options))
        now = time.time()
        # A clock set back makes the intent look younger, never older than just made.
        wait = min(horizon, intent.intent_at + horizon - now, taken + IN_FLIGHT_SETTLE - now)
        if wait > 0:
            return wait
        await self._call(self.store.abandon, intent.key)
        return 0.0

    async def _resolve_later(
        self, intent: StoredBatch, wait: float, queue: asyncio.Queue[JobEvent | _Finished]
    ) -> None:
        """Wait until the create of ``intent`` cannot be in flight, then resolve it for good."""
        log.warning(
            "batch %d of the job (%d requests): no batch on the server matches it, but its"
            " create may still be on its way there; its requests wait %.0f s before being"
            " sent again",
            intent.position,
            intent.requests,
            wait,
        )
        await self._s.clock.sleep(wait)
        # Not while this run creates a batch: made and not yet recorded, it would look
        # like the intent's.
        async with self._creating:
            batch = await self._find(intent)
            if batch is None:
                await self._call(self.store.abandon, intent.key)
                return
            await self._call(self.store.record_created, intent.key, batch.id, _dump(batch), True)
        self._live[intent.key] = (batch, intent.requests)
        await queue.put(_submitted(batch, intent))
        await queue.put(JobProgressed(progress=await self._progress()))
        await self._watch_and_store(intent.key, batch.id, intent.position, queue)

    async def _find(self, intent: StoredBatch) -> MessageBatch | None:
        """The batch on the server that a crash left ``intent`` without, if there is one."""
        claimed = await self._call(self.store.claimed_ids)
        since = intent.intent_at - ADOPT_SKEW
        candidates: list[MessageBatch] = []
        listing = self._service.list(limit=_LIST_PAGE, options=self._s.options)
        async with aclosing(aiterate(listing, max_pending=_LIST_PAGE)) as batches:
            async for batch in batches:
                if batch.created_at.timestamp() < since:
                    break  # newest first: the rest are older still
                if batch.id in claimed:
                    continue
                if batch.request_counts.total == intent.requests:
                    candidates.append(batch)
        if len(candidates) > 1:
            names = ", ".join(b.id for b in candidates)
            raise JobStoreError(
                f"a crash left batch {intent.position} of the job ({intent.requests} requests)"
                f" created without its id being recorded, and {len(candidates)} batches on the"
                f" server could be it: {names}. Cancel the ones that are not this job's, then"
                " run again"
            )
        return candidates[0] if candidates else None

    @staticmethod
    async def _reported(
        work: Callable[[], Awaitable[None]], queue: asyncio.Queue[JobEvent | _Finished]
    ) -> None:
        """Run ``work()`` (a task of the run), then tell the run how it ended."""
        # Called here, not by the caller: a task cancelled before it starts leaves no
        # coroutine never awaited.
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            await queue.put(_Finished(exc))
        else:
            await queue.put(_Finished(None))

    async def _watch_and_store(
        self, key: int, batch_id: str, position: int, queue: asyncio.Queue[JobEvent | _Finished]
    ) -> None:
        store, s = self.store, self._s
        watch = self._service.watch(batch_id, interval=s.every, options=s.options)
        async with aclosing(aiterate(watch, max_pending=1)) as snapshots:
            async for snapshot in snapshots:
                _, size = self._live[key]
                self._live[key] = (snapshot, size)
                await self._call(store.record_snapshot, key, _dump(snapshot), snapshot.ended)
                await queue.put(BatchSnapshot(batch=snapshot, batch_index=position))
                await queue.put(JobProgressed(progress=await self._progress()))
        blocks = self._raw.result_blocks(batch_id, s.options, DEFAULT_MAX_RESUMES)
        # Nothing stored yet (no earlier run cut this download): no result to skip, and
        # a first download delivers each custom_id once.
        fresh = await self._call(store.attempt_count, key) == 0
        if not fresh and s.replay and s.result_events:
            # What the run a crash cut short stored: its events come first, then those
            # of the results stored now (so each result is one event, as uninterrupted).
            for response in await self._call(self._stored_results, key):
                await queue.put(ResultReceived(response=response, batch_id=batch_id))
        reader = AttemptReader(batch_id)
        taken: list[ResultBlock] = []
        size = 0

        async def flush() -> None:
            nonlocal size
            responses = await self._call(self._write, reader, key, taken, fresh)
            for response in responses:
                await queue.put(ResultReceived(response=response, batch_id=batch_id))
            taken.clear()
            size = 0

        async with aclosing(aiterate(blocks, max_pending=_MAX_PENDING_BLOCKS)) as items:
            async for block in items:
                if block.download and fresh:
                    # A resumed download repeats lines already stored: look them up.
                    await flush()
                    fresh = False
                taken.append(block)
                size += len(block.data)
                del block
                if size >= _FLUSH_BYTES:
                    await flush()
        await flush()
        await self._call(store.finish_batch, key, s.retry_errored)
        self._live.pop(key, None)

    def _write(
        self, reader: AttemptReader, key: int, blocks: list[ResultBlock], fresh: bool
    ) -> list[MessageBatchIndividualResponse]:
        """Decode ``blocks`` and store their results (in a worker thread); their events."""
        s = self._s
        rows: list[Attempt] = []
        failure: Exception | None = None
        for block in blocks:
            try:
                rows.extend(reader.read(block))
            except (ResultLineError, JobStoreError) as exc:
                failure = exc  # after storing the good lines before it
                break
        stored = (
            self.store.write_results(key, rows, s.retry_errored, s.retry_canceled, fresh)
            if rows
            else []
        )
        if failure is not None:
            raise failure
        if not s.result_events:
            return []
        validate = MessageBatchIndividualResponse.model_validate_json
        return [validate(rows[i][1]) for i in stored]

    def _stored_results(self, key: int) -> list[MessageBatchIndividualResponse]:
        """The results of batch ``key`` already in the store (in a worker thread)."""
        validate = MessageBatchIndividualResponse.model_validate_json
        return [validate(line) for line in self.store.attempt_lines(key)]

    # ------------------------------------------------------------------ events

    def _replayed(self, done: StoredBatch) -> list[JobEvent]:
        """The events of a batch an earlier run finished (in a worker thread)."""
        assert done.batch_id is not None
        assert done.snapshot is not None
        batch = MessageBatch.model_validate_json(done.snapshot)
        events: list[JobEvent] = [
            _submitted(batch, done),
            BatchSnapshot(batch=batch, batch_index=done.position),
        ]
        if self._s.result_events:
            events.extend(
                ResultReceived(response=response, batch_id=done.batch_id)
                for response in self._stored_results(done.key)
            )
        return events

    async def _progress(self) -> JobProgress:
        """The job's progress: the store's counts, and the latest snapshot of live batches."""
        live = dict(self._live)
        counts, batches, ended = await self._call(self.store.progress_figures, list(live))
        pending = counts.get("pending", 0)
        processing = pending + counts.get("submitted", 0)
        totals = {k: counts.get(k, 0) for k in ("succeeded", "errored", "canceled", "expired")}
        total = sum(counts.values())
        for snapshot, size in live.values():
            c = snapshot.request_counts
            total += max(size, c.total)
            processing += c.processing
            totals["succeeded"] += c.succeeded
            totals["errored"] += c.errored
            totals["canceled"] += c.canceled
            totals["expired"] += c.expired
        return JobProgress(
            total=total,
            processing=processing,
            ended=not processing and not live,
            batches=batches,
            ended_batches=ended,
            unsubmitted=pending,
            **totals,
        )
