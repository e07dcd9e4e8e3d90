"""Whole jobs as one cold Observable: create, watch and stream results, batch after batch.

:func:`run_job` is what :meth:`BatchService.run <rxbatches.BatchService.run>` returns. It
is composed from the service's own primitives: for each batch of the job, a create, then
``watch`` until it has ended, then ``results_streaming``; a few batches run at a time,
and their events are merged into one stream (see :mod:`rxbatches._jobs.events`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from typing import Any, TypeVar

import reactivex
from reactivex import Observable, abc
from reactivex import operators as ops
from reactivex.disposable import Disposable, SerialDisposable, SingleAssignmentDisposable

from .._base.checks import check_int, check_seconds
from .._base.models import MessageBatch, MessageBatchIndividualResponse, Request
from .._base.offload import off_loop
from .._base.options import RequestOptions
from .._base.validation import MAX_BODY_BYTES, MAX_REQUESTS
from .._service.batches import JobParts
from .events import BatchSnapshot, BatchSubmitted, JobEvent, JobProgressed, ResultReceived
from .input import MIN_BODY_BYTES, Chunk, Chunker
from .progress import BatchProgress, JobProgress

__all__ = ["run_job"]

T = TypeVar("T")


def _now(make: Callable[[], list[JobEvent]]) -> Observable[JobEvent]:
    """Emit ``make()``'s events synchronously at subscribe, then complete.

    Unlike ``reactivex.of``, it never defers to a scheduler: the events are computed and
    delivered in the order the job's state changed.
    """

    def subscribe(
        observer: abc.ObserverBase[JobEvent], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        for event in make():
            observer.on_next(event)
        observer.on_completed()
        return Disposable()

    return reactivex.create(subscribe)


def _expand(
    events: Callable[[T], list[JobEvent]],
) -> Callable[[Observable[T]], Observable[JobEvent]]:
    """Map each item to a few events, emitted at once, in order."""

    def operator(source: Observable[T]) -> Observable[JobEvent]:
        def subscribe(
            observer: abc.ObserverBase[JobEvent], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            def on_next(item: T) -> None:
                for event in events(item):
                    observer.on_next(event)

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return reactivex.create(subscribe)

    return operator


class _JobState:
    """What one subscription of a job knows: the latest progress of each of its batches.

    Thread-safe: snapshots are recorded on the loop's thread while ``cancel_on_dispose``
    reads the unended batches on whatever thread disposes the subscription.
    """

    def __init__(self, chunker: Chunker, total_hint: int | None) -> None:
        self._chunker = chunker
        self._hint = total_hint
        self._latest: dict[str, BatchProgress] = {}
        self._lock = threading.Lock()

    def unended(self) -> list[str]:
        """The ids of the batches submitted and not seen ended."""
        with self._lock:
            return [batch_id for batch_id, p in self._latest.items() if not p.ended]

    def submitted(self, batch: MessageBatch, chunk: Chunk) -> list[JobEvent]:
        progress = self._record(batch, chunk)
        event = BatchSubmitted(
            batch=batch, batch_index=chunk.index, first_request=chunk.first, requests=chunk.size
        )
        return [event, JobProgressed(progress=progress)]

    def polled(self, batch: MessageBatch, chunk: Chunk) -> list[JobEvent]:
        progress = self._record(batch, chunk)
        event = BatchSnapshot(batch=batch, batch_index=chunk.index)
        return [event, JobProgressed(progress=progress)]

    def _record(self, batch: MessageBatch, chunk: Chunk) -> JobProgress:
        latest = BatchProgress.from_batch(batch, chunk.size)
        with self._lock:
            self._latest[batch.id] = latest
            return self._progress()

    def _progress(self) -> JobProgress:
        # The job's total is known once the input is exhausted; until then it is what
        # was read so far, or the input's len() when it has one.
        read = self._chunker.requests_in_chunks
        known = read if self._chunker.complete else max(read, self._hint or 0)
        seen = self._latest.values()
        covered = sum(p.total for p in seen)
        unsubmitted = max(0, known - covered)
        ended_batches = sum(1 for p in seen if p.ended)
        return JobProgress(
            total=covered + unsubmitted,
            processing=sum(p.processing for p in seen) + unsubmitted,
            succeeded=sum(p.succeeded for p in seen),
            errored=sum(p.errored for p in seen),
            canceled=sum(p.canceled for p in seen),
            expired=sum(p.expired for p in seen),
            ended=self._chunker.complete
            and unsubmitted == 0
            and ended_batches == len(self._latest),
            batches=len(self._latest),
            ended_batches=ended_batches,
            unsubmitted=unsubmitted,
        )


def _worker(
    next_chunk: Observable[Chunk | None], lifecycle: Callable[[Chunk], Observable[JobEvent]]
) -> Observable[JobEvent]:
    """Run the job's batches one after another until ``next_chunk`` gives ``None``.

    ``ops.merge(max_concurrent=n)`` would need the batches as an Observable of
    Observables, and it queues what it cannot run yet: the whole input would be read up
    front. Instead each of ``n`` workers asks for the next chunk when its current batch
    is done, so the input is read a batch at a time. ``next_chunk`` reads it in a worker
    thread, so neither ``subscribe`` nor the loop running the other batches waits for it.
    """

    def subscribe(
        observer: abc.ObserverBase[JobEvent], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        current = SerialDisposable()

        def run_next() -> None:
            if current.is_disposed:
                return
            step = SingleAssignmentDisposable()
            current.disposable = step

            def on_chunk(chunk: Chunk | None) -> None:
                if current.is_disposed:
                    return
                if chunk is None:
                    observer.on_completed()
                    return
                current.disposable = lifecycle(chunk).subscribe(
                    observer.on_next, observer.on_error, run_next, scheduler=scheduler
                )

            # A bad request, a failing input: the job's error.
            step.disposable = next_chunk.subscribe(on_chunk, observer.on_error, scheduler=scheduler)

        run_next()
        return current

    return reactivex.create(subscribe)


def _is_one_shot(requests: object) -> bool:
    return isinstance(requests, Iterator)


def run_job(
    parts: JobParts,
    requests: Iterable[Request | Mapping[str, Any]],
    *,
    interval: float,
    max_concurrent_batches: int,
    max_requests_per_batch: int,
    max_body_bytes: int,
    cancel_on_dispose: bool,
    options: RequestOptions | None,
) -> Observable[JobEvent]:
    """The Observable of :meth:`BatchService.run <rxbatches.BatchService.run>` (see there).

    Raises:
        ValueError: Naming the argument, for an invalid limit or interval.
    """
    service = parts.operations
    every = check_seconds("interval", interval)
    max_requests = check_int(
        "max_requests_per_batch", max_requests_per_batch, at_least=1, at_most=MAX_REQUESTS
    )
    max_body = check_int(
        "max_body_bytes", max_body_bytes, at_least=MIN_BODY_BYTES, at_most=MAX_BODY_BYTES
    )
    check_int("max_concurrent_batches", max_concurrent_batches, at_least=1)
    if isinstance(requests, str | bytes | Mapping) or not isinstance(requests, Iterable):
        raise TypeError(f"requests: must be an iterable of requests, not {type(requests).__name__}")
    workers = max_concurrent_batches
    one_shot = _is_one_shot(requests)
    used = False

    def subscribe(
        observer: abc.ObserverBase[JobEvent], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        nonlocal used
        if one_shot and used:
            observer.on_error(
                ValueError(
                    "requests: this iterator was consumed by an earlier subscription; pass a"
                    " re-iterable (a list, read_requests_jsonl(path)) to run a job again"
                )
            )
            return Disposable()
        used = True
        hint = len(requests) if isinstance(requests, Sized) else None
        chunker = Chunker(requests, max_requests=max_requests, max_body_bytes=max_body)
        state = _JobState(chunker, hint)

        def lifecycle(chunk: Chunk) -> Observable[JobEvent]:
            def create(_: abc.SchedulerBase) -> Observable[MessageBatch]:
                return parts.raw.create_encoded(chunk.take_body(), options, chunk.size)

            def follow(batch: MessageBatch) -> Observable[JobEvent]:
                def polled(snapshot: MessageBatch) -> list[JobEvent]:
                    return state.polled(snapshot, chunk)

                def received(response: MessageBatchIndividualResponse) -> JobEvent:
                    return ResultReceived(response=response, batch_id=batch.id)

                return reactivex.concat(
                    _now(lambda: state.submitted(batch, chunk)),
                    service.watch(batch.id, interval=every, options=options).pipe(_expand(polled)),
                    service.results_streaming(batch.id, options=options).pipe(ops.map(received)),
                )

            return reactivex.defer(create).pipe(ops.flat_map(follow))

        # Reading, checking and spooling a batch is blocking work: off the loop.
        next_chunk = parts.bridge.from_coroutine(lambda: off_loop(chunker.next_chunk))

        terminated = False

        def on_error(exc: Exception) -> None:
            nonlocal terminated
            terminated = True
            chunker.close()
            observer.on_error(exc)

        def on_completed() -> None:
            nonlocal terminated
            terminated = True
            chunker.close()
            observer.on_completed()

        job = reactivex.merge(*(_worker(next_chunk, lifecycle) for _ in range(workers)))
        inner = job.subscribe(observer.on_next, on_error, on_completed, scheduler=scheduler)

        def dispose() -> None:
            inner.dispose()
            chunker.close()
            if cancel_on_dispose and not terminated:
                for batch_id in state.unended():
                    # Fire and forget: the subscriber has gone, nobody is left to tell.
                    service.cancel(batch_id, options=options).subscribe(on_error=_ignore)

        return Disposable(dispose)

    return reactivex.create(subscribe)


def _ignore(_: Exception) -> None:
    pass
