"""Pagination over the emulator: forward and backward walks visit every batch exactly once.

One emulator serves the whole module (``reset()`` between examples); hypothesis drives a
sync wire client against it, so each example is a real HTTP conversation on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given

from rxbatches.emulator import EmulatorThread

from ._wire import WireClient, simple_request
from .strategies import batch_counts, page_limits


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(request_latency=0.001) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def wire(emu: EmulatorThread) -> Iterator[WireClient]:
    with WireClient(emu.base_url) as client:
        yield client


def _create_batches(wire: WireClient, n: int) -> list[str]:
    """Create ``n`` one-request batches; return their ids, newest first."""
    ids: list[str] = []
    for i in range(n):
        response = wire.create([simple_request(f"req-{i}")])
        assert response.status == 200, response.body
        ids.append(response.json()["id"])
    assert len(set(ids)) == n, "create returned a repeated id"
    return ids[::-1]


def _page(wire: WireClient, **query: str | int) -> dict[str, Any]:
    response = wire.list(**query)
    assert response.status == 200, response.body
    page: dict[str, Any] = response.json()
    ids = [batch["id"] for batch in page["data"]]
    # first_id / last_id describe data exactly, null when it is empty.
    assert page["first_id"] == (ids[0] if ids else None)
    assert page["last_id"] == (ids[-1] if ids else None)
    return page


def _walk(wire: WireClient, limit: int, cursor: str, start: str | None) -> list[list[str]]:
    """Follow ``cursor`` (after_id or before_id) page by page; return each page's ids."""
    pages: list[list[str]] = []
    query: dict[str, str | int] = {"limit": limit}
    if start is not None:
        query[cursor] = start
    while True:
        page = _page(wire, **query)
        ids = [batch["id"] for batch in page["data"]]
        assert len(ids) <= limit
        pages.append(ids)
        if not page["has_more"]:
            return pages
        # has_more promises a non-empty next page: a full page now, something after it.
        assert len(ids) == limit, f"has_more with a short page of {len(ids)} (limit {limit})"
        query[cursor] = page["last_id"] if cursor == "after_id" else page["first_id"]
        assert len(pages) <= 251, "the walk does not terminate"


def _expected_pages(ids: list[str], limit: int) -> list[list[str]]:
    return [ids[i : i + limit] for i in range(0, len(ids), limit)] or [[]]


@given(n=batch_counts, limit=page_limits)
def test_forward_walk_with_after_id_visits_every_batch_once_newest_first(
    emu: EmulatorThread, wire: WireClient, n: int, limit: int
) -> None:
    emu.reset()
    newest_first = _create_batches(wire, n)

    pages = _walk(wire, limit, "after_id", None)

    visited = [batch_id for page in pages for batch_id in page]
    assert visited == newest_first
    # has_more was false exactly on the last page: full pages, then one final page.
    assert pages == _expected_pages(newest_first, limit)


@given(n=batch_counts, limit=page_limits)
def test_backward_walk_with_before_id_visits_every_newer_batch_once(
    emu: EmulatorThread, wire: WireClient, n: int, limit: int
) -> None:
    emu.reset()
    newest_first = _create_batches(wire, n)
    if not newest_first:
        # Nothing to start from; an empty store still answers one empty final page.
        assert _walk(wire, limit, "before_id", None) == [[]]
        return
    oldest = newest_first[-1]

    pages = _walk(wire, limit, "before_id", oldest)

    # Each page holds the `limit` batches just newer than the cursor, newest first, so
    # the pages read in reverse order give the store without the starting batch.
    rest = newest_first[:-1]
    visited = [batch_id for page in reversed(pages) for batch_id in page]
    assert [*visited, oldest] == newest_first
    expected = [rest[max(0, end - limit) : end] for end in range(len(rest), 0, -limit)]
    assert pages == (expected or [[]])
