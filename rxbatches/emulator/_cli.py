r"""The ``emulator`` subcommand: serve the emulator until SIGINT or SIGTERM.

Faults are injected with ``--fault ENDPOINT:KIND[=ARG][:PROBABILITY]`` (repeatable; see
:func:`rxbatches.emulator._faults.parse_fault_spec`) and ``--propagation-delay SECONDS``::

    python -m rxbatches emulator --fault retrieve:529:0.2 --fault results:truncate:0.1 \
        --propagation-delay 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from ._faults import ENDPOINTS, FAULT_KINDS, Fault, parse_fault_spec
from ._runner import Emulator

__all__ = ["add_parser", "run"]


def add_parser(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``emulator`` subcommand."""
    parser = subcommands.add_parser(
        "emulator",
        help="serve the Message Batches API emulator",
        description="Serve the Message Batches API emulator until interrupted. "
        "The first line on stdout is its base URL.",
        epilog=_FAULT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault: ENDPOINT:KIND[=ARG][:PROBABILITY] (repeatable; see below)",
    )
    parser.add_argument(
        "--fault-seed",
        type=int,
        default=0,
        help="seed of the random faults, for repeatable runs (default %(default)s)",
    )
    parser.add_argument(
        "--propagation-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="a created batch answers 404 for this many emulator seconds (default 0)",
    )
    parser.set_defaults(handler=run)


_FAULT_HELP = (
    "fault specs (--fault ENDPOINT:KIND[=ARG][:PROBABILITY]):\n"
    f"  ENDPOINT     * or one of {', '.join(ENDPOINTS)}\n"
    "  PROBABILITY  from 0 to 1, the chance each request meets the fault (default 1)\n"
    "  KIND         one of:\n"
    + "".join(f"    {kind:<10} {text}\n" for kind, text in FAULT_KINDS.items())
    + "examples:\n"
    "  --fault retrieve:529:0.2     one retrieve in five answers 529 overloaded\n"
    "  --fault create:429=2:0.1     one create in ten is rate limited, retry-after: 2\n"
    "  --fault results:truncate:0.1 one results download in ten is cut mid-line\n"
    "  --fault '*:html=502:0.05'    a proxy's HTML 502 page, on any endpoint\n"
    "  --propagation-delay 2        a new batch is 404 for its first 2 seconds"
)


def _faults(specs: list[str]) -> list[tuple[str, float, Fault]]:
    return [parse_fault_spec(spec) for spec in specs]


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; return the exit status."""
    try:
        faults = _faults(args.fault)
        emulator = Emulator(
            host=args.host,
            port=args.port,
            speed=args.speed,
            request_latency=args.latency,
            propagation_delay=args.propagation_delay,
            fault_seed=args.fault_seed,
        )
        for endpoint, probability, fault in faults:
            emulator.faults.randomly(endpoint, probability, fault)
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
