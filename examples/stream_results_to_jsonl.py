"""Subscribe to a batch's result stream and write it to a JSONL file, from plain sync code.

What it shows:

- the client used without asyncio: ``observable.run()`` blocks until the last item
  (the created batch, then the ``ended`` snapshot of ``watch``);
- ``results_streaming(batch_id).subscribe(on_next, on_error, on_completed)``: each result
  is written as one JSON line as soon as its bytes arrive, in constant memory whatever
  the size of the batch. Without a running loop in the subscribing thread, items arrive
  on the client's background event-loop thread, one at a time, so the file is only ever
  written by that thread; the main thread waits on an ``Event``;
- Ctrl-C disposes the subscription, which aborts the download and releases the
  connection;
- reading the file back into models to check that every request has one line.

Run it::

    python examples/stream_results_to_jsonl.py [-o results.jsonl] [-n 500]
    RXBATCHES_USE_REAL_API=1 ANTHROPIC_API_KEY=sk-ant-... python examples/stream_results_to_jsonl.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from _common import connect, make_requests, sized

from rxbatches import APIError, MessageBatchIndividualResponse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help="the JSONL file to keep (default: a temporary file, deleted at the end)",
    )
    parser.add_argument(
        "-n", "--requests", type=int, default=sized(500, 10), help="requests in the batch"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the example; returns the exit status."""
    args = parse_args(argv)
    requests = make_requests(args.requests)
    with tempfile.TemporaryDirectory() as scratch, connect() as target:
        output: Path = args.output or Path(scratch) / "results.jsonl"
        batches = target.client.messages.batches

        batch = batches.create(requests).run()
        print(f"created {batch.id}; waiting for it to end")
        ended = batches.watch(batch.id, interval=target.poll_interval).run()
        print(f"{ended.id} ended: {ended.request_counts.succeeded} succeeded")

        done = threading.Event()
        failure: list[Exception] = []
        written = 0

        with output.open("w", encoding="utf-8") as out:

            def write(result: MessageBatchIndividualResponse) -> None:
                nonlocal written
                # exclude_unset: the line is the JSON the API sent (fields unknown to
                # this version included), not a re-rendering with defaults filled in.
                out.write(result.model_dump_json(by_alias=True, exclude_unset=True))
                out.write("\n")
                written += 1

            def fail(error: Exception) -> None:
                failure.append(error)
                done.set()

            subscription = batches.results_streaming(ended.id).subscribe(
                on_next=write, on_error=fail, on_completed=done.set
            )
            try:
                done.wait()
            except KeyboardInterrupt:
                subscription.dispose()  # aborts the download; nothing is written after this
                print("interrupted", file=sys.stderr)
                return 130

        if failure:
            error = failure[0]
            kind = type(error).__name__ if isinstance(error, APIError) else "error"
            print(f"{kind} while streaming results: {error}", file=sys.stderr)
            return 1
        # The temporary file is deleted on the way out: name only a file that stays.
        where = output if args.output else "a temporary file (pass -o FILE to keep it)"
        print(f"wrote {written} lines to {where}")
        return check(output, [r["custom_id"] for r in requests])


def check(path: Path, custom_ids: list[str]) -> int:
    """Read the file back: one valid result line per request, no more, no less."""
    with path.open(encoding="utf-8") as lines:
        seen = [
            MessageBatchIndividualResponse.model_validate_json(line).custom_id for line in lines
        ]
    if sorted(seen) != sorted(custom_ids):
        print(f"expected {len(custom_ids)} results, the file has {len(seen)}", file=sys.stderr)
        return 1
    print(f"checked: one result per request, {len(seen)} in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
