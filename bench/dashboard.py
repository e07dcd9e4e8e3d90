"""The dashboard in a real page: ``python -m bench.dashboard`` prints its rows and PASS/FAIL.

An emulator (in this process, on a :class:`~rxbatches.emulator.ManualClock`) holds
1,000 batches: 799 ended, the one of a job store of 100,000 results (written straight
through :class:`~rxbatches.JobStore`, as a run would, without downloading them) and 200
in progress, which move only when the bench advances the clock. The dashboard app is
served in a child process with that store, and opened in headless Chromium (driven
over the DevTools protocol by ``tests/dashboard/cdp.py``). Once the page shows the
1,000 rows and the store's card, three windows:

- **at rest** (``SECONDS``, default 10): nothing changes. The page's renders
  (``document.body.dataset.renders``, counted by the page's script) must stay under 4 a
  second and the child's CPU time (``/proc/PID/stat``, user + system) under 10% of a
  core.
- **while batches change** (``CHANGE_SECONDS``): the clock moves 1 emulator second every
  0.25 s, so each of the 200 batches processes 4 more requests a second; the app lists
  every second (``make_app``'s default). At most 4 renders a second.
- **the cap** (``CHANGE_SECONDS``): the clock moves every 0.1 s and the page is now on a
  second app of the child, which lists every 0.1 s, so that the state changes faster
  than the page may be sent one: the app's 0.25 s sampling must hold the page to 4
  renders a second (a window of W seconds may hold 4W + 1 of them).

Each window also reports, as information, the child's CPU, Chromium's CPU (the browser
process and its descendants) and the page's main-thread time from
``Performance.getMetrics`` (``TaskDuration``: everything on the main thread, of which
``ScriptDuration``, JavaScript, and ``LayoutDuration`` + ``RecalcStyleDuration``), a
second and a render. ``BENCH_DASHBOARD_AGE_HOURS=23.5`` starts the emulator's clock that
far back, so that the countdowns are in their last hour (where they show seconds).
Without Chromium on PATH the bench says so and what to install, and one event-stream
client (aiohttp) stands in for the page: its pushes count as renders.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import aiohttp

from bench.data import plain_requests, plain_succeeded_line
from rxbatches.emulator import EmulatorThread, ManualClock
from tests.dashboard.cdp import Browser, Page, chromium, launch
from tests.dashboard.helpers import requests, states

BATCHES = 1_000
CHANGING = 200
REQUESTS_EACH = 70  # 20 processed in the first changing window, 50 in the last: all end
RESULTS = 100_000
SECONDS = float(os.environ.get("BENCH_DASHBOARD_SECONDS", "10"))
# How long ago the emulator's clock starts (hours): at 23.5 the batches' expiry countdowns
# are in their last hour, where they change every second (the page's busiest rest).
AGE_HOURS = float(os.environ.get("BENCH_DASHBOARD_AGE_HOURS", "0"))
CHANGE_SECONDS = 5.0
# Real seconds between two moves of the clock (of 1 emulator second each): 4 changes a
# second at the default listing interval, 10 when the app lists every FAST_INTERVAL.
STEP = 0.25
FAST_STEP = 0.1
FAST_INTERVAL = 0.1
SETTLE = 2.0
MAX_CPU = 0.10
MAX_RENDERS = 4.0

READY = (
    f"document.querySelectorAll('tr[data-batch-id]').length >= {BATCHES}"
    " && document.querySelector('.store[data-store]') !== null"
)
RENDERS = "Number(document.body.dataset.renders || 0)"
# When each render happened (the page's script counts them, it does not time them).
WATCH_RENDERS = (
    "window.benchRenders = [];"
    "new MutationObserver(() => window.benchRenders.push(performance.now()))"
    ".observe(document.body, {attributes: true, attributeFilter: ['data-renders']});"
)
NO_CHROMIUM = (
    "chromium: not found on PATH, so no page is measured (install it: apt-get install -y"
    " chromium); one event-stream client stands in for the page, its pushes as renders"
)


def _line(i: int) -> bytes:
    return plain_succeeded_line(i, "An answer of a few words.")


def _fill_store(path: Path, emu: EmulatorThread) -> None:
    """A finished job of RESULTS requests in one batch (of the emulator's)."""
    from rxbatches import JobStore
    from rxbatches._jobs.lines import attempt
    from rxbatches._jobs.store import Attempt

    batch_id = emu.add_ended_batch([], {"succeeded": RESULTS})
    with JobStore.open(path) as store:
        store.ingest(plain_requests(RESULTS))
        reserved = store.reserve(RESULTS, 256 * 1024 * 1024)
        assert reserved is not None
        intent, _ = reserved
        store.record_created(intent.key, batch_id, emu.batch(batch_id).model_dump_json(), False)
        store.record_snapshot(intent.key, emu.batch(batch_id).model_dump_json(), True)
        chunk: list[Attempt] = []
        for i in range(RESULTS):
            line = _line(i)
            chunk.append(attempt(f"r{i}", line, json.loads(line)))
            if len(chunk) == 500:
                store.write_results(intent.key, chunk, 0, False, fresh=True)
                chunk = []
        if chunk:
            store.write_results(intent.key, chunk, 0, False, fresh=True)
        store.finish_batch(intent.key, 0)


async def _create_changing(base_url: str) -> None:
    """CHANGING batches in progress (the newest, at the top of the page)."""
    from rxbatches import Client

    async with Client(api_key="sk-bench", base_url=base_url) as client:
        for _ in range(CHANGING):
            await client.messages.batches.create(requests(REQUESTS_EACH))


def _stat(pid: int) -> tuple[int, float]:
    """A process's parent's id and its CPU seconds (user + system), from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    return _stat(pid)[1]


def _processes() -> dict[int, tuple[int, float]]:
    """Every process: its parent's id and its CPU seconds."""
    found: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = _stat(int(entry.name))
            except OSError:
                continue  # gone meanwhile
    return found


def _tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and its living descendants (Chromium's renderers, GPU...)."""
    table = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += table[pid][1] if pid in table else 0.0
        todo.extend(children.get(pid, ()))
    return total


@dataclass(frozen=True)
class MainThread:
    """Seconds of the page's main thread (``Performance.getMetrics``, cumulative)."""

    task: float  # everything the main thread ran
    script: float  # JavaScript
    layout: float  # layout and style recalculation

    def __sub__(self, other: MainThread) -> MainThread:
        return MainThread(
            self.task - other.task, self.script - other.script, self.layout - other.layout
        )


class Viewer(Protocol):
    """What a window measures on: the page, or an event stream standing in for it."""

    name: str

    async def open(self, url: str) -> None: ...
    async def renders(self) -> int: ...
    def cpu_seconds(self) -> float | None: ...
    async def main_thread(self) -> MainThread | None: ...
    async def render_times(self) -> list[float]: ...


class ChromiumViewer:
    """A tab of headless Chromium."""

    name = "headless Chromium"

    def __init__(self, browser: Browser, page: Page) -> None:
        self._browser = browser
        self._page = page

    async def open(self, url: str) -> None:
        await self._page.send("Page.navigate", url=url)
        async with asyncio.timeout(60):
            await self._page.wait_for(READY)
        await self._page.evaluate(WATCH_RENDERS)

    async def renders(self) -> int:
        count: int = await self._page.evaluate(RENDERS)
        return count

    def cpu_seconds(self) -> float | None:
        assert self._browser.pid is not None
        return _tree_cpu_seconds(self._browser.pid)

    async def main_thread(self) -> MainThread | None:
        answer = await self._page.send("Performance.getMetrics")
        metrics = {m["name"]: float(m["value"]) for m in answer["metrics"]}
        return MainThread(
            metrics["TaskDuration"],
            metrics["ScriptDuration"],
            metrics["LayoutDuration"] + metrics["RecalcStyleDuration"],
        )

    async def render_times(self) -> list[float]:
        times: list[float] = await self._page.evaluate("window.benchRenders.splice(0)")
        return [t / 1000 for t in times]

    @property
    def errors(self) -> list[str]:
        return self._page.errors


class StreamViewer:
    """One event-stream client (aiohttp): each push would be one render of a page."""

    name = "1 event-stream client (no browser)"

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self._http = http
        self._reader: asyncio.Task[None] | None = None
        self._pushes: list[float] = []
        self._since = 0

    async def open(self, url: str) -> None:
        await self.close()
        ready = asyncio.Event()
        self._pushes = []

        async def read() -> None:
            async with self._http.get(url.replace("/?", "/events?")) as response:
                async for state in states(response):
                    self._pushes.append(time.monotonic())
                    if state["listed"] and state["stores"] and len(state["batches"]) >= BATCHES:
                        ready.set()

        self._reader = asyncio.create_task(read())
        async with asyncio.timeout(60):
            await ready.wait()
        self._since = len(self._pushes)

    async def renders(self) -> int:
        return len(self._pushes)

    def cpu_seconds(self) -> float | None:
        return None

    async def main_thread(self) -> MainThread | None:
        return None

    async def render_times(self) -> list[float]:
        times, self._since = self._pushes[self._since :], len(self._pushes)
        return times

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


@asynccontextmanager
async def _viewer(executable: str | None, profile: Path) -> AsyncIterator[Viewer]:
    async with AsyncExitStack() as stack:
        if executable is None:
            http = await stack.enter_async_context(
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
            )
            stream = StreamViewer(http)
            stack.push_async_callback(stream.close)
            yield stream
        else:
            browser = await stack.enter_async_context(launch(executable, profile))
            page = await browser.new_page()
            await page.send("Performance.enable")
            chromium_viewer = ChromiumViewer(browser, page)
            yield chromium_viewer
            if chromium_viewer.errors:
                print(f"page errors: {chromium_viewer.errors}", flush=True)


@dataclass
class Window:
    """What one window measured."""

    seconds: float
    renders: int
    server_cpu: float  # fraction of a core
    viewer_cpu: float | None  # fraction of a core
    main: MainThread | None  # over the window
    min_gap: float | None  # shortest time between two renders
    lists_per_s: float

    @property
    def renders_per_s(self) -> float:
        return self.renders / self.seconds


async def _window(
    viewer: Viewer, server: int, emu: EmulatorThread, seconds: float, step: float | None
) -> Window:
    """Measure ``seconds``; with a ``step``, move the clock 1 s every ``step`` meanwhile."""
    await viewer.render_times()  # from now on
    renders = await viewer.renders()
    main = await viewer.main_thread()
    lists = emu.stats.requests["list"]
    viewer_cpu = viewer.cpu_seconds()
    cpu = _cpu_seconds(server)
    start = time.monotonic()
    if step is not None:
        clock = emu.clock
        assert isinstance(clock, ManualClock)
        for n in range(1, round(seconds / step) + 1):
            await asyncio.sleep(max(0.0, start + n * step - time.monotonic()))
            clock.advance(1.0)
    else:
        await asyncio.sleep(seconds)
    elapsed = time.monotonic() - start
    cpu = _cpu_seconds(server) - cpu
    end_cpu = viewer.cpu_seconds()
    lists = emu.stats.requests["list"] - lists
    renders = await viewer.renders() - renders
    end_main = await viewer.main_thread()
    times = await viewer.render_times()
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return Window(
        seconds=elapsed,
        renders=renders,
        server_cpu=cpu / elapsed,
        viewer_cpu=None
        if viewer_cpu is None or end_cpu is None
        else (end_cpu - viewer_cpu) / elapsed,
        main=None if main is None or end_main is None else end_main - main,
        min_gap=min(gaps) if gaps else None,
        lists_per_s=lists / elapsed,
    )


async def _measure(
    emu: EmulatorThread, server: int, urls: Sequence[str], executable: str | None, tmp: Path
) -> tuple[str, list[Window]]:
    async with _viewer(executable, tmp / "profile") as viewer:
        await viewer.open(urls[0])
        # Let the first listing's follow-ups (the batch sizes seen) settle.
        await asyncio.sleep(SETTLE)
        rest = await _window(viewer, server, emu, SECONDS, None)
        changing = await _window(viewer, server, emu, CHANGE_SECONDS, STEP)
        await viewer.open(urls[1])
        capped = await _window(viewer, server, emu, CHANGE_SECONDS, FAST_STEP)
        return viewer.name, [rest, changing, capped]


def serve(base_url: str, store: str) -> None:
    """The child: two dashboards on 127.0.0.1 (listing every 1 s and every 0.1 s), URLs first."""
    from rxbatches import Client
    from rxbatches.dashboard import make_app
    from rxbatches.dashboard._serve import serving

    async def main() -> None:
        async with Client(api_key="sk-bench", base_url=base_url) as client:
            # linger=0: once the page leaves the first app for the second, the first stops
            # listing at once, so that the last window measures the second app alone.
            apps = [
                make_app(client, stores=[store], linger=0.0),
                make_app(client, stores=[store], interval=FAST_INTERVAL),
            ]
            async with AsyncExitStack() as served:
                for app in apps:
                    url = await served.enter_async_context(serving(app, "127.0.0.1", 0))
                    print(url, flush=True)
                stop = asyncio.Event()
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
                await stop.wait()

    asyncio.run(main())


def _main_thread(main: MainThread, per: float, unit: str) -> str:
    return (
        f"{main.task / per * 1000:.0f} ms{unit} (script {main.script / per * 1000:.0f},"
        f" layout+style {main.layout / per * 1000:.0f})"
    )


def _report(what: str, unit: str, window: Window, goal: str, cpu_goal: str, ok: bool) -> None:
    gap = "" if window.min_gap is None else f", gaps >= {window.min_gap:.2f} s"
    browser = "" if window.viewer_cpu is None else f" | Chromium CPU {window.viewer_cpu:.1%}"
    if window.main is not None:
        browser += f" | main thread {_main_thread(window.main, window.seconds, '/s')}"
        if window.renders:
            browser += f", {_main_thread(window.main, window.renders, ' a render')}"
    print(
        f"{what} | {unit} {window.renders_per_s:.2f}/s ({window.renders} in"
        f" {window.seconds:.1f} s{gap}; {goal}) | server CPU {window.server_cpu:.1%} of a core"
        f" ({cpu_goal}){browser} | listings {window.lists_per_s:.2f}/s"
        f" | {'PASS' if ok else 'FAIL'}",
        flush=True,
    )


def _within_cap(window: Window) -> bool:
    # Pushes are sampled every 0.25 s: a window of W seconds can hold 4W + 1 of them.
    return window.renders <= MAX_RENDERS * window.seconds + 1


def main() -> int:
    executable = chromium()
    if executable is None:
        print(NO_CHROMIUM, flush=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmulatorThread(
            clock=ManualClock(datetime.now(UTC) - timedelta(hours=AGE_HOURS)),
            request_latency=1.0,
            concurrency=1,
        ) as emu,
    ):
        started = time.monotonic()
        store = Path(tmp) / "job.db"
        _fill_store(store, emu)
        for _ in range(BATCHES - CHANGING - 1):
            emu.add_ended_batch([], {"succeeded": 100})
        asyncio.run(_create_changing(emu.base_url))
        print(
            f"setup: {BATCHES:,} batches ({CHANGING} in progress), a store of {RESULTS:,}"
            f" results ({store.stat().st_size / 2**20:.0f} MiB)"
            f" in {time.monotonic() - started:.1f} s",
            flush=True,
        )
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.dashboard", "--serve", emu.base_url, str(store)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            urls = [child.stdout.readline().strip(), child.stdout.readline().strip()]
            name, (rest, changing, capped) = asyncio.run(
                _measure(emu, child.pid, urls, executable, Path(tmp))
            )
        finally:
            child.send_signal(signal.SIGTERM)
            child.wait(10)
    unit = "renders" if executable is not None else "pushes"
    verdicts = [
        rest.server_cpu < MAX_CPU and rest.renders_per_s < MAX_RENDERS,
        _within_cap(changing),
        _within_cap(capped),
    ]
    aged = f", the clock {AGE_HOURS:g} h back" if AGE_HOURS else ""
    print(f"dashboard: {BATCHES:,} batches, a {RESULTS:,}-result store, {name}{aged}", flush=True)
    _report("at rest", unit, rest, f"< {MAX_RENDERS:.0f}/s", f"< {MAX_CPU:.0%}", verdicts[0])
    cap = f"<= {MAX_RENDERS:.0f}/s, +1 at the window's edge"
    for window, listing, verdict in [
        (changing, "every 1 s", verdicts[1]),
        (capped, f"every {FAST_INTERVAL} s: the cap", verdicts[2]),
    ]:
        what = f"while {CHANGING} batches change (listing {listing})"
        _report(what, unit, window, cap, "info", verdict)
    print(f"dashboard: {'PASS' if all(verdicts) else 'FAIL'}", flush=True)
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
