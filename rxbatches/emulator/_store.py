"""The emulator's in-memory batches, with their lifecycle as a pure function of the clock.

When a batch is created (or canceled), every request's start and finish time is fixed:
requests are spread over ``concurrency`` slots, each taking its outcome's latency. The
processing status, the counts and ``ended_at`` are then derived from the clock at read
time, so there is no background task and a :class:`ManualClock` makes it all
deterministic.
"""

from __future__ import annotations

import bisect
import heapq
import json
import secrets
import string
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .._base.models import Request
from ._clock import Clock
from ._faults import RETRYABLE_ERRORS, Faults, RequestFault
from ._responders import Fail, Outcome, Responder, Succeed, default_message, message_to_wire

__all__ = ["Batch", "Rejection", "Store", "rfc3339"]

DAY = 24 * 3600.0
_ARCHIVE_AFTER = 29 * DAY
_ALPHABET = string.ascii_letters + string.digits
_COUNT_KEYS = ("processing", "succeeded", "errored", "canceled", "expired")

LineSource = Iterable[bytes] | Callable[[], Iterable[bytes]]


class Rejection(Exception):
    """A request the API answers with an error envelope."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def rfc3339(t: float) -> str:
    """Format POSIX seconds as an RFC 3339 UTC timestamp (``...Z``)."""
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def new_id(prefix: str) -> str:
    """Return ``prefix`` followed by 24 random base62 characters."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(24))


@dataclass(eq=False)
class Batch:
    """One stored batch and its fixed schedule (all times are emulator POSIX seconds)."""

    id: str
    seq: int
    created: float
    total: int
    requests: list[Request] = field(default_factory=list)
    outcomes: list[Outcome | None] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    finish: list[float] = field(default_factory=list)
    cancel_at: float | None = None
    # Derived by Store._settle whenever the schedule changes.
    done_times: list[float] = field(default_factory=list)
    end: float = 0.0
    final: dict[str, int] = field(default_factory=dict)
    # Seeded batches serve pre-built lines instead of generating them.
    lines: Callable[[], Iterable[bytes]] | None = None

    @property
    def expires(self) -> float:
        """When unprocessed requests expire: 24 hours after creation."""
        return self.created + DAY

    def ended(self, now: float) -> bool:
        """Whether processing has ended at ``now``."""
        return now >= self.end

    def status(self, now: float) -> str:
        """The processing status at ``now``."""
        if now >= self.end:
            return "ended"
        return "in_progress" if self.cancel_at is None else "canceling"

    def counts(self, now: float) -> dict[str, int]:
        """The request counts at ``now``: ``processing`` counts down, the rest appear at the end."""
        if now >= self.end:
            return dict(self.final)
        done = bisect.bisect_right(self.done_times, now)
        return {
            "processing": self.total - done,
            "succeeded": 0,
            "errored": 0,
            "canceled": 0,
            "expired": 0,
        }

    def to_wire(self, now: float, base_url: str) -> dict[str, Any]:
        """The batch as the API shows it at ``now``."""
        ended = now >= self.end
        archived = self.created + _ARCHIVE_AFTER
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.status(now),
            "request_counts": self.counts(now),
            "created_at": rfc3339(self.created),
            "expires_at": rfc3339(self.expires),
            "ended_at": rfc3339(self.end) if ended else None,
            "cancel_initiated_at": None if self.cancel_at is None else rfc3339(self.cancel_at),
            "archived_at": rfc3339(archived) if now >= archived else None,
            "results_url": f"{base_url}/v1/messages/batches/{self.id}/results" if ended else None,
        }

    def next_change(self, now: float) -> float | None:
        """The first emulator time after ``now`` at which this batch's view changes."""
        if now >= self.end:
            archived = self.created + _ARCHIVE_AFTER
            return archived if now < archived else None
        i = bisect.bisect_right(self.done_times, now)
        return min(self.done_times[i], self.end) if i < len(self.done_times) else self.end

    def archived(self, now: float) -> bool:
        """Whether the results are no longer available (29 days after creation)."""
        return now >= self.created + _ARCHIVE_AFTER


