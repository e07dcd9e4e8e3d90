"""Error handling and retries with Rx: typed errors, ``catch``, ``retry``, backoff, resubmission.

What it shows, in four parts:

1. Typed errors travel in the stream: ``retrieve`` of an unknown id ends in
   ``on_error`` with a :class:`~rxbatches.NotFoundError` (``status_code``,
   ``request_id``...), which ``ops.catch`` turns into a fallback; asking for the results
   of a batch still processing gives a :class:`~rxbatches.BadRequestError`.
2. Retry with exponential backoff, built from ``ops.catch`` and ``reactivex.timer``
   (RxPY has no ``retry_when``): the client's own retries are switched off
   (``max_retries=0``) so that the emulator's scripted 529 and 500 answers reach the
   stream, which resubscribes (each subscription sends the request again: the
   Observables are cold) until the fourth attempt succeeds.
3. A results download cut mid-stream: by default the client resumes it itself
   (``max_resumes=3``) and delivers each result once; with its resume switched off
   (``max_resumes=0``), ``ops.retry(n)`` downloads again from the start and
   ``ops.distinct`` by ``custom_id`` drops the lines seen before the cut.
4. Failed *requests* (``errored`` results, not failed HTTP calls) are resubmitted as a
   new batch with ``rxbatches.operators.resubmit_failed``, a bounded number of rounds.

The faults (parts 2 and 3) and the flaky requests (part 4) are the emulator's; against
the real API those parts run without faults, and every call simply succeeds.

Run it::

    python examples/retry_and_errors.py
    RXBATCHES_USE_REAL_API=1 ANTHROPIC_API_KEY=sk-ant-... python examples/retry_and_errors.py
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import reactivex
from _common import Target, connect, make_requests, sized
from reactivex import Observable
from reactivex import operators as ops

import rxbatches.operators as rbo
from rxbatches import (
    APIConnectionError,
    APIStatusError,
    BadRequestError,
    InternalServerError,
    MessageBatch,
    MessageBatchIndividualResponse,
    NotFoundError,
    RateLimitError,
    Request,
)
from rxbatches.emulator import Fail, Fault, Outcome, default_responder

T = TypeVar("T")
Result = MessageBatchIndividualResponse


def is_transient(error: Exception) -> bool:
    """Whether trying again may help: lost connections, 429, 5xx (529 included)."""
    return isinstance(error, APIConnectionError | RateLimitError | InternalServerError)


def retry_with_backoff(
    attempts: int,
    first_delay: float,
    *,
    should_retry: Callable[[Exception], bool] = is_transient,
    on_retry: Callable[[int, Exception, float], None] | None = None,
) -> Callable[[Observable[T]], Observable[T]]:
    """Resubscribe to the source after a transient error, waiting longer each time.

    Up to ``attempts`` subscriptions in all; the wait doubles from ``first_delay``. A
    non-transient error, or the last attempt's, goes through.

    ::

        source:   ──X        ──X            ──a──|
        output:   ───(wait d)───(wait 2d)─────a──|
    """

    def operator(source: Observable[T]) -> Observable[T]:
        def attempt(number: int) -> Observable[T]:
            def handle(error: Exception, _: Observable[T]) -> Observable[T]:
                if number + 1 >= attempts or not should_retry(error):
                    return reactivex.throw(error)
                delay = first_delay * 2**number
                if on_retry is not None:
                    on_retry(number + 1, error, delay)

                def again(_: int) -> Observable[T]:
                    return attempt(number + 1)

                return reactivex.timer(delay).pipe(ops.flat_map(again))

            return source.pipe(ops.catch(handle))

        return reactivex.defer(lambda _: attempt(0))

    return operator


def run_batch(target: Target) -> Callable[[list[dict[str, Any]]], Observable[Result]]:
    """Return a function running some requests as one batch: create, watch, results."""
    batches = target.client.messages.batches

    def results_when_ended(batch: MessageBatch) -> Observable[Result]:
        def download(ended: MessageBatch) -> Observable[Result]:
            return batches.results_streaming(ended.id)

        return batches.watch(batch.id, interval=target.poll_interval).pipe(
            ops.last(), ops.flat_map(download)
        )

    def run(requests: list[dict[str, Any]]) -> Observable[Result]:
        print(f"  submitting a batch of {len(requests)} request(s)")
        return batches.create(requests).pipe(ops.flat_map(results_when_ended))

    return run


def typed_errors(target: Target) -> bool:
    """Part 1: errors arrive typed, in ``on_error``; ``catch`` recovers from the expected ones."""
    batches = target.client.messages.batches
    print("1. typed errors")

    def not_found_is_empty(
        error: Exception, _: Observable[MessageBatch]
    ) -> Observable[MessageBatch]:
        if isinstance(error, NotFoundError):
            print(f"  {type(error).__name__}: status {error.status_code}, {error.error_type}")
            return reactivex.empty()
        return reactivex.throw(error)

    unknown_id = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"
    found = batches.retrieve(unknown_id).pipe(ops.catch(not_found_is_empty), ops.to_list()).run()

    # A batch that takes a moment: its results are not ready while it is processing.
    requests = make_requests(sized(20, 5), prefix="slow")
    batch = batches.create(requests).run()
    try:
        batches.results_streaming(batch.id).run()
        too_early = False
    except APIStatusError as error:  # run() raises what on_error received
        # The emulator answers 400: a BadRequestError.
        print(f"  {type(error).__name__} before the batch ended: {error.message[:60]}...")
        too_early = isinstance(error, BadRequestError)
    batches.watch(batch.id, interval=target.poll_interval).run()
    # On the real API the batch may have ended before the results were asked for.
    return found == [] and (too_early or target.emulator is None)


def backoff(target: Target) -> bool:
    """Part 2: the client's retries off, Rx retries with backoff through scripted faults."""
    print("2. retry with backoff (the client's own retries switched off)")
    batches = target.client.messages.batches.with_options(max_retries=0)
    batch = batches.create(make_requests(5, prefix="backoff")).run()
    if target.emulator is not None:
        target.emulator.faults.script(
            "retrieve", Fault.status(529), Fault.status(500), Fault.status(529)
        )
        before = target.emulator.stats.requests["retrieve"]

    def log(attempt: int, error: Exception, delay: float) -> None:
        status = error.status_code if isinstance(error, APIStatusError) else "-"
        print(f"  attempt {attempt} failed: {type(error).__name__} ({status}); wait {delay:.2f}s")

    snapshot = batches.retrieve(batch.id).pipe(retry_with_backoff(5, 0.05, on_retry=log)).run()
    print(f"  got {snapshot.id} ({snapshot.processing_status})")
    if target.emulator is not None:
        sent = target.emulator.stats.requests["retrieve"] - before
        print(f"  {sent} retrieve requests were sent")
        return sent == 4
    return True


