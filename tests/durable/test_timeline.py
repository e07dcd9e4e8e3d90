"""The job store's results over time and errors by type, and the migration of schema 1."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from rxbatches._jobs.store import (
    SCHEMA_VERSION,
    JobStore,
    JobStoreError,
    TimelinePoint,
    _migrate,
)
from tests.durable.helpers import created_batch, requests, stored_attempt

# The schema of version 1, as rxbatches 0.x wrote it (no arrival time of the results).
V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE requests (
    custom_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL, body BLOB NOT NULL,
    state TEXT NOT NULL, error_type TEXT, attempts INTEGER NOT NULL DEFAULT 0, batch INTEGER,
    final_batch INTEGER
);
CREATE INDEX requests_by_state ON requests (state, seq);
CREATE INDEX requests_by_batch ON requests (batch);
CREATE TABLE batches (
    key INTEGER PRIMARY KEY AUTOINCREMENT, batch_id TEXT UNIQUE, state TEXT NOT NULL,
    intent_at REAL NOT NULL, requests INTEGER NOT NULL, first_request INTEGER NOT NULL,
    position INTEGER NOT NULL, adopted INTEGER NOT NULL DEFAULT 0, snapshot TEXT
);
CREATE TABLE batch_requests (
    batch INTEGER NOT NULL, custom_id TEXT NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (batch, custom_id)
) WITHOUT ROWID;
CREATE TABLE attempts (
    batch INTEGER NOT NULL, custom_id TEXT NOT NULL, hash TEXT NOT NULL, type TEXT NOT NULL,
    error_type TEXT, model TEXT, input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_creation_input_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_input_tokens INTEGER NOT NULL DEFAULT 0, line BLOB NOT NULL
);
CREATE UNIQUE INDEX attempts_by_batch ON attempts (batch, custom_id);
"""


_line = stored_attempt


def _batch(store: JobStore, name: str) -> tuple[int, list[str]]:
    return created_batch(store, name, 1000)


def _set_times(path: Path, times: dict[str, float]) -> None:
    """Give results chosen arrival times (the store records the clock's)."""
    with closing(sqlite3.connect(path)) as db, db:
        db.executemany(
            "UPDATE attempts SET received_at = ? WHERE custom_id = ?",
            [(at, custom_id) for custom_id, at in times.items()],
        )


