r"""The ``emulator`` subcommand: serve the emulator until SIGINT or SIGTERM.

Faults are injected with ``--fault ENDPOINT:KIND[=ARG][:PROBABILITY]`` (repeatable; see
:func:`rxbatches.emulator._faults.parse_fault_spec`) and ``--propagation-delay SECONDS``;
requests inside batches fail with ``--error-rate P`` and expire with ``--expire-rate P``;
``--concurrency 1 --latency 0.5`` makes a batch slow enough to cancel, and ``--api-key``
accepts only that key::

    python -m rxbatches emulator --fault retrieve:529:0.2 --fault results:truncate:0.1 \
        --propagation-delay 2 --error-rate 0.05 --fault-seed 7
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from ._faults import ENDPOINTS, FAULT_KINDS, Fault, parse_fault_spec
from ._runner import Emulator

__all__ = ["add_parser", "build_emulator", "run"]


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
        "--concurrency",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="requests of a batch processed at the same time (default %(default)s); "
        "with 1 and a --latency, a batch takes long enough to cancel",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        metavar="KEY",
        help="accept only this API key, 401 for any other (default: any non-empty key)",
    )
    parser.add_argument(
        "--error-rate",
        type=_probability,
        default=0.0,
        metavar="P",
        help="chance each request ends errored with a retryable api_error or "
        "overloaded_error (default 0; drawn from --fault-seed, the custom_id and the attempt, "
        "so a resubmitted request may succeed)",
    )
    parser.add_argument(
        "--expire-rate",
        type=_probability,
        default=0.0,
        metavar="P",
        help="chance each request ends expired (default 0); its batch then ends 24 emulator "
        "hours after creation (see --speed)",
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
        help="seed of the random faults and of --error-rate and --expire-rate, "
        "for repeatable runs (default %(default)s)",
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
    "  --propagation-delay 2        a new batch is 404 for its first 2 seconds\n"
    "  --error-rate 0.05            one request in twenty ends errored (retryable)\n"
    "  --concurrency 1 --latency 1  one request a second: time to cancel a batch"
)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text}")
    return value


def _faults(specs: list[str]) -> list[tuple[str, float, Fault]]:
    return [parse_fault_spec(spec) for spec in specs]


def build_emulator(args: argparse.Namespace) -> Emulator:
    """The emulator the parsed ``emulator`` subcommand's options describe (not started yet).

    Raises:
        ValueError: An option's value is refused; the message names it and never holds
            the API key.
    """
    faults = _faults(args.fault)
    emulator = Emulator(
        host=args.host,
        port=args.port,
        speed=args.speed,
        request_latency=args.latency,
        propagation_delay=args.propagation_delay,
        fault_seed=args.fault_seed,
        concurrency=args.concurrency,
        api_keys=None if args.api_key is None else [args.api_key],
        error_rate=args.error_rate,
        expire_rate=args.expire_rate,
    )
    for endpoint, probability, fault in faults:
        emulator.faults.randomly(endpoint, probability, fault)
    return emulator


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; return the exit status."""
    try:
        emulator = build_emulator(args)
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
