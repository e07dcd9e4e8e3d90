"""batches.run: one subscription creates, watches and streams every batch of a job."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from typing import Any

from reactivex import Observable
from reactivex import operators as ops

import rxbatches.operators as rbo
from rxbatches import (
    BatchService,
    BatchSnapshot,
    BatchSubmitted,
    JobEvent,
    JobProgressed,
    MessageBatchIndividualResponse,
    Request,
    ResultReceived,
)
from rxbatches._base.validation import encode_create_body
from rxbatches.emulator import Emulator
from tests.client.helpers import make_requests

FAST = 0.01


async def _events(job: Observable[JobEvent]) -> list[JobEvent]:
    return await job.pipe(ops.to_list())


def _of(kind: type[Any], events: list[JobEvent]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


async def test_one_batch_job_submits_watches_until_ended_then_streams_every_result(
    batches: BatchService, emulator: Emulator
) -> None:
    requests = make_requests(5)

    events = await _events(batches.run(requests, interval=FAST))

    submitted = _of(BatchSubmitted, events)
    snapshots = _of(BatchSnapshot, events)
    results = _of(ResultReceived, events)
    assert isinstance(events[0], BatchSubmitted)
    assert len(submitted) == 1
    assert submitted[0].requests == 5
    assert submitted[0].first_request == 0
    batch_id = submitted[0].batch.id
    assert snapshots
    assert snapshots[-1].batch.ended
    assert not any(s.batch.ended for s in snapshots[:-1])
    last_snapshot = events.index(snapshots[-1])
    assert all(events.index(r) > last_snapshot for r in results)
    assert sorted(r.response.custom_id for r in results) == sorted(r["custom_id"] for r in requests)
    assert {r.batch_id for r in results} == {batch_id}
    assert emulator.stats.requests["create"] == 1
    assert emulator.stats.requests["results"] == 1


async def test_job_larger_than_a_batch_is_split_by_count_and_every_result_arrives_once(
    batches: BatchService, emulator: Emulator
) -> None:
    requests = make_requests(20)

    events = await _events(batches.run(requests, interval=FAST, max_requests_per_batch=7))

    submitted = sorted(_of(BatchSubmitted, events), key=lambda e: e.batch_index)
    assert [(e.batch_index, e.first_request, e.requests) for e in submitted] == [
        (0, 0, 7),
        (1, 7, 7),
        (2, 14, 6),
    ]
    results = _of(ResultReceived, events)
    assert Counter(r.response.custom_id for r in results) == Counter(
        r["custom_id"] for r in requests
    )
    # Each result comes from the batch that holds its request.
    batch_of = {
        requests[i]["custom_id"]: e.batch.id
        for e in submitted
        for i in range(e.first_request, e.first_request + e.requests)
    }
    assert all(batch_of[r.response.custom_id] == r.batch_id for r in results)
    assert emulator.stats.requests["create"] == 3
    assert len(emulator.batch_ids()) == 3


async def test_job_is_split_before_a_batch_body_would_exceed_max_body_bytes(
    batches: BatchService, emulator: Emulator
) -> None:
    requests = make_requests(12)
    for i, request in enumerate(requests):  # unequal sizes, so the cut points differ
        request["params"]["messages"][0]["content"] = "x" * (40 * (i % 4))
    limit = len(encode_create_body(requests[:3])) + 10

    events = await _events(batches.run(requests, interval=FAST, max_body_bytes=limit))

    submitted = sorted(_of(BatchSubmitted, events), key=lambda e: e.batch_index)
    assert len(submitted) == emulator.stats.requests["create"] > 1
    assert sum(e.requests for e in submitted) == 12
    for event in submitted:
        held = requests[event.first_request : event.first_request + event.requests]
        assert len(encode_create_body(held)) <= limit
        following = event.first_request + event.requests
        if following < len(requests):  # greedy: the next request would not have fitted
            assert len(encode_create_body([*held, requests[following]])) > limit
    results = _of(ResultReceived, events)
    assert sorted(r.response.custom_id for r in results) == sorted(r["custom_id"] for r in requests)


async def test_job_progress_of_a_list_only_grows_and_ends_at_fraction_one(
    batches: BatchService,
) -> None:
    job = batches.run(make_requests(20), interval=FAST, max_requests_per_batch=7)

    progress = await job.pipe(rbo.job_progress(), ops.to_list())

    assert progress[0].total == 20  # a list's len() is known from the start
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions)
    assert progress[-1].ended
    assert progress[-1].fraction == 1.0
    assert (progress[-1].batches, progress[-1].ended_batches) == (3, 3)
    assert progress[-1].succeeded == 20
    assert not any(p.ended for p in progress[:-1])


async def test_job_progress_of_a_generator_counts_the_whole_job_at_the_end(
    batches: BatchService,
) -> None:
    job = batches.run((r for r in make_requests(20)), interval=FAST, max_requests_per_batch=7)

    progress = await job.pipe(rbo.job_progress(), ops.to_list())

    final = progress[-1]
    assert (final.ended, final.fraction, final.total, final.batches) == (True, 1.0, 20, 3)
    assert final.unsubmitted == 0


async def test_progress_event_follows_every_submission_and_snapshot(
    batches: BatchService,
) -> None:
    events = await _events(batches.run(make_requests(9), interval=FAST, max_requests_per_batch=4))

    for before, after in itertools.pairwise(events):
        if isinstance(before, BatchSubmitted | BatchSnapshot):
            assert isinstance(after, JobProgressed)
    assert len(_of(JobProgressed, events)) == len(_of(BatchSubmitted, events)) + len(
        _of(BatchSnapshot, events)
    )


async def test_results_operator_gives_the_job_as_one_result_stream(
    batches: BatchService,
) -> None:
    requests = make_requests(10)

    texts = await batches.run(requests, interval=FAST, max_requests_per_batch=3).pipe(
        rbo.results(), rbo.texts(), ops.to_list()
    )

    assert sorted(t.custom_id for t in texts) == sorted(r["custom_id"] for r in requests)


async def test_snapshots_operator_gives_each_batchs_polls_ending_with_ended(
    batches: BatchService,
) -> None:
    job = batches.run(make_requests(6), interval=FAST, max_requests_per_batch=3)

    snapshots = await job.pipe(rbo.batch_snapshots(), ops.to_list())

    by_batch: dict[str, list[bool]] = {}
    for snapshot in snapshots:
        by_batch.setdefault(snapshot.id, []).append(snapshot.ended)
    assert len(by_batch) == 2
    assert all(ended[-1] and not any(ended[:-1]) for ended in by_batch.values())


async def test_one_batch_at_a_time_runs_the_batches_strictly_in_turn(
    batches: BatchService,
) -> None:
    events = await _events(
        batches.run(
            make_requests(9), interval=FAST, max_requests_per_batch=3, max_concurrent_batches=1
        )
    )

    def batch_of(event: JobEvent) -> str | None:
        if isinstance(event, BatchSubmitted | BatchSnapshot):
            return event.batch.id
        return event.batch_id if isinstance(event, ResultReceived) else None

    order = [b for b in map(batch_of, events) if b is not None]
    runs = [b for i, b in enumerate(order) if i == 0 or order[i - 1] != b]
    assert len(runs) == len(set(runs)) == 3  # no batch's events interleave with another's


async def test_batches_in_flight_never_exceed_max_concurrent_batches(
    batches: BatchService,
) -> None:
    events = await _events(
        batches.run(
            make_requests(35), interval=FAST, max_requests_per_batch=7, max_concurrent_batches=2
        )
    )

    sizes: dict[str, int] = {}
    received: Counter[str] = Counter()
    in_flight = []
    for event in events:
        if isinstance(event, BatchSubmitted):
            sizes[event.batch.id] = event.requests
            in_flight.append(sum(1 for b, n in sizes.items() if received[b] < n))
        elif isinstance(event, ResultReceived):
            received[event.batch_id] += 1
    assert len(sizes) == 5
    assert max(in_flight) <= 2


async def test_a_job_runs_from_synchronous_code_on_the_clients_loop_thread(
    batches: BatchService,
) -> None:
    job = batches.run(make_requests(8), interval=FAST, max_requests_per_batch=3)
    threads: set[str] = set()

    def note(_: MessageBatchIndividualResponse) -> None:
        threads.add(threading.current_thread().name)

    def blocking() -> list[MessageBatchIndividualResponse]:
        return job.pipe(rbo.results(), ops.do_action(note), ops.to_list()).run()

    results = await asyncio.to_thread(blocking)

    assert len(results) == 8
    assert threads == {"rxbatches-loop"}


async def test_request_models_and_dicts_mix_in_one_job(batches: BatchService) -> None:
    dicts = make_requests(6)
    mixed: list[Request | dict[str, Any]] = [
        Request.model_validate(r) if i % 2 else r for i, r in enumerate(dicts)
    ]

    results = await batches.run(mixed, interval=FAST, max_requests_per_batch=4).pipe(
        rbo.results(), ops.to_list()
    )

    assert sorted(r.custom_id for r in results) == sorted(r["custom_id"] for r in dicts)
