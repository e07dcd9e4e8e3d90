"""``rxbatches run`` and ``rxbatches job status|export|cancel``: durable jobs from the shell.

``run REQUESTS.jsonl --store JOB.db`` drives a durable job (:mod:`rxbatches._jobs.durable`)
with live progress and exits 0 once every request has a final result, 1 on an error, 130
on Ctrl-C; run the same command again after any of them (or after ``kill -9``) and it
continues. With ``--dashboard`` the run serves the dashboard of its store on its own
event loop while it lasts (its URL first on stdout, which ``run`` otherwise leaves
empty). ``job status`` and ``job export`` read the store without the lock, so they
work while a run is going on; ``job cancel`` asks the server to cancel the job's batches
still in progress (the run following them then stores their ``canceled`` results; one
that has ended is left for the next run to fetch).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections.abc import Callable

import reactivex
from reactivex import Observable
from reactivex import operators as ops

from rxbatches import APIStatusError, Client, JobProgressed, MessageBatch, read_requests_jsonl
from rxbatches._base.validation import MAX_REQUESTS
from rxbatches._jobs.durable import DEFAULT_RETRY_ERRORED, run_durable
from rxbatches._jobs.events import JobEvent
from rxbatches._jobs.store import JobStore, JobSummary
from rxbatches._service.batches import job_parts
from rxbatches.dashboard import make_app
from rxbatches.dashboard._serve import DEFAULT_INTERVAL, catch_signals, serving

from ._files import atomic_output, display_path
from ._run import drain
from ._session import Session
from ._types import count, non_negative, port_number, seconds

__all__ = ["add_job_parser", "add_run_arguments", "run_command"]

EXIT_USAGE = 2
DASHBOARD_HOST = "127.0.0.1"


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``rxbatches run``."""
    parser.add_argument("requests", metavar="REQUESTS.jsonl", help="the job's requests")
    parser.add_argument(
        "--store",
        required=True,
        metavar="JOB.db",
        help="the job store (SQLite): created on the first run, continued by the next ones",
    )
    parser.add_argument(
        "--batch-size",
        type=count("max_requests_per_batch", at_most=MAX_REQUESTS),
        default=MAX_REQUESTS,
        metavar="N",
        help="at most N requests per batch (default and most: %(default)s)",
    )
    parser.add_argument(
        "--interval",
        type=seconds("interval"),
        default=5.0,
        metavar="SECONDS",
        help="seconds between polls of each batch (default %(default)s)",
    )
    parser.add_argument(
        "--retry-errored",
        type=non_negative("retry_errored"),
        default=DEFAULT_RETRY_ERRORED,
        metavar="N",
        help="resubmit a request that failed for a transient reason (or expired) up to N"
        " times (default %(default)s); invalid requests never",
    )
    parser.add_argument(
        "--retry-canceled",
        action="store_true",
        help="resubmit canceled requests too",
    )
    parser.add_argument(
        "--max-concurrent",
        type=count("max_concurrent_batches"),
        default=2,
        metavar="N",
        help="batches in flight at once (default %(default)s)",
    )
    dashboard = parser.add_argument_group("dashboard")
    dashboard.add_argument(
        "--dashboard",
        action="store_true",
        help="serve the live dashboard of this job (the page of `rxbatches dashboard`, with"
        " this store) while the run lasts: its URL, with the access token, is the first line"
        " on stdout; the server stops when the run ends, and the exit status is the run's",
    )
    dashboard.add_argument(
        "--dashboard-port",
        type=port_number,
        metavar="PORT",
        help="the dashboard's port (default: a free one); needs --dashboard",
    )
    dashboard.add_argument(
        "--dashboard-host",
        metavar="HOST",
        help=f"the dashboard's interface (default {DASHBOARD_HOST}); needs --dashboard",
    )


