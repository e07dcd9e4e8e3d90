"""A job larger than one batch, as one Observable: ``client.messages.batches.run(requests)``.

The API takes at most 100,000 requests (and 256 MB) per batch. ``run`` reads any iterable
of requests lazily, cuts it into batches under both limits, runs a few batches at a time
(create, watch until ended, stream the results), and merges everything into one stream of
typed events: ``BatchSubmitted``, ``BatchSnapshot``, ``JobProgressed``, ``ResultReceived``.

What it shows:

- the requests are made lazily (a generator behind a ``len()``): they are read a batch at
  a time, never all held;
- ``ops.publish`` feeds one job to two consumers: the whole job's progress
  (``rxbatches.operators.job_progress``, printed as it changes) and a tally of the results
  by batch and type (``ops.filter`` on ``ResultReceived``, ``ops.reduce``);
- ``custom_id`` uniqueness is checked across the whole job: a duplicate in a later batch
  ends the stream with a ``CreateValidationError`` naming its index in the job, before
  the batch that would hold it is created.

By default the per-batch limit is lowered to 500 requests (3,000 requests make 6 batches,
2 running at a time), so the example takes a second or two against the emulator (on the
real API: 30 requests in batches of 10). With
``--full``, the job has 100,500 requests under the API's real limit: two batches of
100,000 and 500 (about 15 s against the emulator; expensive on the real API).

Run it::

    python examples/large_job.py [--full]
    RXBATCHES_USE_REAL_API=1 ANTHROPIC_API_KEY=sk-ant-... python examples/large_job.py
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import reactivex
from _common import Target, connect, make_request, sized
from reactivex import Observable
from reactivex import operators as ops

import rxbatches.operators as rbo
from rxbatches import MAX_REQUESTS, CreateValidationError, JobEvent, ResultReceived


def generate(count: int, prefix: str = "job") -> Iterator[dict[str, Any]]:
    """Requests made one at a time, as they are read."""
    for i in range(count):
        yield make_request(i, prefix=prefix, max_tokens=32)


class GeneratedRequests:
    """The job's requests: made lazily, like a generator, but with a ``len()``.

    ``run`` reads them a batch at a time; knowing how many there are lets it report the
    whole job's progress from the first batch on (with a bare generator, the total grows
    as batches are read). And unlike a generator it can be iterated again, so the job's
    Observable could be subscribed twice.
    """

    def __init__(self, count: int) -> None:
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return generate(self._count)


@dataclass
class Tally:
    """What the results of the job add up to."""

    by_batch: Counter[str] = field(default_factory=Counter)
    by_type: Counter[str] = field(default_factory=Counter)
    custom_ids: set[str] = field(default_factory=set)
    repeated: int = 0

    def add(self, event: ResultReceived) -> Tally:
        """Count one result (``ops.reduce``'s accumulator: returns itself)."""
        self.by_batch[event.batch_id] += 1
        self.by_type[event.response.result.type] += 1
        if event.response.custom_id in self.custom_ids:
            self.repeated += 1
        self.custom_ids.add(event.response.custom_id)
        return self


def _is_result(event: JobEvent) -> bool:
    return isinstance(event, ResultReceived)


def _as_result(event: JobEvent) -> ResultReceived:
    assert isinstance(event, ResultReceived)
    return event


def _add(tally: Tally, event: ResultReceived) -> Tally:
    return tally.add(event)


def _milestone(p: rbo.JobProgress) -> tuple[int, int, int, bool]:
    # Print when a batch appears or ends, at each tenth of the job, and at the end.
    return p.batches, p.ended_batches, int(p.fraction * 10), p.ended


def _show(p: rbo.JobProgress) -> None:
    print(
        f"  {p.fraction:6.1%}  {p.done:>6}/{p.total} requests done,"
        f" batches: {p.ended_batches}/{p.batches} ended"
        + (f", {p.unsubmitted} requests not submitted yet" if p.unsubmitted else "")
    )


def run_job(target: Target, count: int, per_batch: int) -> Tally:
    """Run the job; return the tally of its results (raises what the job failed with)."""
    job = target.client.messages.batches.run(
        GeneratedRequests(count),
        interval=target.poll_interval,
        max_concurrent_batches=2,
        max_requests_per_batch=per_batch,
    )

    def consumers(events: Observable[JobEvent]) -> Observable[Tally]:
        progress: Observable[rbo.JobProgress] = events.pipe(
            rbo.job_progress(), ops.distinct_until_changed(_milestone), ops.do_action(_show)
        )
        tally: Observable[Tally] = events.pipe(
            ops.filter(_is_result), ops.map(_as_result), ops.reduce(_add, Tally())
        )
        return reactivex.merge(progress.pipe(ops.ignore_elements()), tally)

    result: Tally = job.pipe(ops.publish(consumers)).run()
    return result


def duplicate_across_batches(target: Target) -> bool:
    """A ``custom_id`` repeated in the job's third batch: the job fails before creating it."""
    requests = itertools.chain(generate(10, prefix="dup"), [make_request(3, prefix="dup")])
    job = target.client.messages.batches.run(
        requests, interval=target.poll_interval, max_requests_per_batch=5
    )
    try:
        job.pipe(ops.count()).run()
    except CreateValidationError as error:
        print(f"  {type(error).__name__}: {error}")
        return error.index == 10
    print("  the job did not fail", file=sys.stderr)
    return False


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description="A job larger than one batch.")
    parser.add_argument(
        "--full", action="store_true", help="100,500 requests under the API's real limits"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the example; returns the exit status."""
    args = parse_args(argv)
    if args.full:
        count, per_batch = MAX_REQUESTS + 500, MAX_REQUESTS
    else:
        count, per_batch = sized(3000, 30), sized(500, 10)
    batches_expected = math.ceil(count / per_batch)
    # The emulator answers 50 requests at a time (1,000 with --full, 0.1 ms each).
    tuning: dict[str, Any] = (
        {"request_latency": 0.0001, "concurrency": 1000} if args.full else {"concurrency": 50}
    )
    with connect(**tuning) as target:
        print(f"a job of {count:,} requests, at most {per_batch:,} per batch")
        started = time.monotonic()
        tally = run_job(target, count, per_batch)
        print(
            f"{sum(tally.by_type.values()):,} results from {len(tally.by_batch)} batches"
            f" in {time.monotonic() - started:.1f}s: {dict(tally.by_type)}"
        )
        print("a duplicate custom_id, five requests per batch:")
        duplicate_caught = duplicate_across_batches(target)

    complete = len(tally.custom_ids) == count and tally.repeated == 0
    if not complete or len(tally.by_batch) != batches_expected or not duplicate_caught:
        print(
            f"expected {count} distinct results from {batches_expected} batches and the"
            f" duplicate caught; got {len(tally.custom_ids)} ({tally.repeated} repeated)"
            f" from {len(tally.by_batch)}, duplicate caught: {duplicate_caught}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
