"""The client subcommands: create, retrieve, list, watch, results, cancel, delete.

Each one is a function of a :class:`~._session.Session` returning the exit status; it
uses nothing but the public API, as a user's script would.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, TextIO, TypeVar

from reactivex import Observable
from reactivex import operators as ops

import rxbatches.operators as rbo
from rxbatches import (
    BatchService,
    CreateValidationError,
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchIndividualResponse,
    MessageBatchPage,
    NotFoundError,
)

from ._files import atomic_output, display_path
from ._format import counts_text, dumps, list_row, table
from ._not_found import DEFAULT_GRACE, retry_not_found
from ._run import drain
from ._session import CommandError, Session
from ._types import count, seconds, seconds_or_zero

__all__ = ["COMMANDS", "read_requests"]

Handler = Callable[[Session], int]
T = TypeVar("T")
AnyBatch = TypeVar("AnyBatch", MessageBatch, DeletedMessageBatch)


def read_requests(path: str) -> tuple[list[Any], list[int]]:
    """Read one request per line of a JSONL file (``-``: stdin); blank lines are skipped.

    Returns:
        The decoded requests, and the file line number of each one.

    Raises:
        CommandError: The file cannot be read, or a line is not JSON (naming the line).
    """
    requests: list[Any] = []
    lines: list[int] = []
    try:
        with _open_input(path) as stream:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    requests.append(json.loads(line))
                except ValueError as exc:
                    message = getattr(exc, "msg", str(exc))
                    raise CommandError(f"{path}:{number}: not valid JSON: {message}") from None
                lines.append(number)
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CommandError(f"cannot read {path}: not UTF-8 text ({exc.reason})") from None
    return requests, lines


@contextlib.contextmanager
def _open_input(path: str) -> Iterator[TextIO]:
    if path == "-":
        yield sys.stdin
    else:
        with open(path, encoding="utf-8") as stream:
            yield stream


def create(session: Session) -> int:
    """``create FILE.jsonl``: submit the requests of a file as one batch."""
    path: str = session.args.file
    requests, lines = read_requests(path)
    batches: list[MessageBatch] = []
    with session.client() as client:
        try:
            drain(client.messages.batches.create(requests), batches.append)
        except CreateValidationError as exc:
            if exc.index is not None and exc.index < len(lines):
                where = f"{path}:{lines[exc.index]}"
            else:
                where = path
            raise CommandError(f"{where}: {exc.field}: {exc.rule}") from None
    if session.args.id_only:
        session.print(batches[0].id)
    else:
        session.print_batch(batches[0])
    return 0


def _with_grace(session: Session, make: Callable[[], Observable[T]]) -> Observable[T]:
    """``make()``, asked again after a 404 during ``--not-found-grace`` (see ``_not_found``)."""
    grace: float = session.args.not_found_grace
    said: list[bool] = []

    def on_wait(error: NotFoundError, remaining: float) -> None:
        if said or session.quiet:
            return
        said.append(True)
        session.err.write(
            f"{session.args.command}: {session.args.batch_id} not found (404) yet; a batch"
            f" just created can take a moment to appear: asking again for {remaining:.1f}s"
            " more (--not-found-grace)\n"
        )
        session.err.flush()

    return retry_not_found(make, grace, on_wait)


def _one(session: Session, make: Callable[[BatchService], Observable[AnyBatch]]) -> int:
    items: list[AnyBatch] = []
    with session.client() as client:
        batches = client.messages.batches
        drain(_with_grace(session, lambda: make(batches)), items.append)
    session.print_batch(items[0])
    return 0


def retrieve(session: Session) -> int:
    """``retrieve ID``: print a batch's current state."""
    return _one(session, lambda batches: batches.retrieve(session.args.batch_id))


def cancel(session: Session) -> int:
    """``cancel ID``: ask for a batch to be canceled."""
    return _one(session, lambda batches: batches.cancel(session.args.batch_id))


def delete(session: Session) -> int:
    """``delete ID``: delete an ended batch."""
    return _one(session, lambda batches: batches.delete(session.args.batch_id))


_MAX_PAGE = 1000  # the API's largest page


def list_batches(session: Session) -> int:
    """``list``: the newest batches, newest first (``--all``: every page)."""
    args = session.args
    limit: int | None = None if args.all else args.limit
    backwards = args.before_id is not None
    found: list[MessageBatch] = []
    more: list[bool] = [False]

    def keep(page: MessageBatchPage) -> bool:
        # Each page is newest first; paging backwards, each page is newer than the last.
        if backwards:
            found[:0] = page.data
        else:
            found.extend(page.data)
        more[0] = page.has_more
        return limit is None or len(found) < limit

    with session.client() as client:
        pages = client.messages.batches.list_pages(
            limit=min(limit or _MAX_PAGE, _MAX_PAGE),
            before_id=args.before_id,
            after_id=args.after_id,
        )
        drain(pages.pipe(ops.take_while(keep, inclusive=True)))
    if limit is not None and len(found) > limit:
        found = found[-limit:] if backwards else found[:limit]
        more[0] = True
    if session.json:
        session.print(dumps([batch.to_wire() for batch in found]))
    elif not found:
        session.err.write("no batches\n")
    else:
        header = ["ID", "STATUS", "REQUESTS", "CREATED"]
        for line in table([list_row(batch) for batch in found], header=header):
            session.print(line)
    if found and more[0] and not session.quiet:
        # Where the next page starts, to copy into the next command.
        option = f"--before-id {found[0].id}" if backwards else f"--after-id {found[-1].id}"
        session.err.write(f"more: rxbatches list {option} (or --all)\n")
    return 0


