"""The parser, the dispatch and the exit codes of the ``rxbatches`` command line.

Exit codes: 0 on success; 1 for an error, reported as one ``error: ...`` line on stderr
(never a traceback, never the API key), followed by the lines of guidance the error
carries, if any; 2 for a usage error (argparse's convention); 130 on Ctrl-C, after the
running subscription was disposed and the client closed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, cast
from urllib.parse import urlsplit

from rxbatches import NotFoundError, __version__
from rxbatches.dashboard import _cli as dashboard_cli
from rxbatches.emulator import _cli as emulator_cli

from . import _commands, _demo, _job
from ._format import describe_error, redact
from ._session import CommandError, Session, add_common_options

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_DESCRIPTION = """\
Anthropic's Message Batches API from the command line, with live progress.
Start with `rxbatches demo`: a whole batch job against the embedded emulator.
"""

_EPILOG = """\
The API key comes from --api-key or $ANTHROPIC_API_KEY, the base URL from --base-url or
$ANTHROPIC_BASE_URL. Progress goes to stderr (a live bar on a terminal, plain lines
otherwise); data goes to stdout. Exit status: 0 ok, 1 error, 2 usage error,
130 interrupted.
"""


class _UsageError(SystemExit):
    """argparse rejected the command line (a ``SystemExit``, as argparse's own error is)."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(EXIT_USAGE)
        self.message = message
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors become one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message, self.prog)


def _client_command(handler: Callable[[Session], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return handler(Session(args))

    return run


def build_parser() -> argparse.ArgumentParser:
    """Build the parser of every subcommand."""
    parser = _Parser(
        prog="rxbatches",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rxbatches {__version__}")
    add_common_options(parser, suppress=False)
    common = _Parser(add_help=False)
    add_common_options(common, suppress=True)
    output_only = _Parser(add_help=False)  # the demo brings its own emulator and key
    add_common_options(output_only, suppress=True, connection=False)
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = subcommands.add_parser(
        "demo",
        parents=[output_only],
        help="run a whole batch job against the embedded emulator (start here)",
        description="Start the embedded emulator, submit a few thousand requests (some of "
        "which fail), show live progress, stream the results to a file and print a summary.",
    )
    _demo.add_arguments(demo)
    demo.set_defaults(handler=_client_command(_demo.demo))

    # The emulator registers itself on plain parsers; ours only differ in error().
    emulator_cli.add_parser(
        cast("argparse._SubParsersAction[argparse.ArgumentParser]", subcommands)
    )
    dashboard_cli.add_parser(
        cast("argparse._SubParsersAction[argparse.ArgumentParser]", subcommands),
        common,
        lambda args: Session(args).client(),
    )

    run = subcommands.add_parser(
        "run",
        parents=[common],
        help="run a durable job: resumable after Ctrl-C or kill -9, nothing sent twice",
        description="Run the requests of a JSONL file as a durable job whose state lives in"
        " JOB.db: run the same command again after any interruption and it continues;"
        " failed requests of a transient kind are resubmitted. Exits 0 once every request"
        " has a final result.",
    )
    _job.add_run_arguments(run)
    run.set_defaults(handler=_client_command(_job.run_command))
    job = subcommands.add_parser(
        "job",
        help="status, export or cancel of a durable job (`rxbatches job status JOB.db`)",
        description="Read or act on the store of a durable job made by `rxbatches run`.",
    )
    _job.add_job_parser(job, common, _client_command)

    for name, help_text, add_arguments, handler in _commands.COMMANDS:
        sub = subcommands.add_parser(name, parents=[common], help=help_text, description=help_text)
        add_arguments(sub)
        sub.set_defaults(handler=_client_command(handler))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Args:
        argv: The arguments (``None``: ``sys.argv[1:]``).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    secrets = [os.environ.get("ANTHROPIC_API_KEY"), *_given_keys(arguments)]
    try:
        try:
            args = build_parser().parse_args(arguments)
        except _UsageError as exc:
            _fail(f"{exc.message} (see `{exc.prog} --help`)", [], secrets)
            return EXIT_USAGE
        except SystemExit as exc:  # --help and --version
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        handler: Callable[[argparse.Namespace], int] = args.handler
        try:
            return handler(args)
        except CommandError as exc:
            return _fail(str(exc), exc.guidance, secrets)
        except BrokenPipeError:
            # The reader went away (`rxbatches list | head -1`): nothing left to say.
            _silence_stdout()
            return EXIT_ERROR
        except Exception as exc:  # every failure is one line, never a traceback
            summary, guidance = describe_error(exc)
            if isinstance(exc, NotFoundError):
                guidance += _v1_hint(args)
            return _fail(summary, guidance, secrets)
    except KeyboardInterrupt:
        # The subscription was disposed and the client closed on the way up.
        sys.stderr.write("\ninterrupted\n")
        sys.stderr.flush()
        return EXIT_INTERRUPTED


def _given_keys(arguments: Sequence[str]) -> list[str]:
    keys = []
    for i, item in enumerate(arguments):
        if item == "--api-key" and i + 1 < len(arguments):
            keys.append(arguments[i + 1])
        elif item.startswith("--api-key="):
            keys.append(item.partition("=")[2])
    return keys


def _fail(message: str, guidance: Sequence[str], secrets: Sequence[str | None]) -> int:
    lines = [f"error: {message}", *(f"  {line}" for line in guidance)]
    sys.stderr.write("".join(redact(line, secrets) + "\n" for line in lines))
    sys.stderr.flush()
    return EXIT_ERROR


_API_PATH = "/v1/messages/batches"


def _v1_hint(args: argparse.Namespace) -> list[str]:
    """A hint when a 404 may come from a base URL that already holds the API's path."""
    base_url = getattr(args, "base_url", None) or os.environ.get("ANTHROPIC_BASE_URL")
    if not base_url:
        return []
    try:
        parts = urlsplit(base_url)
    except ValueError:
        return []
    path = parts.path.rstrip("/")
    for suffix in (_API_PATH, "/v1/messages", "/v1"):
        if path.endswith(suffix):
            root = parts._replace(path=path[: -len(suffix)]).geturl()
            return [
                f"hint: the base URL ends in {suffix}, but rxbatches adds {_API_PATH}"
                f" itself: try --base-url {root}"
            ]
    return []


def _silence_stdout() -> None:
    # Further writes (the interpreter's final flush) must not raise again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
