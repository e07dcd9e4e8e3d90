"""A batch's whole lifecycle, composed from the client's Observables with Rx operators.

What it shows:

- ``create`` -> ``watch`` -> ``results_streaming`` chained with ``ops.flat_map`` into one
  cold Observable of results: nothing is sent until it is awaited, and awaiting it again
  would run a new batch;
- one watch feeding two consumers with ``ops.publish(selector)``: the progress
  (``rxbatches.operators.progress``) and the ``ended`` snapshot (``ops.last``) that
  starts the download;
- one results download feeding three summaries with ``ops.publish`` and
  ``reactivex.fork_join``: counts by result type (``ops.group_by``), output tokens
  (``rxbatches.operators.succeeded``), and a few texts (``rxbatches.operators.texts``,
  ``ops.filter``, ``ops.take``);
- all of it inside asyncio: ``await observable`` gives its last item.

For one call that does all this (and splits jobs larger than one batch), see
``client.messages.batches.run(requests)`` in ``large_job.py``; composing it by hand shows
how the pieces fit. On the emulator, the requests whose ``custom_id`` ends in 7 are made
to fail, so the summary has ``errored`` results too.

Run it::

    python examples/lifecycle_with_operators.py
    RXBATCHES_USE_REAL_API=1 ANTHROPIC_API_KEY=sk-ant-... \
        python examples/lifecycle_with_operators.py
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import reactivex
from _common import connect_async, make_requests, sized
from reactivex import GroupedObservable, Observable
from reactivex import operators as ops

import rxbatches.operators as rbo
from rxbatches import BatchService, MessageBatch, MessageBatchIndividualResponse, Request
from rxbatches.emulator import Fail, Outcome, default_responder

Result = MessageBatchIndividualResponse


def fail_some(request: Request) -> Outcome:
    """The emulator's responder: requests whose ``custom_id`` ends in 7 fail."""
    if request.custom_id.endswith("7"):
        return Fail("invalid_request_error", "the example asked for this one to fail")
    return default_responder(request)


def _done_and_ended(p: rbo.BatchProgress) -> tuple[int, bool]:
    return p.done, p.ended


def lifecycle(
    batches: BatchService,
    requests: Sequence[dict[str, Any]],
    *,
    interval: float,
    on_progress: Callable[[rbo.BatchProgress], None],
) -> Observable[Result]:
    """Create a batch, watch it until it ends, then stream its results.

    ::

        create     ──(batch)|
        watch                ──s──s──S|          (progress reported from every s)
        results                        ──r──r──r──|
        lifecycle  ────────────────────r──r──r──|
    """
    total = len(requests)

    def progress_of(snapshots: Observable[MessageBatch]) -> Observable[rbo.BatchProgress]:
        return snapshots.pipe(
            rbo.progress(total=total),
            ops.distinct_until_changed(_done_and_ended),
            ops.do_action(on_progress),
        )

    def results_of(snapshots: Observable[MessageBatch]) -> Observable[Result]:
        def download(ended: MessageBatch) -> Observable[Result]:
            return batches.results_streaming(ended.id)

        # last(): the `ended` snapshot, since watch completes right after emitting it.
        return snapshots.pipe(ops.last(), ops.flat_map(download))

    def both(snapshots: Observable[MessageBatch]) -> Observable[Result]:
        return reactivex.merge(
            progress_of(snapshots).pipe(ops.ignore_elements()), results_of(snapshots)
        )

    def watch_then_results(batch: MessageBatch) -> Observable[Result]:
        # publish(selector): both branches share one watch, so each poll serves the two.
        return batches.watch(batch.id, interval=interval).pipe(ops.publish(both))

    return batches.create(requests).pipe(ops.flat_map(watch_then_results))


@dataclass(frozen=True)
class Summary:
    """What the three consumers of the results found."""

    counts: dict[str, int]
    output_tokens: int
    samples: list[rbo.MessageText]


def _result_type(response: Result) -> str:
    return response.result.type


def _count_group(group: GroupedObservable[str, Result]) -> Observable[tuple[str, int]]:
    def pair(count: int) -> tuple[str, int]:
        return group.key, count

    return group.pipe(ops.count(), ops.map(pair))


def _output_tokens(pair: rbo.SucceededMessage) -> int:
    return pair.message.usage.output_tokens


def _is_sample(text: rbo.MessageText) -> bool:
    return "tides" in text.text or "Doppler" in text.text


def summarize(results: Observable[Result]) -> Observable[Summary]:
    """Fold one results stream into a :class:`Summary`, downloading it once.

    ::

        results    ──s──e──s──s──|
        summarize  ──────────────(summary)|
    """

    def consumers(shared: Observable[Result]) -> Observable[Summary]:
        counts: Observable[list[tuple[str, int]]] = shared.pipe(
            ops.group_by(_result_type), ops.flat_map(_count_group), ops.to_list()
        )
        tokens: Observable[float] = shared.pipe(rbo.succeeded(), ops.map(_output_tokens), ops.sum())
        samples: Observable[list[rbo.MessageText]] = shared.pipe(
            rbo.texts(), ops.filter(_is_sample), ops.take(3), ops.to_list()
        )

        def combine(found: tuple[Any, ...]) -> Summary:
            return Summary(dict(found[0]), int(found[1]), list(found[2]))

        # fork_join: one Summary once all three have completed (each emits one list/sum).
        return reactivex.fork_join(counts, tokens, samples).pipe(ops.map(combine))

    return results.pipe(ops.publish(consumers))


async def run() -> int:
    """Run the lifecycle once and check its summary; returns the exit status."""
    requests = make_requests(sized(120, 12))
    started = time.monotonic()
    async with connect_async(responder=fail_some) as target:

        def report(p: rbo.BatchProgress) -> None:
            print(f"  {p.processing_status:<11} {p.done:>4}/{p.total} done ({p.fraction:.0%})")

        print(f"creating a batch of {len(requests)} requests on {target.client.options.base_url}")
        results = lifecycle(
            target.client.messages.batches,
            requests,
            interval=target.poll_interval,
            on_progress=report,
        )
        summary = await summarize(results)

    print(f"done in {time.monotonic() - started:.1f}s")
    print("results by type:", dict(sorted(summary.counts.items())))
    print("output tokens:", summary.output_tokens)
    for sample in summary.samples:
        print(f"  {sample.custom_id}: {sample.text[:70]}")

    if sum(summary.counts.values()) != len(requests):
        print(f"expected {len(requests)} results, got {summary.counts}", file=sys.stderr)
        return 1
    if target.emulator is not None:
        expected_errors = sum(1 for r in requests if r["custom_id"].endswith("7"))
        if summary.counts.get("errored", 0) != expected_errors or not summary.samples:
            print(f"unexpected summary: {summary}", file=sys.stderr)
            return 1
    return 0


def main() -> int:
    """Run the example; returns the exit status."""
    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
