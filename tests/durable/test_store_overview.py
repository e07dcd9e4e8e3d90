"""JobStore.overview: summary() and timeline() from one pass over the results."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from rxbatches._jobs.prices import ModelPrice
from rxbatches._jobs.store import Attempt, JobStore
from tests.durable.helpers import created_batch, requests, stored_attempt


def _line(custom_id: str, kind: str, model: str, tokens: int) -> Attempt:
    usage = {
        "input_tokens": tokens,
        "output_tokens": 2 * tokens,
        "cache_creation_input_tokens": 3,
        "cache_read_input_tokens": 1,
    }
    return stored_attempt(custom_id, kind, "overloaded_error", model=model, usage=usage)


def _batch(store: JobStore, name: str) -> tuple[int, list[str]]:
    return created_batch(store, name, 6)


def _job(path: Path) -> None:
    """A job of 14 requests: two models, every final state, a retry, one still pending.

    Results arrive at chosen times, but the first (a success: its usage counts, it is
    not on the timeline) has none, as schema 1 stored them.
    """
    with JobStore.open(path) as store:
        store.ingest(requests(14))
        outcomes = [
            ("succeeded", "claude-haiku-4-5"),
            ("succeeded", "claude-sonnet-4-5"),
            ("errored", ""),  # retried below: pending, then succeeded
            ("expired", ""),
            ("canceled", ""),
            ("succeeded", "claude-haiku-4-5"),
        ]
        key, ids = _batch(store, "msgbatch_1")
        store.write_results(
            key,
            [
                _line(i, kind, m, n)
                for n, (i, (kind, m)) in enumerate(zip(ids, outcomes, strict=True))
            ],
            1,
            False,
        )
        store.finish_batch(key, 1)
        key, ids = _batch(store, "msgbatch_2")
        lines = [_line(i, "succeeded", "claude-sonnet-4-5", 10 + n) for n, i in enumerate(ids)]
        lines[1] = _line(ids[1], "errored", "", 0)
        lines[5] = _line(ids[5], "expired", "", 0)
        store.write_results(key, lines, 0, False)
        store.finish_batch(key, 0)
        _batch(store, "msgbatch_3")  # in progress: its requests are pending
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE batches SET intent_at = 100.0 + key")
        rows = db.execute("SELECT rowid FROM attempts ORDER BY rowid").fetchall()
        db.executemany(
            "UPDATE attempts SET received_at = ? WHERE rowid = ?",
            [(None if n == 0 else 103.0 + 7 * n, rowid) for n, (rowid,) in enumerate(rows)],
        )


@pytest.mark.parametrize("buckets", [1, 3, 60])
def test_overview_is_summary_and_timeline_of_one_moment(tmp_path: Path, buckets: int) -> None:
    path = tmp_path / "job.db"
    _job(path)
    prices = {"claude-haiku-4-5": ModelPrice(1.0, 5.0, 1.25, 0.1)}
    with JobStore.open(path, lock=False, create=False) as store:
        summary, points = store.overview(buckets, prices)
        assert summary == store.summary(prices)
        assert points == store.timeline(buckets)
        # What is compared is not empty: both models' usage, every outcome, a time axis.
        assert set(summary.usage_by_model) == {"claude-haiku-4-5", "claude-sonnet-4-5"}
        assert summary.cost_usd is None  # sonnet has no price here
        assert (summary.succeeded, summary.errored, summary.expired, summary.canceled) == (
            7,
            1,
            1,
            1,
        )
        assert summary.pending == 4
        assert points[0].at == 101.0
        assert (points[-1].succeeded, points[-1].errored, points[-1].other) == (6, 1, 2)
        assert len(points) <= buckets + 1
        # The read transaction is over: a run can write at once.
        assert not store._db.in_transaction
    with JobStore.open(path) as writer:
        writer.ingest(requests(1, start=100))
        assert writer.overview()[0].requests == 15


def test_overview_of_a_job_without_results_and_of_bad_buckets(tmp_path: Path) -> None:
    with JobStore.open(tmp_path / "job.db") as store:
        assert store.overview() == (store.summary(), [])
        store.ingest(requests(3))
        _batch(store, "msgbatch_1")
        assert store.overview() == (store.summary(), [])
        assert store.overview()[0].live_batches == ["msgbatch_1"]
        with pytest.raises(ValueError, match="buckets"):
            store.overview(0)
        assert not store._db.in_transaction
