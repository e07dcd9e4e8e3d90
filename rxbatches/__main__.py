"""The ``rxbatches`` command line: ``python -m rxbatches <command> ...``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ._cli import build_parser
from ._cli import main as _main

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Args:
        argv: The arguments (``None``: ``sys.argv[1:]``).
    """
    return _main(argv)


if __name__ == "__main__":
    sys.exit(main())