def run_command(session: Session) -> int:
    """``run REQUESTS.jsonl --store JOB.db [--dashboard]``: drive a durable job to its end."""
    args = session.args
    if not args.dashboard:
        for option, value in (
            ("--dashboard-port", args.dashboard_port),
            ("--dashboard-host", args.dashboard_host),
        ):
            if value is not None:
                # A usage error, worded as argparse's own (see _app.main).
                session.err.write(
                    f"error: argument {option}: needs --dashboard (see `rxbatches run --help`)\n"
                )
                return EXIT_USAGE
    bar = session.progress("run")
    latest: list[JobProgressed] = []

    def show(event: JobEvent) -> None:
        if isinstance(event, JobProgressed):
            latest[:] = [event]
            p = event.progress
            bar.update(
                p.done,
                p.total,
                f"{p.succeeded:,} ok, {p.errored:,} errored, {p.batches} batches",
            )

    ok = False
    try:
        with session.client() as client:
            job = run_durable(
                job_parts(client.messages.batches),
                read_requests_jsonl(args.requests),
                args.store,
                interval=args.interval,
                max_concurrent_batches=args.max_concurrent,
                max_requests_per_batch=args.batch_size,
                max_body_bytes=256 * 1024 * 1024,
                retry_errored=args.retry_errored,
                retry_canceled=args.retry_canceled,
                replay=False,
                result_events=False,
            )
            if args.dashboard:
                _with_dashboard(session, client, job, show)
            else:
                drain(job, show)
        ok = True
    finally:
        bar.finish(_run_summary(args.store) if ok else None)
    return 0


def _with_dashboard(
    session: Session, client: Client, job: Observable[JobEvent], on_next: Callable[[JobEvent], None]
) -> None:
    """Drive ``job`` on an event loop of this thread that serves its dashboard meanwhile.

    Raises:
        Exception: The job's error, once the server is down and the client closed.
        KeyboardInterrupt: On Ctrl-C, after the same cleanup.
    """
    if asyncio.run(_serve_during(session, client, job, on_next)):
        raise KeyboardInterrupt


async def _serve_during(
    session: Session, client: Client, job: Observable[JobEvent], on_next: Callable[[JobEvent], None]
) -> bool:
    """Serve the dashboard, run the job until it ends or Ctrl-C; True if interrupted.

    ::

        job        ──e1──e2──…──|        (or ──X, or Ctrl-C)
        dashboard  [URL printed ····]    (shut down, then the client closed)
    """
    args = session.args
    stop = asyncio.Event()  # the job ended (or failed), or Ctrl-C
    caught = catch_signals(stop, signal.SIGINT)
    errors: list[Exception] = []

    def on_error(error: Exception) -> None:
        errors.append(error)
        stop.set()

    # The dashboard polls with the run's client, on this loop; it reads the store
    # without the lock the run holds.
    app = make_app(client, stores=[args.store], interval=DEFAULT_INTERVAL)
    host = DASHBOARD_HOST if args.dashboard_host is None else args.dashboard_host
    try:
        async with serving(app, host, args.dashboard_port or 0) as url:
            session.print(url)
            session.out.flush()
            # Subscribed on this running loop, the job runs here, beside the server.
            subscription = job.subscribe(on_next, on_error, stop.set)
            try:
                await stop.wait()
            finally:
                subscription.dispose()
    finally:
        await client.aclose()
    if caught:
        return True  # Ctrl-C wins over an outcome that came with it, as with drain()
    if errors:
        raise errors[0]
    return False


def _run_summary(path: str) -> str:
    with JobStore.open(path, lock=False, create=False) as store:
        summary = store.summary()
    return f"done: {_describe(summary)}; the store is {display_path(path)}"


def _describe(s: JobSummary) -> str:
    cost = "unknown" if s.cost_usd is None else f"${s.cost_usd:,.4f}"
    return (
        f"{s.requests:,} requests: {s.succeeded:,} succeeded, {s.errored:,} errored,"
        f" {s.expired:,} expired, {s.canceled:,} canceled, {s.pending:,} pending;"
        f" {s.batches} batches; estimated cost {cost}"
    )


def _open(path: str) -> JobStore:
    return JobStore.open(path, lock=False, create=False)