def watch(session: Session) -> int:
    """``watch ID``: a live progress bar until the batch has ended."""
    bar = session.progress("watch")
    last: list[MessageBatch] = []

    def show(batch: MessageBatch) -> None:
        last[:] = [batch]

    def draw(item: rbo.BatchProgress) -> None:
        bar.update(item.done, item.total, item.processing_status, force=item.ended)

    with session.client() as client:
        batches = client.messages.batches
        # The CLI's own grace (which says so on stderr) replaces the library's.
        snapshots = _with_grace(
            session,
            lambda: batches.watch(
                session.args.batch_id, interval=session.args.interval, not_found_grace=0
            ),
        )
        try:
            drain(snapshots.pipe(ops.do_action(show), rbo.progress()), draw)
        finally:
            bar.finish(f"{last[0].processing_status}, {counts_text(last[0])}" if last else None)
    session.print_batch(last[-1])
    return 0


def results(session: Session) -> int:
    """``results ID [-o FILE]``: stream an ended batch's results as JSONL.

    A file is written beside its target and renamed over it once complete: on any
    failure or Ctrl-C an existing file is left as it was.
    """
    output: str | None = session.args.output
    to_file = output not in (None, "-")
    bar = session.progress("results")
    by_type: Counter[str] = Counter()

    # JSONL going to the terminal itself: a redrawn bar would garble it, so only the
    # final count is shown.
    show_updates = to_file or not _isatty(session.out)

    ok = False
    try:
        with _open_output(output) as stream, session.client() as client:

            def write(result: MessageBatchIndividualResponse) -> None:
                stream.write(dumps(result.to_wire()) + "\n")
                by_type[result.result.type] += 1
                if show_updates:
                    bar.update(by_type.total(), detail="lines received")

            batches = client.messages.batches
            lines = _with_grace(session, lambda: batches.results_streaming(session.args.batch_id))
            drain(lines, write)
        ok = True
    finally:
        bar.finish(_results_summary(by_type, output if to_file else None, ok=ok))
    if to_file and session.json:
        session.print(
            dumps(
                {
                    "batch_id": session.args.batch_id,
                    "lines": by_type.total(),
                    "by_type": dict(sorted(by_type.items())),
                    "output": display_path(str(output)),
                }
            )
        )
    return 0


def _lines(count: int) -> str:
    return f"{count:,} line" if count == 1 else f"{count:,} lines"


def _results_summary(by_type: Counter[str], output: str | None, *, ok: bool) -> str | None:
    received = by_type.total()
    if not ok:
        # The error itself follows; say what became of the lines, if any came.
        if not received:
            return None
        kept = f"; {output} was not written" if output else ""
        return f"{_lines(received)} received before the error{kept}"
    summary = f"{_lines(received)} received"
    if by_type:
        summary += " (" + ", ".join(f"{n:,} {k}" for k, n in sorted(by_type.items())) + ")"
    if output:
        summary += f", written to {display_path(output)}"
    return summary


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def _open_output(path: str | None) -> Iterator[TextIO]:
    if path is None or path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_output(path) as stream:
        yield stream


# ----------------------------------------------------------------------- parsers


def _with_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("batch_id", metavar="ID", help="the batch id (msgbatch_...)")
    parser.add_argument(
        "--not-found-grace",
        type=seconds_or_zero("not_found_grace"),
        default=DEFAULT_GRACE,
        metavar="SECONDS",
        help="ask again for this long about a batch that answers 404 before anything"
        " else: one just created may not be visible yet (default %(default)s; 0 reports"
        " a 404 at once)",
    )


def _create_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        metavar="FILE.jsonl",
        help='one request per line: {"custom_id": ..., "params": {...}} ("-": stdin)',
    )
    parser.add_argument(
        "--id-only",
        action="store_true",
        help="print only the new batch's id (for scripts: ID=$(rxbatches create --id-only F))",
    )


def _list_args(parser: argparse.ArgumentParser) -> None:
    how_many = parser.add_mutually_exclusive_group()
    how_many.add_argument(
        "--limit", type=count("limit"), default=20, help="how many batches (default %(default)s)"
    )
    how_many.add_argument(
        "--all", action="store_true", help="every batch, fetching every page (no --limit)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--after-id", metavar="ID", help="start after this batch: the older ones (next page)"
    )
    where.add_argument(
        "--before-id",
        metavar="ID",
        help="the batches just newer than this one (previous page)",
    )


def _watch_args(parser: argparse.ArgumentParser) -> None:
    _with_id(parser)
    parser.add_argument(
        "--interval",
        type=seconds("interval"),
        default=5.0,
        metavar="SECONDS",
        help="seconds between polls (default %(default)s)",
    )


def _results_args(parser: argparse.ArgumentParser) -> None:
    _with_id(parser)
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the JSONL there, complete or not at all: an existing FILE is only"
        " replaced once every line has arrived (default: stdout)",
    )


COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Handler]] = [
    ("create", "submit a JSONL file of requests as a batch", _create_args, create),
    ("retrieve", "show a batch", _with_id, retrieve),
    ("list", "list the newest batches", _list_args, list_batches),
    ("watch", "show a batch's progress until it ends", _watch_args, watch),
    ("results", "stream an ended batch's results as JSONL", _results_args, results),
    ("cancel", "cancel a batch", _with_id, cancel),
    ("delete", "delete an ended batch", _with_id, delete),
]
"""Each client subcommand: name, help, argument builder, handler."""
