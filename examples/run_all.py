"""Run every example against the emulator; exit non-zero if any of them fails.

This is what ``tox -e examples`` runs. Every ``examples/*.py`` script (but this one and
the ``_``-prefixed helpers) runs in its own process with warnings as errors, and fails
if it exits non-zero, times out, or prints a traceback or a warning on stderr.

The UI example runs headless (``--headless --screenshot artifacts/reactive_ui.png``) on a
virtual X display: this script starts ``Xvfb`` for it (Debian: ``apt-get install xvfb``),
or, without Xvfb, uses the display in ``DISPLAY``. The screenshot is left in
``artifacts/`` for CI to keep.

Run it::

    python examples/run_all.py [NAME ...]      # NAME: e.g. large_job (default: all)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
ARTIFACTS = EXAMPLES.parent / "artifacts"
SCREENSHOT = ARTIFACTS / "reactive_ui.png"
TIMEOUT = 120.0
UI_EXAMPLES = {"reactive_ui"}
EXTRA_ARGS = {"reactive_ui": ["--headless", "--screenshot", str(SCREENSHOT)]}
# What a clean run never prints on stderr.
BAD_SIGNS = ("Traceback (most recent call last)", "Warning:", "Exception ignored")


def discover() -> list[str]:
    """The examples: every script here but this one and the ``_`` helpers."""
    return sorted(
        p.stem
        for p in EXAMPLES.glob("*.py")
        if not p.name.startswith("_") and p.name != Path(__file__).name
    )


@contextlib.contextmanager
def virtual_display() -> Iterator[str | None]:
    """Start Xvfb on a free display number and yield it (``":N"``); stop it on exit.

    Yields the current ``DISPLAY`` (maybe ``None``) when Xvfb is not installed.
    """
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        yield os.environ.get("DISPLAY")
        return
    read, write = os.pipe()
    # -displayfd: Xvfb picks a free display itself and writes its number once it is ready.
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read) as ready:
            number = ready.readline().strip()
        if not number:
            raise RuntimeError(f"Xvfb exited ({server.wait()}) without giving a display")
        yield f":{number}"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run_one(name: str, display: str | None) -> tuple[bool, float]:
    """Run one example; print its output; return whether it passed, and how long it took."""
    env = dict(os.environ)
    env.pop("RXBATCHES_USE_REAL_API", None)  # always the emulator here
    # -W error catches unclosed resources already; dev mode's asyncio debug would add
    # "slow callback" log lines, which are noise here.
    env.pop("PYTHONDEVMODE", None)
    if name in UI_EXAMPLES:
        if display is None:
            print(f"FAIL {name}: no display (install Xvfb: apt-get install -y xvfb)")
            return False, 0.0
        env["DISPLAY"] = display
    command = [
        sys.executable,
        "-W",
        "error",
        str(EXAMPLES / f"{name}.py"),
        *EXTRA_ARGS.get(name, []),
    ]
    print(f"=== {name}", flush=True)
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        print(f"FAIL {name}: still running after {TIMEOUT:.0f}s")
        return False, time.monotonic() - started
    elapsed = time.monotonic() - started
    sys.stdout.write(done.stdout)
    sys.stdout.write(done.stderr)
    signs = [sign for sign in BAD_SIGNS if sign in done.stderr]
    if done.returncode != 0 or signs:
        print(
            f"FAIL {name}: exit status {done.returncode}"
            + (f", stderr has {signs}" if signs else "")
        )
        return False, elapsed
    print(f"ok   {name} ({elapsed:.1f}s)")
    return True, elapsed


def main(argv: Sequence[str] | None = None) -> int:
    """Run the examples named in ``argv`` (default: all); returns the exit status."""
    names = list(argv if argv is not None else sys.argv[1:]) or discover()
    unknown = sorted(set(names) - set(discover()))
    if unknown:
        print(f"no such example: {', '.join(unknown)}; there are {', '.join(discover())}")
        return 2
    SCREENSHOT.unlink(missing_ok=True)
    with virtual_display() as display:
        outcomes = {name: run_one(name, display) for name in names}
    failed = [name for name, (ok, _) in outcomes.items() if not ok]
    # Not "N passed, N failed": CI reads that shape as a test runner's closing line.
    print(f"\nexamples: {len(names) - len(failed)} of {len(names)} ran cleanly")
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    if "reactive_ui" in names and not SCREENSHOT.is_file():
        print(f"the UI example left no screenshot at {SCREENSHOT}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