def test_results_are_stamped_when_written_and_counted_over_time_in_buckets(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.db"
    with JobStore.open(path) as store:
        assert store.timeline() == []
        store.ingest(requests(8))
        before = time.time()
        key, ids = _batch(store, "msgbatch_1")
        outcomes = ["succeeded"] * 5 + ["errored", "expired", "canceled"]
        store.write_results(
            key,
            [
                _line(i, kind, "invalid_request_error")
                for i, kind in zip(ids, outcomes, strict=True)
            ],
            0,
            False,
        )
        after = time.time()
        points = store.timeline()
        # From the job's start (its batch's intent) to the results' arrival.
        (batch,) = store.batches()
        assert before <= points[0].at == batch.intent_at <= points[-1].at <= after
        assert (points[0].succeeded, points[0].errored, points[0].other) == (0, 0, 0)
        assert (points[-1].succeeded, points[-1].errored, points[-1].other) == (5, 1, 2)
        # The job started at 100 s, its results arrived from 105 s to 140 s: 4 buckets
        # of 10 s.
        _set_intent(path, 100.0)
        times = [101.0, 105.0, 110.0, 115.0, 120.0, 125.0, 130.0, 140.0]
        _set_times(path, dict(zip(ids, times, strict=True)))
        assert store.timeline(4) == [
            TimelinePoint(100.0, 0, 0, 0),
            TimelinePoint(110.0, 2, 0, 0),  # 101, 105
            TimelinePoint(120.0, 4, 0, 0),  # 110, 115
            TimelinePoint(130.0, 5, 1, 0),  # 120, 125 (errored)
            TimelinePoint(140.0, 5, 1, 2),  # 130, 140: the last bucket holds the end
        ]
        # Empty buckets give no point: one result at 0 s (before the recorded start: the
        # chart starts there), the others from 105 s.
        _set_times(path, {ids[0]: 0.0})
        points = store.timeline(60)
        assert points[:2] == [TimelinePoint(0.0, 0, 0, 0), TimelinePoint(140.0 / 60, 1, 0, 0)]
        assert points[-1] == TimelinePoint(140.0, 5, 1, 2)
        assert len(points) == 9  # 1 + the buckets of 0, 105, 110, ..., 130 and 140 s
        with pytest.raises(ValueError, match="buckets"):
            store.timeline(0)


def _set_intent(path: Path, at: float) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE batches SET intent_at = ?", (at,))


def test_a_result_to_be_retried_is_not_on_the_timeline_until_its_final_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.db"
    with JobStore.open(path) as store:
        store.ingest(requests(2))
        key, ids = _batch(store, "msgbatch_1")
        store.write_results(
            key,
            [_line(ids[0], "succeeded"), _line(ids[1], "errored", "overloaded_error")],
            2,
            False,
        )
        store.finish_batch(key, 2)
        assert store.errors_by_type() == {}  # pending again: not an error yet
        assert store.timeline()[-1].errored == 0
        key, ids = _batch(store, "msgbatch_2")
        assert ids == ["r1"]
        store.write_results(key, [_line("r1", "succeeded")], 2, False)
        last = store.timeline()[-1]
        assert (last.succeeded, last.errored, last.other) == (2, 0, 0)


def test_errors_by_type_counts_final_errors_expired_and_canceled(tmp_path: Path) -> None:
    with JobStore.open(tmp_path / "job.db") as store:
        store.ingest(requests(9))
        key, ids = _batch(store, "msgbatch_1")
        outcomes = [
            ("errored", "invalid_request_error"),
            ("errored", "invalid_request_error"),
            ("errored", "invalid_request_error"),
            ("errored", "overloaded_error"),  # no retry allowed below: final
            ("errored", None),
            ("expired", None),
            ("expired", None),
            ("canceled", None),
            ("succeeded", None),
        ]
        store.write_results(
            key, [_line(i, *o) for i, o in zip(ids, outcomes, strict=True)], 0, False
        )
        errors = store.errors_by_type()
        assert errors == {
            "invalid_request_error": 3,
            "expired": 2,
            "canceled": 1,
            "overloaded_error": 1,
            "unknown": 1,
        }
        assert list(errors.values()) == sorted(errors.values(), reverse=True)
        summary = store.summary()
        assert sum(errors.values()) == summary.errored + summary.expired + summary.canceled


def _v1_store(path: Path) -> None:
    """A store as version 1 wrote it: one request with its result, one pending."""
    line = json.dumps({"custom_id": "old", "result": {"type": "succeeded"}}).encode()
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(V1_SCHEMA)
        db.execute(
            "INSERT INTO batches VALUES (1, 'msgbatch_old', 'done', ?, 1, 0, 0, 0, NULL)",
            (time.time() - 3600,),
        )
        db.execute(
            "INSERT INTO requests VALUES ('old', 0, 'h', x'7b7d', 'succeeded', NULL, 1, NULL, 1)"
        )
        db.execute(
            "INSERT INTO attempts VALUES (1, 'old', 'h', 'succeeded', NULL, 'claude-haiku-4-5',"
            " 3, 5, 0, 0, ?)",
            (line,),
        )
        db.execute("PRAGMA user_version = 1")


def test_a_version_1_store_is_migrated_on_open_and_its_old_results_have_no_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v1.db"
    _v1_store(path)
    # A reader (the dashboard, `job status`) brings it up to date as well as a run.
    with JobStore.open(path, lock=False, create=False) as store:
        assert store.summary().succeeded == 1
        assert store.timeline() == []  # its one result has no arrival time
        assert list(store.export_lines()) == [
            json.dumps({"custom_id": "old", "result": {"type": "succeeded"}}).encode()
        ]
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        columns = [row[1] for row in db.execute("PRAGMA table_info(attempts)")]
        assert columns[-1] == "received_at"
        assert db.execute("SELECT received_at FROM attempts").fetchall() == [(None,)]
    # Opened again: nothing left to migrate; a run stores new results with their time.
    with JobStore.open(path) as store:
        store.ingest(requests(1))
        key, ids = _batch(store, "msgbatch_new")
        assert ids == ["r0"]
        store.write_results(key, [_line("r0", "succeeded")], 0, False)
        points = store.timeline()
        assert [(p.succeeded, p.errored, p.other) for p in points] == [(0, 0, 0), (1, 0, 0)]
        assert store.summary().succeeded == 2


def test_a_version_1_store_that_cannot_be_written_is_refused_saying_why(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    _v1_store(path)
    with (
        closing(sqlite3.connect(path, isolation_level=None)) as blocker,
        closing(sqlite3.connect(path, isolation_level=None)) as db,
    ):
        blocker.execute("BEGIN EXCLUSIVE")  # another process writing it (past the timeout)
        db.execute("PRAGMA busy_timeout = 0")
        with pytest.raises(JobStoreError, match="schema 1 and could not be brought to 2"):
            _migrate(db, path, 1)
        blocker.execute("ROLLBACK")
        assert db.execute("PRAGMA user_version").fetchone() == (1,)  # nothing half done
    with JobStore.open(path, lock=False) as store:
        assert store.summary().succeeded == 1


def test_the_timeline_of_100000_results_is_one_grouped_query_of_at_most_61_points(
    tmp_path: Path,
) -> None:
    path = tmp_path / "big.db"
    JobStore.open(path).close()
    line = json.dumps({"custom_id": "x", "result": {"type": "succeeded"}}).encode()
    states = ["succeeded"] * 8 + ["errored", "expired"]
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "INSERT INTO batches VALUES (1, 'msgbatch_big', 'done', 1000.0, 1, 0, 0, 0, NULL)"
        )
        db.executemany(
            "INSERT INTO requests VALUES (?, ?, 'h', x'7b7d', ?, NULL, 1, NULL, 1)",
            ((f"r{i}", i, states[i % 10]) for i in range(100_000)),
        )
        db.executemany(
            "INSERT INTO attempts (batch, custom_id, hash, type, line, received_at)"
            " VALUES (1, ?, 'h', 'x', ?, ?)",
            ((f"r{i}", line, 1000.0 + i / 1000) for i in range(100_000)),
        )
    with JobStore.open(path, lock=False) as store:
        started = time.perf_counter()
        points = store.timeline()
        took = time.perf_counter() - started
    assert len(points) == 61
    assert points[0] == TimelinePoint(1000.0, 0, 0, 0)
    assert points[-1] == TimelinePoint(1000.0 + 99.999, 80_000, 10_000, 10_000)
    assert [p.succeeded for p in points] == sorted(p.succeeded for p in points)
    assert took < 2.0, took  # about 0.2 s on a shared CI core