class Store:
    """Every batch of one emulator, newest first; safe to use from several threads.

    Args:
        clock: The emulator clock.
        request_latency: Default emulator seconds per request.
        concurrency: Requests of one batch processed at the same time.
        responder: Decides each request's outcome (``None``: succeed with the default
            message, derived lazily when results are read).
        faults: Their ``error_rate`` and ``expire_rate`` override the responder's
            outcome of the requests they draw.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        request_latency: float,
        concurrency: int,
        responder: Responder | None,
        faults: Faults | None = None,
    ) -> None:
        if request_latency < 0:
            raise ValueError("request_latency must not be negative")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.clock = clock
        self.request_latency = request_latency
        self.concurrency = concurrency
        self.responder = responder
        self.faults = faults
        self._lock = threading.RLock()
        self._batches: dict[str, Batch] = {}
        # Ascending creation order of the live batches (parallel lists for bisect).
        self._seqs: list[int] = []
        self._ids: list[str] = []
        # Sequence numbers of every id ever issued, so a deleted cursor still pages.
        self._seq_of: dict[str, int] = {}
        self._next_seq = 0

    # ------------------------------------------------------------------ writes

    def create(self, requests: list[Request]) -> Batch:
        """Store a new batch and fix its schedule."""
        now = self.clock.time()
        responder = self.responder
        outcomes: list[Outcome | None] = (
            [None] * len(requests) if responder is None else [responder(r) for r in requests]
        )
        default = self.request_latency
        latencies = [default if o is None or o.latency is None else o.latency for o in outcomes]
        if any(lat < 0 for lat in latencies):
            raise ValueError("a responder returned a negative latency")
        fates = (
            None
            if self.faults is None
            else self.faults.draw_requests([r.custom_id for r in requests])
        )
        if fates is None:
            start, finish = _schedule(now, latencies, self.concurrency)
        else:
            start, finish = _schedule_with_faults(now, latencies, self.concurrency, fates)
            for i, fate in enumerate(fates):
                if fate is not None and fate != "expired":
                    outcomes[i] = Fail(fate, RETRYABLE_ERRORS[fate], default)
        batch = Batch(
            id=new_id("msgbatch_"),
            seq=0,
            created=now,
            total=len(requests),
            requests=requests,
            outcomes=outcomes,
            start=start,
            finish=finish,
        )
        _settle(batch, self.request_latency)
        self._insert(batch)
        return batch

    def add_ended(self, lines: LineSource, request_counts: Mapping[str, int] | None) -> Batch:
        """Store an already-ended batch that serves ``lines`` as its results, verbatim."""
        if callable(lines):
            source: Callable[[], Iterable[bytes]] = lines
        else:
            fixed = lines if isinstance(lines, list | tuple) else list(lines)

            def source() -> Iterable[bytes]:
                return fixed

        counts = dict.fromkeys(_COUNT_KEYS, 0)
        if request_counts is None:
            for line in source():
                if line.strip():
                    kind = json.loads(line)["result"]["type"]
                    counts[kind if kind in counts else "succeeded"] += 1
        else:
            unknown = set(request_counts) - set(_COUNT_KEYS)
            if unknown:
                raise ValueError(f"unknown request_counts keys: {sorted(unknown)}")
            counts.update(request_counts)
        counts["processing"] = 0
        now = self.clock.time()
        batch = Batch(
            id=new_id("msgbatch_"),
            seq=0,
            created=now,
            total=sum(counts.values()),
            end=now,
            final=counts,
            lines=source,
        )
        self._insert(batch)
        return batch

    def _insert(self, batch: Batch) -> None:
        with self._lock:
            batch.seq = self._next_seq
            self._next_seq += 1
            self._batches[batch.id] = batch
            self._seq_of[batch.id] = batch.seq
            self._seqs.append(batch.seq)
            self._ids.append(batch.id)

    def cancel(self, batch_id: str) -> Batch:
        """Start canceling a batch; an already ended or canceling batch is left as is."""
        with self._lock:
            batch = self.get(batch_id)
            now = self.clock.time()
            if batch.cancel_at is None and not batch.ended(now):
                batch.cancel_at = now
                _settle(batch, self.request_latency)
            return batch

    def delete(self, batch_id: str) -> None:
        """Forget an ended batch."""
        with self._lock:
            batch = self.get(batch_id)
            if not batch.ended(self.clock.time()):
                raise Rejection(
                    400,
                    "invalid_request_error",
                    f"Batch {batch_id} cannot be deleted while it is "
                    f"{batch.status(self.clock.time())}; cancel it and wait until it has ended.",
                )
            del self._batches[batch_id]
            i = bisect.bisect_left(self._seqs, batch.seq)
            del self._seqs[i], self._ids[i]

    def clear(self) -> None:
        """Forget every batch."""
        with self._lock:
            self._batches.clear()
            self._seqs.clear()
            self._ids.clear()
            self._seq_of.clear()

    # ------------------------------------------------------------------ reads

    def get(self, batch_id: str) -> Batch:
        """Return a batch, or raise a 404 :class:`Rejection`."""
        batch = self._batches.get(batch_id)
        if batch is None:
            raise Rejection(404, "not_found_error", f"No batch with id {batch_id!r} was found.")
        return batch

    def ids(self) -> list[str]:
        """The ids of the stored batches, newest first."""
        with self._lock:
            return self._ids[::-1]

    def page(
        self, limit: int, before_id: str | None, after_id: str | None
    ) -> tuple[list[Batch], bool]:
        """One page of batches, newest first, and whether more lie in the paging direction.

        ``after_id`` pages towards older batches, ``before_id`` towards newer ones (the page
        being the ``limit`` batches closest to the cursor). A cursor naming a deleted batch
        still works; one never issued is a 400.
        """
        with self._lock:
            seqs, ids = self._seqs, self._ids
            if after_id is not None:
                hi = bisect.bisect_left(seqs, self._cursor("after_id", after_id))
                lo = max(0, hi - limit)
                more = lo > 0
            elif before_id is not None:
                lo = bisect.bisect_right(seqs, self._cursor("before_id", before_id))
                hi = min(len(seqs), lo + limit)
                more = hi < len(seqs)
            else:
                hi = len(seqs)
                lo = max(0, hi - limit)
                more = lo > 0
            return [self._batches[i] for i in reversed(ids[lo:hi])], more

    def _cursor(self, name: str, batch_id: str) -> int:
        seq = self._seq_of.get(batch_id)
        if seq is None:
            raise Rejection(
                400,
                "invalid_request_error",
                f"{name}: no batch with id {batch_id!r} was ever created.",
            )
        return seq

    def next_change(self) -> float | None:
        """The first emulator time after now at which any batch's view changes."""
        now = self.clock.time()
        with self._lock:
            times = [t for b in self._batches.values() if (t := b.next_change(now)) is not None]
        return min(times, default=None)

    def results(self, batch: Batch) -> Iterator[bytes]:
        """Generate the JSONL lines of an ended batch lazily, in request order."""
        if batch.lines is not None:
            yield from batch.lines()
            return
        cancel_at = batch.cancel_at if batch.cancel_at is not None else float("inf")
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        for i, request in enumerate(batch.requests):
            result: dict[str, Any]
            outcome = batch.outcomes[i]
            if batch.start[i] >= cancel_at:
                result = {"type": "canceled"}
            elif batch.finish[i] > batch.expires:
                result = {"type": "expired"}
            elif isinstance(outcome, Fail):
                result = {
                    "type": "errored",
                    "error": {
                        "type": "error",
                        "error": {"type": outcome.error_type, "message": outcome.message},
                        "request_id": new_id("req_emu"),
                    },
                }
            else:
                message = outcome.message if isinstance(outcome, Succeed) else None
                wire = default_message(request) if message is None else message_to_wire(message)
                result = {"type": "succeeded", "message": wire}
            yield (dumps({"custom_id": request.custom_id, "result": result}) + "\n").encode()


