"""What every client command shares: its options, the client, the output streams."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, TextIO

from rxbatches import Client, DeletedMessageBatch, MessageBatch

from ._format import batch_lines, dumps
from ._progress import ProgressLine

__all__ = ["CommandError", "Session", "add_common_options"]


class CommandError(Exception):
    """A failure the user can fix, already worded as the one line to print.

    Args:
        message: The summary line (printed after ``error: ``).
        guidance: Lines that say what to do about it, printed below the summary.
    """

    def __init__(self, message: str, *guidance: str) -> None:
        super().__init__(message)
        self.guidance: tuple[str, ...] = guidance


def add_common_options(
    parser: argparse.ArgumentParser, *, suppress: bool, connection: bool = True
) -> None:
    """Add ``--base-url`` and ``--api-key`` (with ``connection``), ``--json``, ``--quiet``.

    They are accepted both before and after the subcommand: the subcommand's copies
    default to ``SUPPRESS`` so they only override what was given before it.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("connection and output" if connection else "output")
    if connection:
        _add_connection_options(group, default)
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print machine-readable JSON on stdout",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default(False),
        help="no progress output on stderr",
    )


def _add_connection_options(group: Any, default: Callable[[Any], Any]) -> None:
    group.add_argument(
        "--base-url",
        metavar="URL",
        default=default(None),
        help="API base URL (default: $ANTHROPIC_BASE_URL, else https://api.anthropic.com)",
    )
    group.add_argument(
        "--api-key",
        metavar="KEY",
        default=default(None),
        help="API key (default: $ANTHROPIC_API_KEY; prefer the variable: a command line "
        "is visible to other users); it is never printed",
    )


class Session:
    """One run of a client command: parsed options and where output goes.

    The streams are looked up at each use (not at import), so redirections made by a
    caller or a test harness are honoured.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json: bool = bool(getattr(args, "json", False))
        self.quiet: bool = bool(getattr(args, "quiet", False))

    @property
    def out(self) -> TextIO:
        """Data: JSON, JSONL, tables."""
        return sys.stdout

    @property
    def err(self) -> TextIO:
        """Progress and diagnostics."""
        return sys.stderr

    @property
    def api_key(self) -> str | None:
        """The key given on the command line, if any (never printed)."""
        key: str | None = getattr(self.args, "api_key", None)
        return key

    def client(self) -> Client:
        """A client configured from the options and the environment.

        Raises:
            CommandError: No API key, or a malformed base URL.
        """
        try:
            return Client(api_key=self.api_key, base_url=getattr(self.args, "base_url", None))
        except ValueError as exc:
            text = str(exc)
            if text.startswith("api_key: no API key"):
                raise CommandError("no API key: set ANTHROPIC_API_KEY or pass --api-key") from None
            raise CommandError(text) from None

    def progress(self, label: str) -> ProgressLine:
        """A progress line on stderr (silent with ``--quiet``)."""
        return ProgressLine(self.err, label, enabled=not self.quiet)

    def print(self, text: str = "") -> None:
        """Write a line of data to stdout."""
        self.out.write(text + "\n")

    def print_batch(self, batch: MessageBatch | DeletedMessageBatch) -> None:
        """Print a batch as JSON (``--json``) or as lines for people."""
        if self.json:
            self.print(dumps(batch.to_wire()))
        else:
            for line in batch_lines(batch):
                self.print(line)
