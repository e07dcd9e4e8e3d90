"""batches.run's input: checked as it streams past, read lazily, from generators and JSONL files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reactivex import operators as ops

import rxbatches.operators as rbo
from rxbatches import BatchService, BatchSubmitted, CreateValidationError, read_requests_jsonl
from rxbatches.emulator import Emulator
from tests.client.helpers import Collector, make_requests, outcome

FAST = 0.01


class Pulled:
    """A generator of requests that records how many have been pulled."""

    def __init__(self, requests: list[dict[str, Any]]) -> None:
        self.requests = requests
        self.count = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for request in self.requests:
            self.count += 1
            yield request


async def test_duplicate_custom_id_in_a_later_batch_fails_before_that_batch_is_created(
    batches: BatchService, emulator: Emulator
) -> None:
    requests = make_requests(10)
    requests[9]["custom_id"] = "r2"  # batch 0 holds r0..r6, batch 1 would hold r7..r9

    result = await outcome(
        batches.run(requests, interval=FAST, max_requests_per_batch=7, max_concurrent_batches=1)
    )

    assert isinstance(result.error, CreateValidationError)
    assert result.error.index == 9
    assert result.error.field == "requests[9].custom_id"
    assert "not unique" in result.error.rule
    assert "requests[2]" in result.error.rule
    assert emulator.stats.requests["create"] == 1
    assert [e.batch_index for e in result.items if isinstance(e, BatchSubmitted)] == [0]


async def test_invalid_request_is_named_by_its_index_in_the_job_and_its_batch_is_not_sent(
    batches: BatchService, emulator: Emulator
) -> None:
    requests = make_requests(12)
    del requests[10]["params"]["model"]

    result = await outcome(
        batches.run(requests, interval=FAST, max_requests_per_batch=5, max_concurrent_batches=1)
    )

    assert isinstance(result.error, CreateValidationError)
    assert result.error.index == 10
    assert result.error.field == "requests[10].params.model"
    assert emulator.stats.requests["create"] == 2  # batches 0 and 1; not batch 2


async def test_empty_job_fails_without_sending_anything(
    batches: BatchService, emulator: Emulator
) -> None:
    result = await outcome(batches.run([], interval=FAST))

    assert isinstance(result.error, CreateValidationError)
    assert result.error.field == "requests"
    assert sum(emulator.stats.requests.values()) == 0


async def test_request_larger_than_a_batch_body_fails_naming_it(
    batches: BatchService, emulator: Emulator
) -> None:
    requests = make_requests(3)
    requests[1]["params"]["messages"][0]["content"] = "x" * 2000

    result = await outcome(batches.run(requests, interval=FAST, max_body_bytes=1000))

    assert isinstance(result.error, CreateValidationError)
    assert (result.error.index, result.error.field) == (1, "requests[1]")
    assert emulator.stats.requests["create"] == 0


@pytest.mark.parametrize("concurrent", [1, 2])
async def test_generator_is_read_one_batch_ahead_per_running_batch_only(
    frozen: tuple[Emulator, BatchService], concurrent: int
) -> None:
    emu, batches = frozen
    source = Pulled(make_requests(50))
    collector: Collector[Any] = Collector()

    subscription = collector.subscribe(
        batches.run(
            iter(source), interval=FAST, max_requests_per_batch=7, max_concurrent_batches=concurrent
        )
    )
    # Batches never end on a stopped clock: each running batch is being watched.
    await emu.wait_for(lambda: emu.stats.requests["retrieve"] >= 2 * concurrent, timeout=5.0)
    subscription.dispose()

    assert emu.stats.requests["create"] == concurrent
    assert source.count == 7 * concurrent + 1  # plus one read ahead: is this the last batch?


async def test_jsonl_file_runs_as_a_job_and_can_be_run_again(
    batches: BatchService, emulator: Emulator, tmp_path: Path
) -> None:
    requests = make_requests(9)
    path = tmp_path / "requests.jsonl"
    lines = [json.dumps(r) for r in requests]
    path.write_text("\n".join(lines[:4]) + "\n\n" + "\n".join(lines[4:]) + "\n")
    job = batches.run(read_requests_jsonl(path), interval=FAST, max_requests_per_batch=4)

    first = await job.pipe(rbo.results(), ops.to_list())
    second = await job.pipe(rbo.results(), ops.to_list())

    assert sorted(r.custom_id for r in first) == sorted(r["custom_id"] for r in requests)
    assert len(second) == 9
    assert emulator.stats.requests["create"] == 6  # 3 batches per run


async def test_malformed_jsonl_line_fails_the_job_naming_the_line(
    batches: BatchService, emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "requests.jsonl"
    good = [json.dumps(r) for r in make_requests(2)]
    path.write_text(f"{good[0]}\n{good[1]}\n{{not json\n")

    result = await outcome(batches.run(read_requests_jsonl(path), interval=FAST))

    assert isinstance(result.error, ValueError)
    assert "line 3" in str(result.error)
    assert str(path) in str(result.error)
    assert emulator.stats.requests["create"] == 0


async def test_generator_job_subscribed_twice_fails_the_second_time_without_sending(
    batches: BatchService, emulator: Emulator
) -> None:
    job = batches.run((r for r in make_requests(3)), interval=FAST)
    assert len(await job.pipe(rbo.results(), ops.to_list())) == 3

    again = await outcome(job)

    assert isinstance(again.error, ValueError)
    assert "consumed" in str(again.error)
    assert emulator.stats.requests["create"] == 1


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("interval", 0),
        ("max_concurrent_batches", 0),
        ("max_requests_per_batch", 100_001),
        ("max_body_bytes", 10),
    ],
)
def test_invalid_job_settings_are_rejected_by_the_call_naming_them(
    batches: BatchService, argument: str, value: int
) -> None:
    settings: dict[str, Any] = {argument: value}
    with pytest.raises(ValueError, match=argument):
        batches.run(make_requests(1), **settings)