def _schedule(
    now: float, latencies: list[float], concurrency: int
) -> tuple[list[float], list[float]]:
    """Spread requests over slots, each taking the next request as soon as it is free."""
    n = len(latencies)
    if n and all(lat == latencies[0] for lat in latencies):
        lat = latencies[0]
        finish = [now + (i // concurrency + 1) * lat for i in range(n)]
        return [f - lat for f in finish], finish
    slots = [now] * min(concurrency, n)
    start: list[float] = []
    finish = []
    for lat in latencies:
        begin = heapq.heappop(slots)
        start.append(begin)
        finish.append(begin + lat)
        heapq.heappush(slots, begin + lat)
    return start, finish


def _schedule_with_faults(
    now: float, latencies: list[float], concurrency: int, fates: list[RequestFault | None]
) -> tuple[list[float], list[float]]:
    """Schedule the requests, leaving those fated to expire without a slot.

    They would start after the batch's 24 hours (so a cancel before then cancels them, and
    otherwise they expire) and hold up no other request.
    """
    kept = [i for i, fate in enumerate(fates) if fate != "expired"]
    if len(kept) == len(fates):
        return _schedule(now, latencies, concurrency)
    some_start, some_finish = _schedule(now, [latencies[i] for i in kept], concurrency)
    never = now + DAY + 1.0
    start = [never] * len(fates)
    finish = [never] * len(fates)
    for j, i in enumerate(kept):
        start[i], finish[i] = some_start[j], some_finish[j]
    return start, finish


def _settle(batch: Batch, grace: float) -> None:
    """Derive the end time, the final counts and the sorted completion times."""
    cancel_at = batch.cancel_at if batch.cancel_at is not None else float("inf")
    expires = batch.expires
    final = dict.fromkeys(_COUNT_KEYS, 0)
    done: list[float] = []
    for i, outcome in enumerate(batch.outcomes):
        if batch.start[i] >= cancel_at:
            final["canceled"] += 1
        elif batch.finish[i] > expires:
            final["expired"] += 1
        else:
            final["errored" if isinstance(outcome, Fail) else "succeeded"] += 1
            done.append(batch.finish[i])
    done.sort()
    end = max(done, default=batch.created)
    if batch.cancel_at is not None:
        # A cancel always shows `canceling` for a moment, even with nothing running.
        end = max(end, batch.cancel_at + max(grace, 1e-6))
    if final["expired"]:
        end = expires
    batch.end = min(end, expires)
    batch.final = final
    batch.done_times = done
