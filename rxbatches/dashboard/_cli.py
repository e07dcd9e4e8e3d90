"""The ``dashboard`` subcommand: serve the dashboard until Ctrl-C (exit 130) or SIGTERM.

:func:`serving` (from ``_serve``) and :func:`catch_signals` are shared with ``rxbatches run
--dashboard``, which serves the same page on the run's own event loop for as long as the run
lasts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from rxbatches import Client
from rxbatches._cli._types import port_number

from ._app import make_app
from ._serve import DEFAULT_INTERVAL, catch_signals, serving

__all__ = ["add_parser"]

EXIT_INTERRUPTED = 130


def add_parser(
    subcommands: argparse._SubParsersAction[argparse.ArgumentParser],
    parent: argparse.ArgumentParser,
    make_client: Callable[[argparse.Namespace], Client],
) -> None:
    """Register the ``dashboard`` subcommand (``parent`` brings the connection options)."""
    parser = subcommands.add_parser(
        "dashboard",
        parents=[parent],
        help="serve a live dashboard of the account's batches and of job stores",
        description="Serve a live dashboard in the browser until interrupted. The first "
        "line on stdout is its URL, with the access token every request needs.",
    )
    parser.add_argument(
        "--store",
        action="append",
        default=[],
        metavar="JOB.db",
        help="a durable job's store to show (repeatable)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default %(default)s)")
    parser.add_argument("--port", type=port_number, default=0, help="port (default: a free one)")
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help="seconds between two listings of the account's batches (default %(default)s)",
    )

    def run(args: argparse.Namespace) -> int:
        return _run(args, make_client)

    parser.set_defaults(handler=run)


def _run(args: argparse.Namespace, make_client: Callable[[argparse.Namespace], Client]) -> int:
    missing = [path for path in args.store if not Path(path).exists()]
    if missing:
        print(f"error: no job store at {missing[0]}", file=sys.stderr)
        return 1
    if args.interval <= 0:
        print("error: --interval: must be > 0", file=sys.stderr)
        return 2
    client = make_client(args)
    interrupted = False
    try:
        with contextlib.suppress(KeyboardInterrupt):
            interrupted = asyncio.run(_serve(client, args))
    finally:
        client.close()
    return EXIT_INTERRUPTED if interrupted else 0


async def _serve(client: Client, args: argparse.Namespace) -> bool:
    stop = asyncio.Event()
    signals = catch_signals(stop, signal.SIGINT, signal.SIGTERM)
    app = make_app(client, stores=args.store, interval=args.interval)
    try:
        async with serving(app, args.host, args.port) as url:
            print(url, flush=True)
            await stop.wait()
    finally:
        await client.aclose()
    return signal.SIGINT in signals
