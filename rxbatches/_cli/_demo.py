"""``rxbatches demo``: a whole batch job against the embedded emulator, in seconds.

It starts the emulator on 127.0.0.1, submits a few thousand realistic requests (about
5% of which fail, deterministically), shows live progress while they are processed,
streams the results to a JSONL file and prints a summary table. Nothing leaves the
machine and no API key is needed.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reactivex import Observable
from reactivex import operators as ops

import rxbatches.operators as rbo
from rxbatches import (
    MAX_REQUESTS,
    Client,
    MessageBatch,
    MessageBatchErroredResult,
    MessageBatchIndividualResponse,
    MessageBatchSucceededResult,
    Request,
)
from rxbatches.emulator import EmulatorThread, Fail, Outcome, Succeed

from ._files import atomic_output, display_path
from ._format import dumps, table
from ._progress import ProgressLine, format_duration
from ._run import drain
from ._session import CommandError, Session

__all__ = ["DEFAULT_OUTPUT", "add_arguments", "demo", "demo_requests", "demo_responder"]

DEFAULT_OUTPUT = "rxbatches-demo-results.jsonl"
_MODEL = "claude-sonnet-4-5"
# Emulator seconds per request (spread around this mean) and requests processed at
# once: 3,000 requests then take about four seconds, long enough to watch.
_MEAN_LATENCY = 0.08
_CONCURRENCY = 64
_POLL_INTERVAL = 0.2
_FAILURE_PER_MILLE = 50  # 5% of requests error

_PRODUCTS = [
    "wireless earbuds", "standing desk", "espresso machine", "trail running shoes",
    "mechanical keyboard", "air purifier", "e-reader", "cast iron skillet",
    "robot vacuum", "hiking backpack", "smart thermostat", "electric kettle",
]  # fmt: skip
_OPINIONS = [
    "arrived a day early and works exactly as described",
    "stopped working after two weeks and support never answered",
    "is fine for the price, though the manual is confusing",
    "exceeded my expectations; I bought a second one for my parents",
    "looks great but is much louder than the listing suggests",
    "was missing a part, which the seller replaced quickly",
]
_TASKS = [
    ("Classify the sentiment of this review as positive, negative or mixed.", 16),
    ("Summarize this review in one sentence for a product manager.", 64),
    ("Extract the product issues mentioned in this review as a JSON list.", 128),
    ("Draft a short, friendly reply from customer support to this review.", 256),
]
_ERRORS = [
    ("invalid_request_error", "prompt is too long: 204,417 tokens > 200,000 maximum"),
    ("invalid_request_error", "max_tokens: 256 > 128, the maximum for this model version"),
    ("api_error", "Internal server error"),
    ("overloaded_error", "Overloaded"),
]


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def demo_requests(count: int) -> list[dict[str, Any]]:
    """Build ``count`` realistic requests: customer reviews to classify, summarize, answer.

    Args:
        count: How many requests.

    Returns:
        The requests as wire dicts, with ``custom_id`` ``review-00001`` and so on.
    """
    requests = []
    for i in range(count):
        product = _PRODUCTS[i % len(_PRODUCTS)]
        opinion = _OPINIONS[(i // len(_PRODUCTS)) % len(_OPINIONS)]
        task, max_tokens = _TASKS[(i * 7) % len(_TASKS)]
        review = f"Review #{i + 1}: The {product} {opinion}."
        requests.append(
            {
                "custom_id": f"review-{i + 1:05d}",
                "params": {
                    "model": _MODEL,
                    "max_tokens": max_tokens,
                    "system": "You are a concise assistant for an online store's review team.",
                    "messages": [{"role": "user", "content": f"{task}\n\n{review}"}],
                },
            }
        )
    return requests


def demo_responder(request: Request) -> Outcome:
    """Decide a demo request's outcome from its ``custom_id``: the same every run.

    About 5% fail with one of a few realistic errors; latencies spread between half and
    one and a half times the mean, so progress moves smoothly.
    """
    digest = _digest(request.custom_id)
    latency = _MEAN_LATENCY * (0.5 + (digest % 1000) / 1000)
    if (digest >> 16) % 1000 < _FAILURE_PER_MILLE:
        error_type, message = _ERRORS[(digest >> 32) % len(_ERRORS)]
        return Fail(error_type, message, latency=latency)
    return Succeed(latency=latency)


class _Tally:
    """What the summary table reports, gathered as results stream in."""

    def __init__(self) -> None:
        self.by_type: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.input_tokens = 0
        self.output_tokens = 0

    def add(self, response: MessageBatchIndividualResponse) -> None:
        result = response.result
        self.by_type[result.type] += 1
        if isinstance(result, MessageBatchSucceededResult):
            self.input_tokens += result.message.usage.input_tokens
            self.output_tokens += result.message.usage.output_tokens
        elif isinstance(result, MessageBatchErroredResult):
            self.errors[result.error.error.type] += 1


def demo(session: Session) -> int:
    """Run the demo; returns the exit status."""
    args = session.args
    output = Path(display_path(args.output))
    count: int = args.requests
    if not 1 <= count <= MAX_REQUESTS:
        raise CommandError(f"--requests: must be between 1 and {MAX_REQUESTS:,}, not {count}")
    requests = demo_requests(count)
    tally = _Tally()
    err = session.err
    processing = ProgressLine(err, "processing", enabled=not session.quiet)
    receiving = ProgressLine(err, "results", enabled=not session.quiet)
    ended: list[MessageBatch] = []
    timings: dict[str, float] = {"start": time.monotonic()}

    if not session.quiet:
        err.write(
            f"rxbatches demo: {count:,} requests to the embedded emulator; results go to {output}\n"
        )
        err.flush()

    with (
        # Written beside, renamed once complete: a failed run keeps an earlier file.
        atomic_output(output) as stream,
        EmulatorThread(
            request_latency=_MEAN_LATENCY, concurrency=_CONCURRENCY, responder=demo_responder
        ) as emulator,
        # The emulator takes any non-empty key; this one is not a secret.
        Client(api_key="rxbatches-demo", base_url=emulator.base_url) as client,
    ):
        batches = client.messages.batches

        def on_snapshot(batch: MessageBatch) -> None:
            item = rbo.BatchProgress.from_batch(batch, count)
            processing.update(item.done, item.total, item.processing_status, force=item.ended)

        def on_ended(batch: MessageBatch) -> None:
            ended.append(batch)
            timings["ended"] = time.monotonic()
            processing.finish(f"batch {batch.id} ended in {format_duration(processing.elapsed)}")

        def lifecycle(batch: MessageBatch) -> Observable[MessageBatchIndividualResponse]:
            timings["created"] = time.monotonic()
            snapshots = batches.watch(batch.id, interval=_POLL_INTERVAL)
            # watch completes right after the ended snapshot: last() is that one.
            last: Callable[[Observable[MessageBatch]], Observable[MessageBatch]] = ops.last()
            return snapshots.pipe(
                ops.do_action(on_snapshot),
                last,
                ops.do_action(on_ended),
                ops.flat_map(lambda _: batches.results_streaming(batch.id)),
            )

        def on_result(response: MessageBatchIndividualResponse) -> None:
            stream.write(dumps(response.to_wire()) + "\n")
            tally.add(response)
            done = tally.by_type.total()
            receiving.update(done, count, "lines received", force=done == count)

        try:
            drain(batches.create(requests).pipe(ops.flat_map(lifecycle)), on_result)
        except BaseException:
            processing.finish()
            receiving.finish()  # nothing was written: say nothing about a file
            raise
        processing.finish()
    received = tally.by_type.total()
    noun = "line" if received == 1 else "lines"
    receiving.finish(f"{received:,} {noun} written to {output}")
    timings["end"] = time.monotonic()
    _summary(session, tally, ended[0], output, timings)
    return 0


def _summary(
    session: Session,
    tally: _Tally,
    batch: MessageBatch,
    output: Path,
    timings: dict[str, float],
) -> None:
    total = tally.by_type.total()
    elapsed = timings["end"] - timings["start"]
    processing = timings["ended"] - timings["created"]
    streaming = timings["end"] - timings["ended"]
    if session.json:
        session.print(
            dumps(
                {
                    "batch": batch.to_wire(),
                    "results": total,
                    "by_type": {k: tally.by_type[k] for k in _RESULT_TYPES},
                    "errors": dict(sorted(tally.errors.items())),
                    "input_tokens": tally.input_tokens,
                    "output_tokens": tally.output_tokens,
                    "seconds": round(elapsed, 3),
                    "output": str(output),
                }
            )
        )
        return
    rows = []
    for kind in _RESULT_TYPES:
        n = tally.by_type[kind]
        rows.append([kind, f"{n:,}", f"{n / max(total, 1):.1%}"])
        if kind == "errored":
            for error_type, errors in sorted(tally.errors.items(), key=lambda item: -item[1]):
                rows.append([f"  {error_type}", f"{errors:,}", ""])
    rows.append(["total", f"{total:,}", "100.0%" if total else "0.0%"])
    lines = ["", f"Batch {batch.id}: {batch.processing_status}", ""]
    lines += ["  " + line for line in table(rows, header=["RESULT", "COUNT", "SHARE"])]
    lines.append("")
    rate = total / max(elapsed, 1e-9)
    details = [
        ("input tokens", f"{tally.input_tokens:,}"),
        ("output tokens", f"{tally.output_tokens:,}"),
        ("processing", f"{format_duration(processing)} (created to ended)"),
        ("results download", format_duration(streaming)),
        ("total time", f"{format_duration(elapsed)} ({rate:,.0f} requests/s)"),
        ("results file", f"{output} ({total:,} {'line' if total == 1 else 'lines'})"),
    ]
    width = max(len(name) for name, _ in details)
    lines += [f"  {name.ljust(width)}  {value}" for name, value in details]
    for line in lines:
        session.print(line)


_RESULT_TYPES = ("succeeded", "errored", "canceled", "expired")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the demo's own options."""
    parser.add_argument(
        "-o",
        "--output",
        default=DEFAULT_OUTPUT,
        metavar="FILE",
        help="where to write the results, complete or not at all (default"
        " ./%(default)s, in the current directory)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=3000,
        metavar="N",
        help="how many requests to submit (default %(default)s)",
    )
