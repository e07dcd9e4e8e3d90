"""The ``emulator`` subcommand: serve the emulator until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from ._runner import Emulator

__all__ = ["add_parser", "run"]


def add_parser(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``emulator`` subcommand."""
    parser = subcommands.add_parser(
        "emulator",
        help="serve the Message Batches API emulator",
        description="Serve the Message Batches API emulator until interrupted. "
        "The first line on stdout is its base URL.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="emulator seconds per real second (default %(default)s)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.01,
        help="emulator seconds per request (default %(default)s)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; return the exit status."""
    try:
        emulator = Emulator(
            host=args.host, port=args.port, speed=args.speed, request_latency=args.latency
        )
    except ValueError as exc:
        print(f"rxbatches emulator: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(emulator))
    return 0


async def _serve(emulator: Emulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not available on Windows: there Ctrl-C raises KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with emulator:
        print(emulator.base_url, flush=True)
        await stop.wait()
