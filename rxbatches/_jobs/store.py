"""The job store of a durable job: one SQLite file (WAL) that survives any interruption.

What it records, and when (each step in its own transaction, synced before the next
step is taken, so a ``kill -9`` or a power loss leaves a state the next run continues):

- every request of the job, with a content hash of its ``custom_id`` and params, its
  state (``pending``, ``submitted``, or a final ``succeeded`` / ``errored`` /
  ``expired`` / ``canceled``) and how many attempts it had;
- each batch's *intent* (its chunk of requests) before its create is sent, and its id
  as soon as the create answers; a crash in between leaves an intent without an id,
  which the next run resolves by adopting the batch the server did make;
- each attempt of each request (the result line as the results endpoint sent it, its
  model and token usage, and when it was stored), written as the results stream, some
  hundreds per transaction; ``(batch, custom_id)`` is the key, so a download cut and
  started again stores every result once.

One process at a time drives a store: :meth:`JobStore.open` takes an exclusive lock
(a ``.lock`` file beside it, released by the OS when the process dies); reading a store
(status, export, cancel) needs no lock. The schema is versioned (``PRAGMA
user_version``): a store written by a newer version is refused, never misread, and one
of an older version is brought up to date when opened (version 1 had no arrival time of
the results: its results stay without one).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any

from .._base.body import FileBody
from .._base.checks import check_int
from .._base.errors import CreateValidationError, RxBatchesError
from .._base.models import Request
from .._base.validation import validate_requests
from .prices import PRICES_AS_OF, ModelPrice, Usage4, estimate_cost

__all__ = [
    "FINAL_STATES",
    "Attempt",
    "RETRYABLE_ERRORS",
    "SCHEMA_VERSION",
    "Intent",
    "JobStore",
    "JobStoreError",
    "JobSummary",
    "StoredBatch",
    "TimelinePoint",
]

SCHEMA_VERSION = 2
"""The version of the store's schema that this rxbatches writes and reads."""

RETRYABLE_ERRORS = frozenset(
    {"api_error", "overloaded_error", "rate_limit_error", "timeout_error", "timeout"}
)
"""The ``errored`` result kinds that a durable job resubmits (never ``invalid_request_error``)."""

FINAL_STATES = ("succeeded", "errored", "expired", "canceled")

_MISSING = "result_missing"  # a request its batch's results did not hold: retried

_SLICE = 50

_GROUP = 250  # ids looked up by one query (under the 999 placeholders of old SQLite builds)

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE requests (
    custom_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    body BLOB NOT NULL,
    state TEXT NOT NULL,
    error_type TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    batch INTEGER,
    final_batch INTEGER
);
CREATE INDEX requests_by_state ON requests (state, seq);
CREATE INDEX requests_by_batch ON requests (batch);
CREATE TABLE batches (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id TEXT UNIQUE,
    state TEXT NOT NULL,
    intent_at REAL NOT NULL,
    requests INTEGER NOT NULL,
    first_request INTEGER NOT NULL,
    position INTEGER NOT NULL,
    adopted INTEGER NOT NULL DEFAULT 0,
    snapshot TEXT
);
CREATE TABLE batch_requests (
    batch INTEGER NOT NULL,
    custom_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (batch, custom_id)
) WITHOUT ROWID;
CREATE TABLE attempts (
    batch INTEGER NOT NULL,
    custom_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    type TEXT NOT NULL,
    error_type TEXT,
    model TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_creation_input_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_input_tokens INTEGER NOT NULL DEFAULT 0,
    line BLOB NOT NULL,
    received_at REAL
);
CREATE UNIQUE INDEX attempts_by_batch ON attempts (batch, custom_id);
"""

# From each version to the next, in order: _MIGRATIONS[v - 1] takes a store from v to v + 1.
_MIGRATIONS = (
    # 2: when each result was stored (seconds since the epoch); NULL for older results.
    "ALTER TABLE attempts ADD COLUMN received_at REAL",
)
assert len(_MIGRATIONS) == SCHEMA_VERSION - 1


Attempt = tuple[str, bytes, str, str | None, str | None, int, int, int, int]
"""One result line as the store keeps it: ``(custom_id, line, type, error_type, model,
input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens)``
(made by :mod:`rxbatches._jobs.lines`)."""


class JobStoreError(RxBatchesError):
    """A job store cannot be used as asked; the message says why and what to do.

    Locked by another process, written by a newer version, not a store, or a crash left
    a batch that cannot be told apart from others on the server.
    """


@dataclass(frozen=True, slots=True)
class Intent:
    """A batch about to be created: its chunk is recorded, its id not known yet."""

    key: int
    """The store's own key of the batch."""
    position: int
    """The batch's position in the job, from 0."""
    first_request: int
    """How many requests the job's earlier batches held."""
    requests: int
    """How many requests it holds."""
    intent_at: float
    """When the intent was recorded (POSIX seconds)."""


