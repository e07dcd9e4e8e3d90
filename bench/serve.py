"""Serve the benchmark's results file from an emulator, for profiling one contender by hand.

    python -m bench.serve [--lines 100000]

Prints the emulator's URL and the id of an ended batch whose results are the
deterministic file of :func:`bench.data.results_file`, then serves until Ctrl-C. In
another shell, run a contender of :mod:`bench.child` under a profiler, e.g.::

    py-spy record -o rx_dicts.svg -- python -m bench.child rx_dicts --url URL --batch ID
    python -m pyinstrument -m bench.child rx_models --url URL --batch ID
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from rxbatches.emulator import EmulatorThread

from . import data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("--lines", type=int, default=100_000, help="lines of the results file")
    args = parser.parse_args(argv)
    path = data.results_file(args.lines)
    with EmulatorThread() as emu:
        batch = emu.add_ended_batch(lambda: path.open("rb"), data.results_counts(args.lines))
        print(f"--url {emu.base_url} --batch {batch}", flush=True)
        print(f"serving {path} ({path.stat().st_size / 1e6:.0f} MB); Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
