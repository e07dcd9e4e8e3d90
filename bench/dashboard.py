"""The dashboard at rest: ``python -m bench.dashboard`` prints a row and PASS/FAIL.

An emulator (in this process) holds 1,000 ended batches; a job store holds 100,000
results (written straight through :class:`~rxbatches.JobStore`, as a run would, without
downloading them). The dashboard app is served in a child process with that store and
one event stream connected. Once the page has its full state (listed, store read),
nothing changes for ``SECONDS`` (default 10): the child's CPU time over that window
(``/proc/PID/stat``, user + system) must stay under 10% of one core, and the pushes the
page receives under 4 a second.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.data import plain_succeeded_line
from rxbatches.emulator import EmulatorThread

BATCHES = 1_000
RESULTS = 100_000
SECONDS = float(os.environ.get("BENCH_DASHBOARD_SECONDS", "10"))
MAX_CPU = 0.10
MAX_PUSHES = 4.0


def _line(i: int) -> bytes:
    return plain_succeeded_line(i, "An answer of a few words.")


def _fill_store(path: Path, emu: EmulatorThread) -> None:
    """A finished job of RESULTS requests in one batch (of the emulator's)."""
    from rxbatches import JobStore

    batch_id = emu.add_ended_batch([], {"succeeded": RESULTS})
    with JobStore.open(path) as store:
        store.ingest(
            {
                "custom_id": f"r{i}",
                "params": {
                    "model": "claude-haiku-4-5",
                    "max_tokens": 64,
                    "messages": [{"role": "user", "content": "q"}],
                },
            }
            for i in range(RESULTS)
        )
        reserved = store.reserve(RESULTS, 256 * 1024 * 1024)
        assert reserved is not None
        intent, _ = reserved
        store.record_created(intent.key, batch_id, emu.batch(batch_id).model_dump_json(), False)
        store.record_snapshot(intent.key, emu.batch(batch_id).model_dump_json(), True)
        chunk: list[tuple[str, bytes, dict[str, Any]]] = []
        for i in range(RESULTS):
            line = _line(i)
            chunk.append((f"r{i}", line, json.loads(line)))
            if len(chunk) == 500:
                store.write_results(intent.key, chunk, 0, False, fresh=True)
                chunk = []
        if chunk:
            store.write_results(intent.key, chunk, 0, False, fresh=True)
        store.finish_batch(intent.key, 0)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _page(url: str, pid: int, emu: EmulatorThread) -> dict[str, float]:
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(url.replace("/?", "/events?")) as response,
    ):
        pushes: list[tuple[float, int]] = []
        ready = asyncio.Event()
        full_size = 0
        seen = {"listed": False, "stores": False}

        async def read() -> None:
            nonlocal full_size
            event = ""
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[len("event: ") :]
                elif line.startswith("data: "):
                    pushes.append((time.monotonic(), len(line)))
                    if event == "state":
                        full_size = len(line)
                    state = json.loads(line[len("data: ") :])
                    seen["listed"] = seen["listed"] or bool(state.get("listed"))
                    seen["stores"] = seen["stores"] or bool(state.get("stores"))
                    if seen["listed"] and seen["stores"]:
                        ready.set()

        reader = asyncio.create_task(read())
        await asyncio.wait_for(ready.wait(), 60)
        # Let the first listing's follow-ups (the batch sizes seen) settle.
        await asyncio.sleep(2.0)
        lists = emu.stats.requests["list"]
        cpu = _cpu_seconds(pid)
        start = time.monotonic()
        before = len(pushes)
        await asyncio.sleep(SECONDS)
        elapsed = time.monotonic() - start
        cpu = _cpu_seconds(pid) - cpu
        window = pushes[before:]
        reader.cancel()
        return {
            "cpu": cpu / elapsed,
            "pushes_per_s": len(window) / elapsed,
            "bytes_per_s": sum(n for _, n in window) / elapsed,
            "full_kib": full_size / 1024,
            "lists_per_s": (emu.stats.requests["list"] - lists) / elapsed,
            "seconds": elapsed,
        }


def serve(base_url: str, store: str) -> None:
    """The child: the dashboard on 127.0.0.1, its URL printed first."""
    from aiohttp import web

    from rxbatches import Client
    from rxbatches.dashboard import TOKEN, make_app

    async def main() -> None:
        async with Client(api_key="sk-bench", base_url=base_url) as client:
            app = make_app(client, stores=[store])
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            try:
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                port = runner.addresses[0][1]
                print(f"http://127.0.0.1:{port}/?token={app[TOKEN]}", flush=True)
                stop = asyncio.Event()
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
                await stop.wait()
            finally:
                await runner.cleanup()

    asyncio.run(main())


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp, EmulatorThread(request_latency=0.0) as emu:
        started = time.monotonic()
        for _ in range(BATCHES - 1):
            emu.add_ended_batch([], {"succeeded": 100})
        store = Path(tmp) / "job.db"
        _fill_store(store, emu)
        print(
            f"setup: {BATCHES:,} batches, a store of {RESULTS:,} results"
            f" ({store.stat().st_size / 2**20:.0f} MiB) in {time.monotonic() - started:.1f} s",
            flush=True,
        )
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.dashboard", "--serve", emu.base_url, str(store)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            url = child.stdout.readline().strip()
            figures = asyncio.run(_page(url, child.pid, emu))
        finally:
            child.send_signal(signal.SIGTERM)
            child.wait(10)
    ok = figures["cpu"] < MAX_CPU and figures["pushes_per_s"] < MAX_PUSHES
    print(
        f"dashboard at rest | {BATCHES:,} batches, {RESULTS:,}-result store, 1 page"
        f" | server CPU {figures['cpu'] * 100:.1f}% of a core (< {MAX_CPU * 100:.0f}%)"
        f" | pushes {figures['pushes_per_s']:.2f}/s (< {MAX_PUSHES:.0f}/s),"
        f" {figures['bytes_per_s']:.0f} B/s | full state {figures['full_kib']:.0f} KiB"
        f" | listings {figures['lists_per_s']:.2f}/s over {figures['seconds']:.1f} s"
        f" | {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
