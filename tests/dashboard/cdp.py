"""Headless Chromium driven over the Chrome DevTools Protocol (aiohttp's WebSocket client).

No WebDriver and nothing downloaded: Debian's ``chromium`` package, started with
``--remote-debugging-port=0``, prints the address of its DevTools endpoint on stderr.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
    "--window-size=1280,860",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]

_LISTENING = re.compile(rb"DevTools listening on (ws://\S+)")


def chromium() -> str | None:
    """The Chromium executable on PATH, if any."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One tab: commands, its log entries, and waits on its DOM."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: str, browser: Browser):
        self._ws = ws
        self._session = session
        self._browser = browser
        self.errors: list[str] = []
        """Console errors, exceptions and CSP violations the page reported."""

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        return await self._browser.send(method, session=self._session, **params)

    async def evaluate(self, expression: str) -> Any:
        answer = await self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression[:80]}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    async def wait_for(self, predicate: str) -> Any:
        """Wait until the JS expression ``predicate`` is truthy, on each DOM change.

        No polling: a MutationObserver re-evaluates it whenever the page changes.
        """
        return await self.evaluate(
            "new Promise((resolve) => {"
            f"  const check = () => {{ const v = ({predicate}); if (v) {{"
            "    observer.disconnect(); resolve(v); } };"
            "  const observer = new MutationObserver(check);"
            "  observer.observe(document, {subtree: true, childList: true,"
            "    attributes: true, characterData: true});"
            "  check();"
            "})"
        )

    async def screenshot(self, path: Path) -> None:
        answer = await self.send("Page.captureScreenshot", format="png")
        path.parent.mkdir(parents=True, exist_ok=True)
        # Unique: tox may run this test in several environments at once.
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(base64.b64decode(answer["data"]))
        partial.replace(path)

    def _event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(params["entry"]["text"])
        elif method == "Runtime.exceptionThrown":
            self.errors.append(json.dumps(params["exceptionDetails"])[:500])
        elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
            self.errors.append(json.dumps(params["args"])[:500])


class Browser:
    """The browser's DevTools connection: one command at a time per id, events to pages."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, pid: int | None = None) -> None:
        self._ws = ws
        self.pid = pid
        """The browser process's id (its renderers and helpers are its descendants)."""
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pages: dict[str, Page] = {}
        self._reader = asyncio.create_task(self._read())

    async def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        answer = self._waiting[number] = asyncio.get_running_loop().create_future()
        await self._ws.send_str(json.dumps(message))
        result: dict[str, Any] = await answer
        return result

    async def new_page(self) -> Page:
        target = await self.send("Target.createTarget", url="about:blank")
        attached = await self.send(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        page = self._pages[attached["sessionId"]] = Page(self._ws, attached["sessionId"], self)
        for domain in ("Page", "Runtime", "Log"):
            await page.send(f"{domain}.enable")
        return page

    async def _read(self) -> None:
        async for message in self._ws:
            data = json.loads(message.data)
            if "id" in data:
                future = self._waiting.pop(data["id"], None)
                if future is None or future.done():
                    continue
                if "error" in data:
                    future.set_exception(AssertionError(f"CDP error: {data['error']}"))
                else:
                    future.set_result(data.get("result", {}))
            elif (page := self._pages.get(data.get("sessionId", ""))) is not None:
                page._event(data["method"], data.get("params", {}))
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("the browser went away"))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.send("Browser.close"), 2)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@asynccontextmanager
async def launch(executable: str, profile: Path) -> AsyncIterator[Browser]:
    """Start headless Chromium with a fresh profile in ``profile``; stop it at the end."""
    process = await asyncio.create_subprocess_exec(
        executable,
        *FLAGS,
        f"--user-data-dir={profile}",
        "about:blank",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        lines: list[bytes] = []
        async with asyncio.timeout(15):
            while True:
                line = await process.stderr.readline()
                if not line:
                    raise AssertionError(b"chromium exited:\n" + b"".join(lines))
                lines.append(line)
                if found := _LISTENING.search(line):
                    break
        # Keep reading stderr so that the browser never blocks on a full pipe.
        drain = asyncio.create_task(_drain(process.stderr))
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(found.group(1).decode(), max_msg_size=64 * 2**20) as ws,
        ):
            browser = Browser(ws, process.pid)
            try:
                yield browser
            finally:
                await browser.close()
        drain.cancel()
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass
