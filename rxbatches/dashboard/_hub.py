"""The dashboard's live state: one poll of the account and of each job store, for every view.

One hub per application, whatever the number of open pages: it subscribes to the
library's own Observables (``batches.list()``, one listing at a time, the next one
``interval`` after the previous answer, as ``watch`` polls) and reads each job store's
:meth:`~rxbatches.JobStore.overview` (its summary and timeline, one join) and
:meth:`~rxbatches.JobStore.errors_by_type` in a worker thread (again only when its files
have changed). It polls only while at least one page is open (an event stream
connected): the first page starts the polls, and they stop ``linger`` seconds after
the last page has gone (a reload does not restart them), so an application nobody
looks at costs no API call and no CPU. Each change of the state is published once, as
a :class:`Snapshot` (each batch's JSON text apart), on :attr:`Hub.states` (a
``BehaviorSubject``: a new page gets the current state at once). Each page then
samples it and sends the full state once, then only what changed since its last push
(:func:`delta`; see ``_app``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import reactivex.operators as ops
from reactivex.subject import BehaviorSubject

from rxbatches import Client, JobStore, MessageBatch
from rxbatches._base.offload import off_loop

__all__ = ["TIMELINE_POINTS", "Hub", "Snapshot", "delta"]

TIMELINE_POINTS = 60
"""The most points of a job store's chart of results over time (after its start)."""

_DROPPED_FIELDS = ("results_url",)  # the browser never calls the API


def batch_view(batch: MessageBatch) -> dict[str, Any]:
    """What the page shows of a batch: its wire fields but the API's URLs."""
    wire = batch.to_wire()
    for name in _DROPPED_FIELDS:
        wire.pop(name, None)
    return wire


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True, eq=True)
class Snapshot:
    """The state at one time, as JSON texts, so that two are compared piece by piece.

    Attributes:
        order: The batches' ids, newest first.
        batches: Each batch's JSON text, by id.
        stores: The job stores' views, one JSON array.
        meta: The other fields (``batches_error``, ``listed``): JSON object members.
    """

    order: tuple[str, ...]
    batches: dict[str, str]
    stores: str
    meta: str

    def full(self) -> str:
        """The whole state, one JSON object (the first push to a page)."""
        batches = ",".join(self.batches[i] for i in self.order)
        return f'{{"batches":[{batches}],{self.meta},"stores":{self.stores}}}'


def delta(sent: Snapshot, newest: Snapshot) -> str | None:
    """What a page that has ``sent`` must apply to show ``newest``; ``None``: nothing.

    A JSON object: ``upsert`` (the batches new or changed), ``removed`` (ids gone), the
    meta fields, and ``order`` and ``stores`` only when they changed. ``newest`` may be
    several snapshots after ``sent`` (a slow page): the delta covers them all.
    """
    if sent == newest:
        return None
    upsert = ",".join(t for i, t in newest.batches.items() if sent.batches.get(i) != t)
    removed = _dumps([i for i in sent.order if i not in newest.batches])
    parts = [f'"upsert":[{upsert}]', f'"removed":{removed}', newest.meta]
    if newest.order != sent.order:
        parts.append(f'"order":{_dumps(list(newest.order))}')
    if newest.stores != sent.stores:
        parts.append(f'"stores":{newest.stores}')
    return "{" + ",".join(parts) + "}"


class _StoreReader:
    """One job store, opened without the lock (a run may be driving it meanwhile)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._store: JobStore | None = None
        self._seen: tuple[tuple[int, int] | None, ...] | None = None
        self._view: dict[str, Any] | None = None
        # A read left running by a stopped poll may overlap the next poll's first one.
        self._lock = threading.Lock()

    def read(self) -> dict[str, Any]:
        """The store's summary, batches, results over time and errors (in a worker thread)."""
        with self._lock:
            return self._read()

    def _files(self) -> tuple[tuple[int, int] | None, ...]:
        # A commit changes the WAL file (or the database, once checkpointed): the same
        # sizes and times mean the same contents, and the summary of a big job (a join
        # over every result) is not computed again.
        marks: list[tuple[int, int] | None] = []
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                found = path.stat()
            except OSError:
                marks.append(None)
            else:
                marks.append((found.st_mtime_ns, found.st_size))
        return tuple(marks)

    def _read(self) -> dict[str, Any]:
        files = self._files()
        if self._view is not None and files == self._seen:
            return self._view
        view = self._view = self._read_store()
        self._seen = files if "error" not in view else None
        return view

    def _read_store(self) -> dict[str, Any]:
        view: dict[str, Any] = {"path": str(self.path), "name": self.path.name}
        try:
            if self._store is None:
                self._store = JobStore.open(self.path, lock=False, create=False)
            # The summary and the timeline from one join over the results (of a 100,000-
            # result job: about 0.17 s of this thread, rather than 0.25 s for the two).
            summary, timeline = self._store.overview(TIMELINE_POINTS)
            batches = self._store.batches()
            errors = self._store.errors_by_type()
        except Exception as exc:  # shown on the page, the poll goes on
            self._close()
            view["error"] = _describe(exc)
            return view
        view["summary"] = summary.as_json()
        view["batches"] = [
            {"id": b.batch_id, "state": b.state, "requests": b.requests, "position": b.position}
            for b in batches
        ]
        # Arrays, not objects: at most TIMELINE_POINTS + 1 of them in each push of the store.
        view["timeline"] = {
            "buckets": TIMELINE_POINTS,
            "points": [[round(p.at, 3), p.succeeded, p.errored, p.other] for p in timeline],
        }
        view["errors"] = errors
        return view

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        self._view = self._seen = None
        if self._store is not None:
            self._store.close()
            self._store = None


class Hub:
    """The polls behind every page of one dashboard application.

    Args:
        client: Lists the account's batches (and cancels them, for the page's actions).
        stores: The job stores to show.
        interval: Seconds between the end of one listing and the start of the next.
        store_interval: Seconds between two reads of the job stores.
        max_batches: How many of the newest batches are listed.
        linger: Seconds the polls go on after the last page has gone.
        secrets: Texts that never leave the server (the API key): replaced in every
            state before it is published.
    """

    def __init__(
        self,
        client: Client,
        stores: Sequence[str | PathLike[str]],
        *,
        interval: float,
        store_interval: float,
        max_batches: int,
        linger: float,
        secrets: Sequence[str],
    ) -> None:
        self.client = client
        self._readers = [_StoreReader(Path(p)) for p in stores]
        self._interval = interval
        self._store_interval = store_interval
        self._max_batches = max_batches
        self._secrets = [s for s in secrets if s]
        self._batches: list[dict[str, Any]] = []
        self._totals: dict[str, int] = {}
        self._sizes: dict[str, int] = {}  # the sizes of the job stores' batches
        self._batches_error: str | None = None
        self._listed = False
        self._stores: list[dict[str, Any]] = []
        self._poke = asyncio.Event()
        self.states: BehaviorSubject[Snapshot] = BehaviorSubject(self._render())
        """The state, published on each change (on the event loop)."""
        self._linger = linger
        self._pages = 0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.idle = asyncio.Event()
        """Set while nothing polls (no page open, and ``linger`` over)."""
        self.idle.set()

    def attach(self) -> None:
        """A page is open: poll (from now on, if nothing polled)."""
        self._pages += 1
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if not self._tasks:
            self.idle.clear()
            self._tasks = [asyncio.create_task(self._poll_batches())]
            if self._readers:
                self._tasks.append(asyncio.create_task(self._poll_stores()))

    def detach(self) -> None:
        """A page has gone: the last one stops the polls ``linger`` seconds later."""
        self._pages -= 1
        if self._pages == 0 and self._tasks:
            self._idle_timer = asyncio.get_running_loop().call_later(self._linger, self._pause)

    def _pause(self) -> None:
        self._idle_timer = None
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        self.idle.set()

    async def stop(self) -> None:
        """Stop polling and close the stores."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.idle.set()
        for reader in self._readers:
            await off_loop(reader.close)
        self.states.on_completed()

    @property
    def store_paths(self) -> list[Path]:
        """The job stores shown, in the page's order."""
        return [reader.path for reader in self._readers]

    def poke(self) -> None:
        """List again now (after an action), rather than at the end of the interval."""
        self._poke.set()

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def _render(self) -> Snapshot:
        previous: dict[str, str] = {}
        with contextlib.suppress(AttributeError):  # none before the first
            previous = self.states.value.batches
        batches = {}
        for batch in self._batches:
            text = self.redact(_dumps(batch))
            # Equal texts kept as the same object: the next comparison is by identity.
            old = previous.get(batch["id"])
            batches[batch["id"]] = old if old == text else text
        meta = _dumps({"batches_error": self._batches_error, "listed": self._listed})
        return Snapshot(
            order=tuple(b["id"] for b in self._batches),
            batches=batches,
            stores=self.redact(_dumps(self._stores)),
            meta=self.redact(meta[1:-1]),
        )

    def _publish(self) -> None:
        snapshot = self._render()
        if snapshot != self.states.value:
            self.states.on_next(snapshot)

    async def _poll_batches(self) -> None:
        # One page for them all (as long as the API allows): a request per listing.
        listing = self.client.messages.batches.list(limit=min(self._max_batches, 1000)).pipe(
            ops.take(self._max_batches), ops.map(batch_view), ops.to_list()
        )
        while True:
            self._poke.clear()
            try:
                self._batches = self._with_totals(await listing)
                self._batches_error = None
                self._listed = True
            except Exception as exc:  # shown on the page, the poll goes on
                self._batches_error = _describe(exc)
            self._publish()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), self._interval)

    def _with_totals(self, batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # The API counts ``processing`` down while a batch runs and shows its outcomes
        # only at the end: the sum of the counts shrinks until then. The first sum seen
        # is the batch's size (or the most known of it, for a batch found half done).
        totals = {}
        for batch in batches:
            seen = sum(v for v in batch["request_counts"].values() if isinstance(v, int))
            known = max(self._totals.get(batch["id"], 0), self._sizes.get(batch["id"], 0))
            total = totals[batch["id"]] = max(seen, known)
            batch["total"] = total
        self._totals = totals
        return batches

    async def _poll_stores(self) -> None:
        while True:
            self._stores = [await off_loop(r.read) for r in self._readers]
            self._sizes = {
                b["id"]: b["requests"]
                for s in self._stores
                for b in s.get("batches", ())
                if b["id"]
            }
            self._publish()
            await asyncio.sleep(self._store_interval)
