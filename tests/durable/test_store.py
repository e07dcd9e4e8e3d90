"""The job store alone: schema version, the lock, ingest, hashes, retry bookkeeping."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from rxbatches import CreateValidationError
from rxbatches._jobs.lines import attempt
from rxbatches._jobs.store import SCHEMA_VERSION, JobStore, JobStoreError
from tests.durable.helpers import requests, result_line, stored_attempt

_line = stored_attempt


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "job.db"
    JobStore.open(path).close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(JobStoreError, match="newer rxbatches"):
        JobStore.open(path)


def test_a_second_driver_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    path = tmp_path / "job.db"
    first = JobStore.open(path)
    with pytest.raises(JobStoreError, match="in use by another process"):
        JobStore.open(path)
    reader = JobStore.open(path, lock=False)  # status and export need no lock
    assert reader.summary().requests == 0
    reader.close()
    first.close()
    JobStore.open(path).close()


def test_another_sqlite_file_or_no_file_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as db, db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(JobStoreError, match="not a job store"):
        JobStore.open(other)
    with pytest.raises(JobStoreError, match="no job store"):
        JobStore.open(tmp_path / "missing.db", create=False)


def test_ingest_keeps_unchanged_requests_and_resets_changed_ones(tmp_path: Path) -> None:
    with JobStore.open(tmp_path / "job.db") as store:
        assert store.ingest(requests(3)) == 3
        reserved = store.reserve(10, 10_000)
        assert reserved is not None
        intent, body = reserved
        assert intent.requests == 3
        assert json.loads(body)["requests"][0]["custom_id"] == "r0"
        store.record_created(intent.key, "msgbatch_1", "{}", False)
        lines = [_line("r0", "succeeded"), _line("r1", "succeeded"), _line("r2", "succeeded")]
        assert store.write_results(intent.key, lines, 2, False) == [0, 1, 2]
        store.finish_batch(intent.key, 2)
        edited = requests(3)
        edited[1]["params"]["max_tokens"] = 99
        store.ingest(edited)
        assert store.counts() == {"succeeded": 2, "pending": 1}
        reserved = store.reserve(10, 10_000)
        assert reserved is not None
        assert json.loads(reserved[1])["requests"][0]["params"]["max_tokens"] == 99


def test_ingest_names_the_bad_request_by_its_index_in_the_input(tmp_path: Path) -> None:
    items = requests(120)
    items[77]["custom_id"] = "bad id!"
    with JobStore.open(tmp_path / "job.db") as store:
        with pytest.raises(CreateValidationError) as caught:
            store.ingest(items)
        assert caught.value.index == 77
        assert caught.value.field == "requests[77].custom_id"
        # Written a slice at a time in one transaction: the first slice is rolled back.
        assert store.counts() == {}
        duplicate = [*requests(2), *requests(1)]
        with pytest.raises(CreateValidationError, match="not unique"):
            store.ingest(duplicate)
        assert store.counts() == {}


def test_an_ingest_stopped_half_way_records_nothing(tmp_path: Path) -> None:
    stop = threading.Event()

    def stopped_after_a_slice() -> Iterator[dict[str, Any]]:
        for index, item in enumerate(requests(200)):
            if index == 120:
                stop.set()  # the run is disposed of while the input is read
            yield item

    with JobStore.open(tmp_path / "job.db") as store:
        store.ingest(stopped_after_a_slice(), stop)
        assert store.counts() == {}
        assert store.ingest(requests(3)) == 3  # the store is usable: nothing left open
        assert store.counts() == {"pending": 3}


def test_retryable_results_come_back_within_the_budget_and_others_stay(tmp_path: Path) -> None:
    with JobStore.open(tmp_path / "job.db") as store:
        store.ingest(requests(4))
        for attempt in range(3):
            reserved = store.reserve(10, 10_000)
            assert reserved is not None
            intent, body = reserved
            store.record_created(intent.key, f"msgbatch_{attempt}", "{}", False)
            ids = [r["custom_id"] for r in json.loads(body)["requests"]]
            outcome = {
                "r0": ("errored", "overloaded_error"),
                "r1": ("errored", "invalid_request_error"),
                "r2": ("expired", None),
                "r3": ("succeeded", None),
            }
            lines = [_line(i, *outcome[i]) for i in ids]
            stored = store.write_results(intent.key, lines, 2, False)
            # The same download again (a cut, resumed) stores nothing twice.
            assert store.write_results(intent.key, lines, 2, False) == []
            assert len(stored) == len(ids)
            store.finish_batch(intent.key, 2)
            if attempt == 0:
                assert sorted(ids) == ["r0", "r1", "r2", "r3"]
            else:
                assert sorted(ids) == ["r0", "r2"]  # never the invalid request
        assert store.reserve(10, 10_000) is None  # 1 + 2 attempts, then final
        summary = store.summary()
        assert (summary.succeeded, summary.errored, summary.expired) == (1, 2, 1)
        assert summary.usage.cache_read_input_tokens == 7
        # A later run allowing more retries gives them back.
        assert store.requeue(3, False) == 2


def test_a_result_for_a_request_not_in_the_chunk_is_an_error(tmp_path: Path) -> None:
    with JobStore.open(tmp_path / "job.db") as store:
        store.ingest(requests(2))
        reserved = store.reserve(10, 10_000)
        assert reserved is not None
        store.record_created(reserved[0].key, "msgbatch_x", "{}", True)
        with pytest.raises(JobStoreError, match="adopted after a crash"):
            store.write_results(reserved[0].key, [_line("zz", "succeeded")], 2, False)


def test_unknown_model_gives_unknown_cost(tmp_path: Path) -> None:
    with JobStore.open(tmp_path / "job.db") as store:
        store.ingest(requests(1))
        reserved = store.reserve(10, 10_000)
        assert reserved is not None
        parsed = result_line("r0", "succeeded")
        parsed["result"]["message"]["model"] = "claude-unknown-9"
        store.write_results(
            reserved[0].key, [attempt("r0", json.dumps(parsed).encode(), parsed)], 2, False
        )
        summary = store.summary()
        assert summary.cost_usd is None
        assert summary.as_json()["cost_usd"] is None
        assert summary.usage.input_tokens == 3
