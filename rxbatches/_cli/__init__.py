"""The ``rxbatches`` command line (private): built on the public API only.

``_app`` builds the parser and maps failures to exit codes, ``_commands`` holds the
client subcommands, ``_demo`` the demo, ``_progress`` the progress renderer, ``_run``
the Ctrl-C-friendly blocking wait, ``_format`` what gets printed.
"""

from ._app import build_parser, main

__all__ = ["build_parser", "main"]