@dataclass(frozen=True, slots=True)
class StoredBatch:
    """A batch of the job as the store knows it."""

    key: int
    batch_id: str | None
    state: str
    """``intent``, ``created``, ``ended``, ``done`` (results stored) or ``abandoned``."""
    position: int
    first_request: int
    requests: int
    intent_at: float
    snapshot: str | None
    """The latest snapshot of the batch, as JSON."""
    adopted: bool
    """Whether a run found it on the server after a crash (rather than recorded its create)."""


@dataclass(frozen=True, slots=True)
class JobSummary:
    """Where a durable job stands, as ``rxbatches job status`` prints it."""

    requests: int
    succeeded: int
    errored: int
    expired: int
    canceled: int
    pending: int
    """Requests without a final result (waiting for a batch, or in one)."""
    batches: int
    live_batches: list[str]
    """The ids of the batches whose results are not all stored."""
    usage: Usage4
    """Token totals over the final results that succeeded."""
    usage_by_model: dict[str, Usage4]
    cost_usd: float | None
    """Estimated at batch prices; ``None`` if a model has no price."""

    def as_json(self) -> dict[str, Any]:
        """The summary as the JSON object of ``rxbatches job status --json``."""
        return {
            "requests": self.requests,
            "succeeded": self.succeeded,
            "errored": self.errored,
            "expired": self.expired,
            "canceled": self.canceled,
            "pending": self.pending,
            "batches": self.batches,
            "live_batches": self.live_batches,
            "usage": self.usage.as_dict(),
            "usage_by_model": {m: u.as_dict() for m, u in sorted(self.usage_by_model.items())},
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 6),
            "prices_as_of": PRICES_AS_OF,
        }


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """How many final results the job had stored by one time (see :meth:`JobStore.timeline`)."""

    at: float
    """The time (POSIX seconds)."""
    succeeded: int
    errored: int
    other: int
    """Expired and canceled."""


def _canonical(model: Request) -> bytes:
    data = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# The stores this process holds: a run disposed of releases its lock only once its
# cleanup has run, and a new subscription in the same process waits for that.
_held: dict[str, threading.Event] = {}
_held_lock = threading.Lock()


def _lock_file(path: Path, wait: float) -> tuple[int, str]:
    """Take the store's exclusive lock, or raise :class:`JobStoreError` if it is held."""
    key = os.path.realpath(path)
    with _held_lock:
        released = _held.get(key)
    if released is not None and wait:
        released.wait(wait)
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - Windows
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
    except OSError:
        os.close(fd)
        raise JobStoreError(
            f"the job store {path} is in use by another process (one process drives a job"
            " at a time); wait for it to end, or stop it, then run again"
        ) from None
    with _held_lock:
        _held[key] = threading.Event()
    return fd, key


def _unlock_file(fd: int, key: str) -> None:
    os.close(fd)
    with _held_lock:
        released = _held.pop(key, None)
    if released is not None:
        released.set()


