"""The ``rxbatches`` command line (private): built on the public API.

``_app`` builds the parser and maps failures to exit codes, ``_commands`` holds the
client subcommands, ``_job`` the durable ``run`` and ``job`` commands (which also use the
durable runner's CLI-only options, through ``rxbatches._jobs``), ``_demo`` the demo,
``_progress`` the progress renderer, ``_run`` the Ctrl-C-friendly blocking wait,
``_format`` what gets printed, ``_files`` the atomic writes, ``_not_found`` the 404
grace across processes and ``_types`` the argparse types (on the library's own argument
checks, ``rxbatches._base.checks``).
"""

from ._app import build_parser, main

__all__ = ["build_parser", "main"]
