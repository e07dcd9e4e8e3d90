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
from pathlib import Path
from typing import Any, TextIO

from reactivex import operators as ops

import rxbatches.operators as rbo
from rxbatches import (
    CreateValidationError,
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchIndividualResponse,
)

from ._format import counts_text, dumps, list_row, table
from ._run import drain
from ._session import CommandError, Session

__all__ = ["COMMANDS", "read_requests"]

Handler = Callable[[Session], int]


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
    session.print_batch(batches[0])
    return 0


def _one(session: Session, make: Callable[[Any], Any]) -> int:
    items: list[MessageBatch | DeletedMessageBatch] = []
    with session.client() as client:
        drain(make(client.messages.batches), items.append)
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


def list_batches(session: Session) -> int:
    """``list``: the newest batches, newest first."""
    limit: int = session.args.limit
    found: list[MessageBatch] = []
    with session.client() as client:
        listing = client.messages.batches.list(limit=min(limit, 1000))
        drain(listing.pipe(ops.take(limit)), found.append)
    if session.json:
        session.print(dumps([batch.to_wire() for batch in found]))
    elif not found:
        session.err.write("no batches\n")
    else:
        header = ["ID", "STATUS", "REQUESTS", "CREATED"]
        for line in table([list_row(batch) for batch in found], header=header):
            session.print(line)
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
        snapshots = client.messages.batches.watch(
            session.args.batch_id,
            interval=session.args.interval,
            not_found_grace=session.args.not_found_grace,
        )
        try:
            drain(snapshots.pipe(ops.do_action(show), rbo.progress()), draw)
        finally:
            bar.finish(f"{last[0].processing_status}, {counts_text(last[0])}" if last else None)
    session.print_batch(last[-1])
    return 0


def results(session: Session) -> int:
    """``results ID [-o FILE]``: stream an ended batch's results as JSONL."""
    output: str | None = session.args.output
    bar = session.progress("results")
    by_type: Counter[str] = Counter()

    # JSONL going to the terminal itself: a redrawn bar would garble it, so only the
    # final count is shown.
    show_updates = output not in (None, "-") or not _isatty(session.out)

    with _open_output(output) as stream, session.client() as client:

        def write(result: MessageBatchIndividualResponse) -> None:
            stream.write(dumps(result.to_wire()) + "\n")
            by_type[result.result.type] += 1
            if show_updates:
                bar.update(by_type.total(), detail="lines received")

        ok = False
        try:
            drain(client.messages.batches.results_streaming(session.args.batch_id), write)
            ok = True
        finally:
            summary = f"{by_type.total():,} lines received"
            if ok and by_type:
                summary += " (" + ", ".join(f"{n:,} {k}" for k, n in sorted(by_type.items())) + ")"
            if output:
                summary += f", written to {output}"
            bar.finish(summary)
    if output and session.json:
        session.print(
            dumps(
                {
                    "batch_id": session.args.batch_id,
                    "lines": by_type.total(),
                    "by_type": dict(sorted(by_type.items())),
                    "output": str(Path(output)),
                }
            )
        )
    return 0


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
    try:
        stream = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    with stream:
        yield stream


# ----------------------------------------------------------------------- parsers


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def _not_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, not {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def _with_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("batch_id", metavar="ID", help="the batch id (msgbatch_...)")


def _create_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        metavar="FILE.jsonl",
        help='one request per line: {"custom_id": ..., "params": {...}} ("-": stdin)',
    )


def _list_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--limit", type=_count, default=20, help="how many batches (default %(default)s)"
    )


def _watch_args(parser: argparse.ArgumentParser) -> None:
    _with_id(parser)
    parser.add_argument(
        "--interval",
        type=_positive,
        default=5.0,
        metavar="SECONDS",
        help="seconds between polls (default %(default)s)",
    )
    parser.add_argument(
        "--not-found-grace",
        type=_not_negative,
        metavar="SECONDS",
        help="until the first answer, ask again for this long about a batch that answers"
        " 404: one just created may not be visible yet (default 2; 0 reports a 404 at"
        " once)",
    )


def _results_args(parser: argparse.ArgumentParser) -> None:
    _with_id(parser)
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the JSONL there (default: stdout)"
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