def resumed_download(target: Target) -> bool:
    """Part 3: the client's own resume, then ``ops.retry`` + ``ops.distinct`` without it."""
    print("3. retry a results download cut mid-stream")
    batches = target.client.messages.batches
    requests = make_requests(sized(200, 10), prefix="cut")
    batch = batches.create(requests).run()
    ended = batches.watch(batch.id, interval=target.poll_interval).run()
    if target.emulator is not None:
        # 20 kB in: a few dozen lines arrive, then the connection drops.
        target.emulator.faults.script("results", Fault.truncate(20_000))

    # The client resumes the cut download by itself, de-duplicating by custom_id.
    resumed = batches.results_streaming(ended.id).pipe(ops.count()).run()
    print(f"  built-in resume: {resumed} results, each once")
    if target.emulator is not None:
        target.emulator.faults.script("results", Fault.truncate(20_000))

    seen = 0

    def count(_: Result) -> None:
        nonlocal seen
        seen += 1

    def custom_id(result: Result) -> str:
        return result.custom_id

    # retry(3): three subscriptions in all, after any error (see part 2 for a choosier one).
    distinct: Observable[Result] = batches.results_streaming(ended.id, max_resumes=0).pipe(
        ops.do_action(count), ops.retry(3), ops.distinct(custom_id)
    )
    unique = distinct.pipe(ops.count()).run()
    print(f"  ops.retry: {seen} lines received over the attempts, {unique} distinct results")
    return resumed == unique == len(requests) and (seen > unique or target.emulator is None)


def resubmission(target: Target) -> bool:
    """Part 4: ``errored`` results resubmitted as new batches with ``resubmit_failed``."""
    print("4. resubmit errored requests (up to 2 more rounds)")
    requests = make_requests(sized(30, 10), prefix="flaky")

    final = (
        run_batch(target)(requests)
        .pipe(
            rbo.resubmit_failed(requests, run_batch(target), rounds=2),
            ops.to_list(),
        )
        .run()
    )
    kinds = {r.result.type for r in final}
    print(f"  {len(final)} final results, of types {sorted(kinds)}")
    return sorted(r.custom_id for r in final) == [r["custom_id"] for r in requests] and (
        kinds == {"succeeded"} or target.emulator is None
    )


class FlakyResponder:
    """The emulator's responder for part 4: every ``flaky-...3`` request fails its first try."""

    def __init__(self) -> None:
        self._failed: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Outcome:
        """Decide one request's outcome."""
        with self._lock:
            first_try = request.custom_id not in self._failed
            if request.custom_id.startswith("flaky") and request.custom_id.endswith("3"):
                self._failed.add(request.custom_id)
                if first_try:
                    return Fail("overloaded_error", "the emulator is pretending to be busy")
        return default_responder(request)


def main() -> int:
    """Run the four parts; returns the exit status."""
    # request_latency: the batch of part 1 must still be processing when its results are asked.
    with connect(responder=FlakyResponder(), request_latency=0.05) as target:
        outcomes = [typed_errors(target), backoff(target), resumed_download(target)]
        outcomes.append(resubmission(target))
    failed = [i + 1 for i, ok in enumerate(outcomes) if not ok]
    if failed:
        print(f"part(s) {failed} did not behave as expected", file=sys.stderr)
        return 1
    print("all four parts behaved as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