class JobStore:
    """The SQLite file of one durable job (see :meth:`BatchService.run`'s ``store``).

    Open it with :meth:`open` to drive the job (exclusive lock), or with
    ``JobStore.open(path, lock=False)`` to read its :meth:`summary` or
    :meth:`export_lines` while another process drives it. Thread-safe: every call runs
    under one lock; calls may block on the disk, so a loop calls them in a worker thread.

    Example:
        >>> with JobStore.open("job.db", lock=False) as store:
        ...     print(store.summary().as_json())
    """

    def __init__(
        self, connection: sqlite3.Connection, path: Path, lock: tuple[int, str] | None
    ) -> None:
        self._db = connection
        self._path = path
        self._held = lock
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<JobStore {str(self._path)!r}>"

    @property
    def path(self) -> Path:
        """The store's file."""
        return self._path

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        path: str | PathLike[str],
        *,
        lock: bool = True,
        create: bool = True,
        wait: float = 0.0,
    ) -> JobStore:
        """Open (or create) the store at ``path``.

        Args:
            path: The SQLite file.
            lock: Take the exclusive lock of a process driving the job.
            create: Create the file if it does not exist (else raise).
            wait: Seconds to wait for a run of this process that holds the lock to
                release it (a disposed run finishing its cleanup); another process's
                lock is an error at once.

        Raises:
            JobStoreError: Locked by another process, missing (``create=False``), not a
                job store, or written by a newer version of rxbatches.
        """
        where = Path(path)
        if not create and not where.exists():
            raise JobStoreError(f"no job store at {where}")
        held = _lock_file(where, wait) if lock else None
        try:
            db = sqlite3.connect(where, check_same_thread=False, isolation_level=None)
            try:
                _prepare(db, where, create_tables=lock or create)
            except BaseException:
                db.close()
                raise
        except BaseException as exc:
            if held is not None:
                _unlock_file(*held)
            if isinstance(exc, sqlite3.DatabaseError):
                raise JobStoreError(f"{where} is not a job store ({exc})") from None
            raise
        return cls(db, where, held)

    def close(self) -> None:
        """Close the file and release the lock."""
        with self._lock:
            self._db.close()
            if self._held is not None:
                _unlock_file(*self._held)
                self._held = None

    def __enter__(self) -> JobStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --------------------------------------------------------------- the input

    def ingest(
        self, requests: Iterable[Request | Mapping[str, Any]], stop: threading.Event | None = None
    ) -> int:
        """Check the job's requests and record the new or changed ones as pending.

        A request whose ``custom_id`` and params hash to what the store holds keeps its
        state and results; a changed one starts again from pending with no attempts.

        Returns:
            The number of requests read.

        Raises:
            CreateValidationError: A request breaks a rule (naming its index in the input).
        """
        read = 0
        # One transaction, written a slice at a time: the input is never held whole (a
        # job of 100,000 requests can be a gigabyte), and a bad request, or a stop,
        # anywhere in it rolls back every row, so nothing is recorded from a bad input.
        try:
            with self._lock, self._transaction():
                (base,) = self._db.execute(
                    "SELECT coalesce(max(seq), -1) + 1 FROM requests"
                ).fetchone()
                for rows in _checked_rows(requests, base, stop):
                    self._db.executemany(
                        "INSERT INTO requests (custom_id, seq, hash, body, state) VALUES (?, ?,"
                        " ?, ?, 'pending') ON CONFLICT (custom_id) DO UPDATE SET hash ="
                        " excluded.hash, body = excluded.body, state = 'pending', error_type ="
                        " NULL, attempts = 0, batch = NULL, final_batch = NULL"
                        " WHERE requests.hash != excluded.hash",
                        rows,
                    )
                    read += len(rows)
        except _Stopped:  # rolled back: the run is being disposed of
            pass
        return read

    def requeue(self, retry_errored: int, retry_canceled: bool) -> int:
        """Make the final results that may be tried again pending (within the budget).

        Returns:
            How many requests became pending.
        """
        retryable = sorted(RETRYABLE_ERRORS | {_MISSING})
        marks = ",".join("?" * len(retryable))
        with self._lock, self._transaction():
            cursor = self._db.execute(
                "UPDATE requests SET state = 'pending', batch = NULL WHERE attempts <= ? AND ("
                f"(state = 'errored' AND error_type IN ({marks})) OR state = 'expired'"
                " OR (state = 'canceled' AND ?))",
                (retry_errored, *retryable, int(retry_canceled)),
            )
            return cursor.rowcount

    # --------------------------------------------------------------- batches

    def reserve(self, max_requests: int, max_body_bytes: int) -> tuple[Intent, bytes] | None:
        """Record the intent of the next batch (its pending requests) and give its body.

        The body in memory: a job sends :meth:`reserve_spooled`'s instead.

        Returns:
            The intent and the create body, or ``None`` when nothing is pending.
        """
        reserved = self.reserve_spooled(max_requests, max_body_bytes)
        if reserved is None:
            return None
        intent, body = reserved
        try:
            return intent, b"".join(body.blocks())
        finally:
            body.close()

    def reserve_spooled(
        self, max_requests: int, max_body_bytes: int
    ) -> tuple[Intent, FileBody] | None:
        """Record the intent of the next batch (its pending requests) and spool its body.

        The body is written from the store a request at a time into a
        :class:`~rxbatches._base.body.FileBody` (a temporary file past 1 MiB), which a
        create streams from there and closes: never whole in memory, even at 256 MB.

        Returns:
            The intent and the create body, or ``None`` when nothing is pending.
        """
        budget = max_body_bytes - len(b'{"requests":[]}')
        with self._lock, self._durable():
            rows = self._db.execute(
                "SELECT custom_id, hash, length(body) FROM requests WHERE state = 'pending'"
                " ORDER BY seq LIMIT ?",
                (max_requests,),
            ).fetchall()
            if not rows:
                return None
            size, taken = -1, 0
            for _, _, length in rows:
                if taken and size + 1 + length > budget:
                    break
                size += 1 + length
                taken += 1
            rows = rows[:taken]
            (first, position) = self._db.execute(
                "SELECT coalesce(sum(requests), 0), count(*) FROM batches"
                " WHERE state != 'abandoned'"
            ).fetchone()
            now = time.time()
            cursor = self._db.execute(
                "INSERT INTO batches (state, intent_at, requests, first_request, position)"
                " VALUES ('intent', ?, ?, ?, ?)",
                (now, taken, first, position),
            )
            key = cursor.lastrowid
            assert key is not None
            self._db.executemany(
                "INSERT INTO batch_requests (batch, custom_id, hash) VALUES (?, ?, ?)",
                [(key, cid, digest) for cid, digest, _ in rows],
            )
            self._db.executemany(
                "UPDATE requests SET state = 'submitted', batch = ? WHERE custom_id = ?",
                [(key, cid) for cid, _, _ in rows],
            )
        body = FileBody()
        try:
            body.write(b'{"requests":[')
            with self._lock:
                chunk = self._db.execute(
                    "SELECT body FROM requests WHERE batch = ? AND state = 'submitted'"
                    " ORDER BY seq",
                    (key,),
                )
                for index, (request,) in enumerate(chunk):
                    body.write(b"," + request if index else request)
            body.write(b"]}")
        except BaseException:
            body.close()
            self.abandon(key)  # never sent: its requests wait again
            raise
        return Intent(key, position, first, taken, now), body

    def record_created(self, key: int, batch_id: str, snapshot: str, adopted: bool) -> None:
        """Record the id of the batch of intent ``key`` (made or adopted)."""
        with self._lock, self._durable():
            self._db.execute(
                "UPDATE batches SET batch_id = ?, state = 'created', snapshot = ?, adopted = ?"
                " WHERE key = ?",
                (batch_id, snapshot, int(adopted), key),
            )

    def abandon(self, key: int) -> None:
        """The create of intent ``key`` made no batch: its requests are pending again."""
        with self._lock, self._durable():
            self._db.execute("UPDATE batches SET state = 'abandoned' WHERE key = ?", (key,))
            self._db.execute(
                "UPDATE requests SET state = 'pending', batch = NULL"
                " WHERE batch = ? AND state = 'submitted'",
                (key,),
            )

    def record_snapshot(self, key: int, snapshot: str, ended: bool) -> None:
        """Keep the latest snapshot of a batch (and that it has ended)."""
        with self._lock, self._transaction():
            self._db.execute(
                "UPDATE batches SET snapshot = ?,"
                " state = CASE WHEN ? AND state = 'created' THEN 'ended' ELSE state END"
                " WHERE key = ?",
                (snapshot, int(ended), key),
            )

    def batches(self, *states: str) -> list[StoredBatch]:
        """The job's batches in the given states (all if none), in the order they were made."""
        query = (
            "SELECT key, batch_id, state, position, first_request, requests, intent_at,"
            " snapshot, adopted FROM batches"
        )
        args: tuple[str, ...] = ()
        if states:
            query += f" WHERE state IN ({','.join('?' * len(states))})"
            args = states
        with self._lock:
            rows = self._db.execute(query + " ORDER BY key", args).fetchall()
        return [
            StoredBatch(key, batch_id, state, position, first, count, at, snapshot, bool(adopted))
            for key, batch_id, state, position, first, count, at, snapshot, adopted in rows
        ]

    def claimed_ids(self) -> set[str]:
        """Every batch id the job has recorded."""
        with self._lock:
            rows = self._db.execute("SELECT batch_id FROM batches WHERE batch_id IS NOT NULL")
            return {batch_id for (batch_id,) in rows}

    # --------------------------------------------------------------- results

    def write_results(
        self,
        key: int,
        lines: list[Attempt],
        retry_errored: int,
        retry_canceled: bool,
        fresh: bool = False,
    ) -> list[int]:
        """Store one transaction of result lines of batch ``key``.

        Each row is an attempt (see :data:`Attempt` and
        :func:`rxbatches._jobs.lines.attempt`); one already stored (a download started
        again) is skipped. ``fresh`` says the batch had no stored
        result when its download started (nothing to look up: a duplicate would fail
        the unique index rather than be stored twice). The request takes the attempt's outcome,
        or becomes pending again if it may be retried.

        Returns:
            The indexes in ``lines`` of the results stored now (not skipped).

        Raises:
            JobStoreError: A result names a request that is not in the batch's chunk
                (an adopted batch that was not the job's).
        """
        ids = [row[0] for row in lines]
        stored: list[int] = []
        attempts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        now = time.time()
        with self._lock, self._transaction():
            db = self._db
            # The chunk's hashes, and what a cut download stored already.
            hashes = dict(_lookup(db, "SELECT custom_id, hash FROM batch_requests", key, ids))
            done: set[str] = (
                set()
                if fresh
                else {
                    custom_id
                    for (custom_id,) in _lookup(db, "SELECT custom_id FROM attempts", key, ids)
                }
            )
            for position, (custom_id, line, kind, error_type, model, *usage) in enumerate(lines):
                digest = hashes.get(custom_id)
                if digest is None:
                    raise JobStoreError(self._foreign(key, custom_id))
                if custom_id in done:
                    continue
                done.add(custom_id)
                stored.append(position)
                attempts.append(
                    (key, custom_id, digest, kind, error_type, model, *usage, line, now)
                )
                retry = (
                    kind == "expired"
                    or (kind == "errored" and error_type in RETRYABLE_ERRORS)
                    or (kind == "canceled" and retry_canceled)
                )
                state = kind if kind in FINAL_STATES else "errored"
                updates.append(
                    (error_type, key, int(retry), retry_errored, state, custom_id, digest, key)
                )
            db.executemany(
                "INSERT INTO attempts (batch, custom_id, hash, type, error_type,"
                " model, input_tokens, output_tokens, cache_creation_input_tokens,"
                " cache_read_input_tokens, line, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                attempts,
            )
            db.executemany(
                "UPDATE requests SET attempts = attempts + 1, error_type = ?,"
                " final_batch = ?, batch = NULL,"
                " state = CASE WHEN ? AND attempts + 1 <= ? THEN 'pending' ELSE ? END"
                " WHERE custom_id = ? AND hash = ? AND batch = ?",
                updates,
            )
        return stored

    def _foreign(self, key: int, custom_id: str) -> str:
        row = self._db.execute(
            "SELECT batch_id, adopted FROM batches WHERE key = ?", (key,)
        ).fetchone()
        batch_id, adopted = row if row else (None, 0)
        how = "adopted after a crash" if adopted else "created by this job"
        return (
            f"batch {batch_id} ({how}) holds a result for {custom_id!r}, which is not in the"
            " chunk the job recorded for it: it is not this job's batch. Check it, and the"
            f" store {self._path}, before running again"
        )

    def finish_batch(self, key: int, retry_errored: int) -> None:
        """All of batch ``key``'s results are stored: requests it did not answer are retried."""
        with self._lock, self._transaction():
            self._db.execute(
                "UPDATE requests SET attempts = attempts + 1, error_type = ?, batch = NULL,"
                " state = CASE WHEN attempts + 1 <= ? THEN 'pending' ELSE 'errored' END"
                " WHERE batch = ? AND state = 'submitted'",
                (_MISSING, retry_errored, key),
            )
            self._db.execute("UPDATE batches SET state = 'done' WHERE key = ?", (key,))

    def attempt_count(self, key: int) -> int:
        """How many results of batch ``key`` are stored."""
        with self._lock:
            (count,) = self._db.execute(
                "SELECT count(*) FROM attempts WHERE batch = ?", (key,)
            ).fetchone()
            return int(count)

    def attempt_lines(self, key: int) -> Iterator[bytes]:
        """The result lines stored for batch ``key`` (its attempts), in no set order."""
        with self._lock:
            rows = self._db.execute("SELECT line FROM attempts WHERE batch = ?", (key,)).fetchall()
        for (line,) in rows:
            yield bytes(line)

    # --------------------------------------------------------------- reading

    def counts(self) -> dict[str, int]:
        """How many requests are in each state."""
        with self._lock:
            rows = self._db.execute("SELECT state, count(*) FROM requests GROUP BY state")
            return dict(rows.fetchall())

    def progress_figures(self, live: list[int]) -> tuple[dict[str, int], int, int]:
        """Requests per state outside the ``live`` batches, batches made, batches ended.

        The requests of the ``live`` batches are left out: their snapshots count them.
        """
        marks = ",".join("?" * len(live))
        with self._lock:
            rows = self._db.execute(
                "SELECT state, count(*) FROM requests"
                f" WHERE coalesce(batch, final_batch, -1) NOT IN ({marks}) GROUP BY state",
                live,
            ).fetchall()
            batches, ended = self._db.execute(
                "SELECT count(*), coalesce(sum(state IN ('ended', 'done')), 0) FROM batches"
                " WHERE batch_id IS NOT NULL"
            ).fetchone()
        return dict(rows), batches, ended

    def summary(self, prices: Mapping[str, ModelPrice] | None = None) -> JobSummary:
        """Where the job stands, with its usage and estimated cost.

        Args:
            prices: USD per million tokens by model, instead of the package's table.
        """
        return self.overview(1, prices)[0]

    def timeline(self, buckets: int = 60) -> list[TimelinePoint]:
        """How many final results the job had stored over time, in at most ``buckets`` steps.

        The time from the job's start (its first batch's intent) to its last stored result
        is cut into ``buckets`` equal spans; each span that stored a final result gives a
        point at its end, with the cumulative counts by then. The first point is the
        job's start with zero counts, the last one holds every final result that has an
        arrival time (a store of schema 1 did not record it: its older results are left
        out). A request that is pending again (to be retried) is not counted. The half of
        :meth:`overview`: one query, grouped by SQLite, so Python handles the points,
        never the results.

        Args:
            buckets: The most points after the first (at least 1).

        Returns:
            The points in time order; empty if no final result has an arrival time.

        Raises:
            ValueError: ``buckets`` is below 1.

        Example:
            >>> [(p.at, p.succeeded) for p in store.timeline(4)]
            [(1767225600.0, 0), (1767225615.0, 250), (1767225630.0, 400), (1767225660.0, 1000)]
        """
        return self.overview(buckets)[1]

    def overview(
        self, buckets: int = 60, prices: Mapping[str, ModelPrice] | None = None
    ) -> tuple[JobSummary, list[TimelinePoint]]:
        """:meth:`summary` and :meth:`timeline` at once, from one pass over the results.

        Both are read here (each of them is this, keeping one half): one join of the
        requests to their final results, grouped by SQLite by time bucket, state and
        model (so Python handles at most ``buckets`` x 4 x models rows), in one read
        transaction, so the summary's counts and the timeline's last point are of the
        same moment, even while a run writes (the dashboard reads this).

        Args:
            buckets: The timeline's most points after the first (at least 1).
            prices: USD per million tokens by model, instead of the package's table.

        Returns:
            ``(summary(prices), timeline(buckets))``.

        Raises:
            ValueError: ``buckets`` is below 1.
        """
        check_int("buckets", buckets, at_least=1)
        with self._lock:
            self._db.execute("BEGIN")  # a read transaction: one snapshot for every query
            try:
                counts = dict(
                    self._db.execute("SELECT state, count(*) FROM requests GROUP BY state")
                )
                rows = self._db.execute(
                    # timeline()'s span and buckets (step is NULL without an arrival time)
                    # and summary()'s usage sums, over the same join.
                    "SELECT min(:n - 1, CAST((a.received_at - s.lo) * :n / max(s.width, 1e-9)"
                    " AS INTEGER)) AS step, r.state, a.model, count(*), sum(a.input_tokens),"
                    " sum(a.output_tokens), sum(a.cache_creation_input_tokens),"
                    " sum(a.cache_read_input_tokens), s.lo, s.width"
                    " FROM (SELECT lo, hi - lo AS width FROM (SELECT min(coalesce((SELECT"
                    " min(intent_at) FROM batches), min(received_at)), min(received_at)) AS lo,"
                    " max(received_at) AS hi FROM attempts)) AS s, requests r JOIN attempts a"
                    " ON a.batch = r.final_batch AND a.custom_id = r.custom_id"
                    " WHERE r.state IN ('succeeded', 'errored', 'expired', 'canceled')"
                    " GROUP BY step, r.state, a.model",
                    {"n": buckets},
                ).fetchall()
                (batches,) = self._db.execute(
                    "SELECT count(*) FROM batches WHERE batch_id IS NOT NULL"
                ).fetchone()
                live = [
                    batch_id
                    for (batch_id,) in self._db.execute(
                        "SELECT batch_id FROM batches WHERE state IN ('created', 'ended')"
                        " ORDER BY key"
                    )
                ]
            finally:
                self._db.execute("COMMIT")
        by_model: dict[str, Usage4] = {}
        steps: dict[int, list[int]] = {}  # step -> [succeeded, errored, other]
        span: tuple[float, float] | None = None
        for step, state, model, n, *sums, lo, width in rows:
            if state == "succeeded":
                usage = Usage4(*(int(v or 0) for v in sums))
                by_model[str(model)] = by_model.get(str(model), Usage4()) + usage
            if step is not None:
                span = float(lo), float(width)
                kind = 0 if state == "succeeded" else 1 if state == "errored" else 2
                steps.setdefault(step, [0, 0, 0])[kind] += n
        summary = JobSummary(
            requests=sum(counts.values()),
            succeeded=counts.get("succeeded", 0),
            errored=counts.get("errored", 0),
            expired=counts.get("expired", 0),
            canceled=counts.get("canceled", 0),
            pending=counts.get("pending", 0) + counts.get("submitted", 0),
            batches=batches,
            live_batches=live,
            usage=sum(by_model.values(), Usage4()),
            usage_by_model=by_model,
            cost_usd=estimate_cost(by_model, prices),
        )
        if span is None:
            return summary, []
        lo, width = span
        points = [TimelinePoint(lo, 0, 0, 0)]
        done = [0, 0, 0]
        for step in sorted(steps):  # at most ``buckets`` steps
            done = [a + b for a, b in zip(done, steps[step], strict=True)]
            points.append(TimelinePoint(lo + width * (step + 1) / buckets, *done))
        return summary, points

    def errors_by_type(self) -> dict[str, int]:
        """How many requests ended without a result: errored ones by error type, and the rest.

        Only final states count (a request to be retried is pending, not errored). Keys
        are the ``error_type`` of the errored requests (``unknown`` if their result named
        none; ``result_missing`` for a request its batch's results did not hold), then
        ``expired`` and ``canceled``; each present only if its count is above 0, the
        largest count first.

        Example:
            >>> store.errors_by_type()
            {'invalid_request_error': 3, 'expired': 2, 'overloaded_error': 1}
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT CASE state WHEN 'errored' THEN coalesce(error_type, 'unknown')"
                " ELSE state END AS kind, count(*) AS n FROM requests"
                " WHERE state IN ('errored', 'expired', 'canceled')"
                " GROUP BY kind ORDER BY n DESC, kind"
            ).fetchall()
        return {str(kind): int(count) for kind, count in rows}

    def export_lines(self) -> Iterator[bytes]:
        """One result line per request with a final result: its final attempt.

        In input order, each line as the results endpoint sent it (without the newline).
        """
        last = -1
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT r.seq, a.line FROM requests r JOIN attempts a"
                    " ON a.batch = r.final_batch AND a.custom_id = r.custom_id"
                    " WHERE r.seq > ? AND r.state IN ('succeeded', 'errored', 'expired',"
                    " 'canceled') ORDER BY r.seq LIMIT 1000",
                    (last,),
                ).fetchall()
            if not rows:
                return
            for seq, line in rows:
                last = seq
                yield bytes(line)

    # --------------------------------------------------------------- helpers

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _durable(self) -> _Transaction:
        # Synced to disk at commit: a power loss never undoes an intent or an id.
        return _Transaction(self._db, sync=True)


def _checked_rows(
    requests: Iterable[Request | Mapping[str, Any]], base: int, stop: threading.Event | None
) -> Iterator[list[tuple[str, int, str, bytes]]]:
    """The rows of ``requests`` (id, seq from ``base``, hash, body), checked, a slice at a time.

    Raises:
        CreateValidationError: A request breaks a rule, or repeats an earlier ``custom_id``
            (naming its index in the input).
        _Stopped: ``stop`` was set.
    """
    seen: dict[str, int] = {}
    index = 0
    items = iter(requests)
    while True:
        if stop is not None and stop.is_set():
            raise _Stopped
        batch = [item for _, item in zip(range(_SLICE), items, strict=False)]
        if not batch:
            return
        try:
            models = validate_requests(batch)
        except CreateValidationError as exc:
            raise _shifted(exc, index) from None
        rows: list[tuple[str, int, str, bytes]] = []
        for model in models:
            first = seen.setdefault(model.custom_id, index)
            if first != index:
                raise CreateValidationError(
                    f"requests[{index}].custom_id",
                    f"{model.custom_id!r} is not unique in the job"
                    f" (also used by requests[{first}])",
                    index=index,
                )
            body = _canonical(model)
            digest = hashlib.blake2b(body, digest_size=16).hexdigest()
            rows.append((model.custom_id, base + index, digest, body))
            index += 1
        yield rows


class _Stopped(Exception):
    """Raised inside :meth:`JobStore.ingest`'s transaction to roll it back on a stop."""


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on an exception)."""

    def __init__(self, db: sqlite3.Connection, *, sync: bool = False) -> None:
        self._db = db
        self._sync = sync

    def __enter__(self) -> None:
        if self._sync:
            self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            if self._sync:
                self._db.execute("PRAGMA synchronous = NORMAL")


def _lookup(db: sqlite3.Connection, select: str, key: int, ids: list[str]) -> Iterator[Any]:
    """The rows of ``select`` for these ids of batch ``key``, :data:`_GROUP` ids a query.

    Each query has exactly :data:`_GROUP` placeholders (the last group padded with
    NULL, which matches nothing), so every call runs one of two prepared statements.
    One per count of ids would fill the connection's statement cache with statements
    of hundreds of placeholders each: 25 MB of memory at 100,000 results.
    """
    sql = f"{select} WHERE batch = ? AND custom_id IN ({','.join('?' * _GROUP)})"
    for start in range(0, len(ids), _GROUP):
        group: list[str | None] = list(ids[start : start + _GROUP])
        group.extend([None] * (_GROUP - len(group)))
        yield from db.execute(sql, (key, *group))


def _prepare(db: sqlite3.Connection, path: Path, *, create_tables: bool) -> None:
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise JobStoreError(
            f"the job store {path} was written by a newer rxbatches (schema {version}; this"
            f" version reads up to {SCHEMA_VERSION}): upgrade rxbatches to use it"
        )
    db.execute("PRAGMA busy_timeout = 10000")
    if version == 0:
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables:
            raise JobStoreError(f"{path} is an SQLite file, but not a job store")
        if not create_tables:
            raise JobStoreError(f"{path} is not a job store (empty)")
        db.execute("PRAGMA journal_mode = WAL")
        # One script, one transaction: a store is created whole or not at all.
        db.executescript(
            f"BEGIN IMMEDIATE;{_SCHEMA}"
            f"INSERT INTO meta VALUES ('created_at', '{time.time()!r}');"
            f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        )
    elif version < SCHEMA_VERSION:
        _migrate(db, path, version)
    # WAL with NORMAL survives a process crash; _durable() adds a sync where a power loss
    # must not lose a step (an intent, an id).
    db.execute("PRAGMA synchronous = NORMAL")


def _migrate(db: sqlite3.Connection, path: Path, version: int) -> None:
    """Bring an older store up to :data:`SCHEMA_VERSION`, all steps in one transaction."""
    try:
        with _Transaction(db):
            # Read again under the write lock: another process may have migrated it meanwhile.
            (now,) = db.execute("PRAGMA user_version").fetchone()
            for step in _MIGRATIONS[now - 1 :]:
                db.execute(step)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except sqlite3.OperationalError as exc:  # read-only, or locked past the busy timeout
        raise JobStoreError(
            f"the job store {path} is of schema {version} and could not be brought to"
            f" {SCHEMA_VERSION} ({exc}); open it once where it can be written"
        ) from None


def _shifted(exc: CreateValidationError, offset: int) -> CreateValidationError:
    """Move an error about ``requests[i]`` of a slice to the request's index in the input."""
    index = (exc.index or 0) + offset if exc.index is not None else None
    field = exc.field
    if index is not None and field.startswith(f"requests[{exc.index}]"):
        field = f"requests[{index}]{field[len(f'requests[{exc.index}]') :]}"
    return CreateValidationError(field, exc.rule, index=index)