def status(session: Session) -> int:
    """``job status JOB.db [--json]``."""
    with _open(session.args.store) as store:
        summary = store.summary()
    if session.json:
        session.print(json.dumps(summary.as_json(), sort_keys=True))
        return 0
    session.print(_describe(summary))
    u = summary.usage
    session.print(
        f"usage: {u.input_tokens:,} input, {u.output_tokens:,} output,"
        f" {u.cache_creation_input_tokens:,} cache write, {u.cache_read_input_tokens:,}"
        " cache read tokens"
    )
    for batch_id in summary.live_batches:
        session.print(f"live batch: {batch_id}")
    return 0


def export(session: Session) -> int:
    """``job export JOB.db [-o FILE]``: one JSONL result line per custom_id."""
    output: str | None = session.args.output
    with _open(session.args.store) as store:
        if output in (None, "-"):
            for line in store.export_lines():
                session.out.write(line.decode() + "\n")
            session.out.flush()
            return 0
        assert output is not None
        count = 0
        with atomic_output(output) as stream:
            for line in store.export_lines():
                stream.write(line.decode() + "\n")
                count += 1
    session.err.write(f"export: {count:,} lines written to {display_path(output)}\n")
    return 0


def cancel(session: Session) -> int:
    """``job cancel JOB.db``: ask the server to cancel the job's batches still in progress.

    A live batch of the store (its results not all stored) may have ended meanwhile: it
    cannot be canceled, and the job's next run fetches its results. Each is retrieved
    first, and only those in progress are canceled (a refusal from a batch that ended in
    between is reported as ended too).
    """
    with _open(session.args.store) as store:
        live = store.summary().live_batches
    if not live:
        session.err.write("cancel: the job has no live batch\n")
        return 0
    settled: dict[str, tuple[MessageBatch, bool]] = {}
    with session.client() as client:
        batches = client.messages.batches

        def settle(batch_id: str) -> Observable[tuple[MessageBatch, bool]]:
            """``──(batch, asked)|``: canceled if it was in progress, else as it is."""

            def refused(error: Exception, _: object) -> Observable[tuple[MessageBatch, bool]]:
                if not isinstance(error, APIStatusError) or error.status_code >= 500:
                    return reactivex.throw(error)
                return batches.retrieve(batch_id).pipe(
                    ops.flat_map(
                        lambda b: reactivex.just((b, False)) if b.ended else reactivex.throw(error)
                    )
                )

            def cancel_if_in_progress(batch: MessageBatch) -> Observable[tuple[MessageBatch, bool]]:
                if batch.processing_status != "in_progress":
                    return reactivex.just((batch, False))
                return batches.cancel(batch_id).pipe(
                    ops.map(lambda b: (b, True)), ops.catch(refused)
                )

            return batches.retrieve(batch_id).pipe(ops.flat_map(cancel_if_in_progress))

        def record(item: tuple[MessageBatch, bool]) -> None:
            settled[item[0].id] = item

        drain(reactivex.merge(*(settle(batch_id) for batch_id in live)), record)
    asked = 0
    for batch_id in live:
        batch, canceled = settled[batch_id]
        if batch.ended:
            session.err.write(
                f"cancel: batch {batch_id} has ended, its results are not stored yet: run the"
                " job again to fetch them\n"
            )
        elif canceled:
            session.print(batch_id)
            asked += 1
        else:
            session.err.write(f"cancel: batch {batch_id} is being canceled already\n")
    session.err.write(f"cancel: asked to cancel {asked} batch(es)\n")
    return 0


def add_job_parser(
    job: argparse.ArgumentParser,
    common: argparse.ArgumentParser,
    wrap: Callable[[Callable[[Session], int]], Callable[[argparse.Namespace], int]],
) -> None:
    """The ``job`` subcommands under ``job``."""
    actions = job.add_subparsers(dest="job_command", metavar="ACTION", required=True)
    for name, help_text, handler in (
        ("status", "where the job stands: counts, usage, estimated cost", status),
        ("export", "one JSONL result line per custom_id (its final attempt)", export),
        ("cancel", "cancel the job's batches still in progress on the server", cancel),
    ):
        sub = actions.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.add_argument("store", metavar="JOB.db", help="the job store")
        if name == "export":
            sub.add_argument(
                "-o",
                "--output",
                metavar="FILE",
                help="write there, complete or not at all (default: stdout)",
            )
        sub.set_defaults(handler=wrap(handler))
