"""The ``dashboard`` subcommand: serve the dashboard until Ctrl-C (exit 130) or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from rxbatches import Client

from ._app import TOKEN, make_app

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
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument(
        "--interval",
        type=float,
        default=2.0,
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
    signals: list[int] = []
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):

        def handle(sig: int = sig) -> None:
            signals.append(sig)
            stop.set()

        # Not available on Windows: there Ctrl-C raises KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, handle)
    app = make_app(client, stores=args.store, interval=args.interval)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        port = runner.addresses[0][1]
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"http://{host}:{port}/?token={app[TOKEN]}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
        await client.aclose()
    return signal.SIGINT in signals
