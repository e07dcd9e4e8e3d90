"""The dashboard in a real browser: headless Chromium (Debian's package) over DevTools.

Run by tox's ``browser`` environment, which installs Chromium and requires it
(``RXBATCHES_BROWSER_TESTS=required``: a missing browser fails there). Elsewhere these
tests run when ``chromium`` is on PATH and are skipped, saying so, when it is not.
Saves ``artifacts/dashboard.png`` (the README's screenshot).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rxbatches import Client
from rxbatches._base.models import Request
from rxbatches.emulator import Emulator, Fail, Outcome, default_responder

from .cdp import Page, chromium, launch
from .helpers import requests, serve

SCREENSHOT = Path(__file__).resolve().parents[2] / "artifacts" / "dashboard.png"

EXECUTABLE = chromium()
if EXECUTABLE is None:
    if os.environ.get("RXBATCHES_BROWSER_TESTS") == "required":
        raise RuntimeError("the browser tests need chromium on PATH (apt-get install chromium)")
    pytestmark = pytest.mark.skip(
        reason="no chromium on PATH: the browser tests run in `tox -e browser`, which installs it"
    )


def row(batch_id: str, condition: str = "true") -> str:
    """A JS predicate: the batch's row exists and ``condition`` holds on it (``r``)."""
    return (
        f"(() => {{ const r = document.querySelector('tr[data-batch-id={json.dumps(batch_id)}]');"
        f" return r !== null && ({condition}); }})()"
    )


def _responder(request: Request) -> Outcome:
    # Two of the job's requests are refused for good: its card shows errors by type.
    if request.custom_id in ("job-3", "job-7"):
        return Fail("invalid_request_error", "rejected by the test")
    return default_responder(request)


@pytest.fixture
async def slow_emulator() -> AsyncIterator[Emulator]:
    async with Emulator(request_latency=0.02, concurrency=1, responder=_responder) as emu:
        yield emu


async def _open(page: Page, url: str) -> None:
    await page.send("Page.navigate", url=url)
    await page.wait_for("document.getElementById('connection')?.dataset.state === 'live'")
    await page.wait_for("Number(document.body.dataset.renders || 0) >= 1")


async def test_batches_appear_progress_and_end_without_a_reload_and_cancel_works_from_the_page(
    slow_emulator: Emulator, tmp_path: Path
) -> None:
    assert EXECUTABLE is not None
    store = tmp_path / "translations.db"
    async with Client(api_key="sk-ant-browser-test-key", base_url=slow_emulator.base_url) as c:
        # Four batches, two at a time: results arrive in steps, for the job's chart.
        await c.messages.batches.run(
            requests(12, "job-"), store=store, interval=0.05, max_requests_per_batch=3
        )
        async with (
            serve(c, stores=[store], interval=0.1, store_interval=0.2) as served,
            launch(EXECUTABLE, tmp_path / "profile") as browser,
        ):
            page = await browser.new_page()
            await _open(page, served.at("/"))
            loaded_at = await page.evaluate("location.href")

            # A batch created after the page loaded appears within 2 s, then ends.
            batch = await c.messages.batches.create(requests(40))
            created = time.monotonic()
            await page.wait_for(row(batch.id))
            assert time.monotonic() - created < 2.0
            await page.wait_for(row(batch.id, "r.dataset.status === 'ended'"))
            assert "40 / 40 processed" in await page.evaluate(
                f"document.querySelector('tr[data-batch-id=\"{batch.id}\"]').innerText"
            )
            assert await page.evaluate(row(batch.id, "r.querySelector('a.download') !== null"))

            # Cancel from the page: the batch ends canceled.
            long = await c.messages.batches.create(requests(400, "long-"))
            await page.wait_for(row(long.id, "r.querySelector('button.cancel') !== null"))
            await page.evaluate(
                f"document.querySelector('tr[data-batch-id=\"{long.id}\"] button.cancel').click()"
            )
            await page.wait_for(row(long.id, "r.dataset.status === 'ended'"))
            assert (await c.messages.batches.retrieve(long.id)).request_counts.canceled > 0

            # One more running, for the picture; the job store's card is there.
            running = await c.messages.batches.create(requests(400, "next-"))
            await page.wait_for(row(running.id, "r.dataset.status === 'in_progress'"))
            await page.wait_for(
                row(running.id, "parseFloat(r.querySelector('.bar .processed').style.width) > 0")
            )
            # Its expiry countdown: hours and minutes while over an hour is left (no
            # seconds: the cell changes once a minute).
            countdown = await page.evaluate(
                f"document.querySelector('tr[data-batch-id=\"{running.id}\"] .countdown')"
                ".textContent"
            )
            assert re.fullmatch(r"2[34]h \d+m", countdown), countdown
            card = "document.querySelector('[data-store=\"translations.db\"]')"
            assert "10" in await page.evaluate(
                f"{card}.querySelector('[data-field=\"succeeded\"]').innerText"
            )
            # Its chart of results over time (SVG drawn by the script), its errors by
            # type, and its export, which the page's link downloads.
            assert await page.evaluate(
                f"{card}.querySelector('svg polygon[data-series=\"succeeded\"]')"
                ".getBBox().width > 0"
            )
            assert await page.evaluate(
                f"{card}.querySelector('svg polygon[data-series=\"errored\"]') !== null"
            )
            assert (
                await page.evaluate(
                    f"{card}.querySelector('table.errors tr[data-error=\"invalid_request_error\"]')"
                    ".innerText"
                )
                == "invalid_request_error\t2"
            )
            # Its batches: 4 of 3 requests, each with its results stored.
            job_batches = await page.evaluate(
                f"[...{card}.querySelectorAll('tr[data-job-batch]')]"
                ".map((tr) => [tr.dataset.state, tr.cells[3].innerText])"
            )
            assert job_batches == [["done", "3"]] * 4, job_batches
            exported = await page.evaluate(
                f"fetch({card}.querySelector('a.export').href).then((r) => r.text())"
            )
            assert sorted(json.loads(line)["custom_id"] for line in exported.splitlines()) == (
                sorted(f"job-{i}" for i in range(12))
            )
            await page.screenshot(SCREENSHOT)
            assert await page.evaluate("location.href") == loaded_at  # never reloaded
            assert page.errors == []  # no script error, no CSP violation
    assert SCREENSHOT.stat().st_size > 10_000
