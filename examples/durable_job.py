"""A durable job: interrupted half-way, run again, finished without sending anything twice.

What it shows:

1. ``batches.run(requests, store=path)`` keeps the job's state in an SQLite file. The
   first run is interrupted (its subscription disposed, as Ctrl-C would) once its first
   batch has been created: the batch goes on on the server.
2. The same call again continues the job: the batch already made is followed, not made
   again; only the requests without a batch go into new batches; the emulator's
   transient failures (``--error-rate``) are resubmitted (``retry_errored``).
3. A third run of the finished job creates no batch at all, and the store's summary
   gives the counts, the token usage and an estimated cost at batch prices.

Run it::

    python examples/durable_job.py
    RXBATCHES_USE_REAL_API=1 ANTHROPIC_API_KEY=sk-ant-... python examples/durable_job.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import connect, make_requests, sized
from reactivex import Observable

import rxbatches
import rxbatches.operators as rbo
from rxbatches import BatchSubmitted, JobEvent, JobStore


def main() -> int:
    """Run, interrupt, resume and rerun a job; returns the exit status."""
    count = sized(emulator=600, real=6)
    requests = make_requests(count, prefix="durable")
    with tempfile.TemporaryDirectory() as tmp, connect(error_rate=0.05) as target:
        store = Path(tmp) / "job.db"
        batches = target.client.messages.batches

        def run(concurrent: int = 2) -> Observable[JobEvent]:
            return batches.run(
                requests,
                store=store,
                interval=target.poll_interval,
                max_requests_per_batch=max(1, count // 3),
                max_concurrent_batches=concurrent,
            )

        # 1. Interrupted once its first batch exists (leaving the loop disposes the job).
        # One batch at a time, so no other create is on its way at that moment: a
        # batch's create cut short leaves the next run waiting up to a minute for it,
        # in case it reached the server (see the README's "Durable jobs").
        for event in rxbatches.iterate(run(concurrent=1)):
            if isinstance(event, BatchSubmitted):
                print(f"first run: batch {event.batch.id} created, then interrupted")
                break

        # 2. Resumed: the same call continues the job.
        final = rxbatches.to_list(run().pipe(rbo.job_progress()))[-1]
        print(
            f"second run: {final.succeeded} of {final.total} succeeded in {final.batches} batches"
        )
        made = final.batches

        # 3. Finished: a rerun sends nothing.
        again = rxbatches.to_list(run().pipe(rbo.job_progress()))[-1]
        assert again.batches == made, "a finished job made a batch"
        print(f"third run: no new batch ({again.batches} in all)")

        with JobStore.open(store, lock=False) as opened:
            summary = opened.summary()
    cost = "unknown" if summary.cost_usd is None else f"${summary.cost_usd:.4f}"
    print(
        f"summary: {summary.succeeded} succeeded, {summary.errored} errored;"
        f" {summary.usage.input_tokens} input and {summary.usage.output_tokens} output tokens;"
        f" estimated cost {cost}"
    )
    return 0 if summary.pending == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
