"""The ``rxbatches`` command line: ``python -m rxbatches <command> ...``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .emulator import _cli as emulator_cli

__all__ = ["main"]

# Each entry registers one subcommand, which sets `handler` (Namespace -> exit status).
_COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    emulator_cli.add_parser,
]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="rxbatches", description="Anthropic's Message Batches API, from the command line."
    )
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _COMMANDS:
        register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Args:
        argv: The arguments (``None``: ``sys.argv[1:]``).
    """
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
