"""Results resume dedupes exactly: no hash, nor a missing id, can merge two results."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import pytest

from rxbatches import BatchService
from rxbatches._service.results import _Delivered, _dict_ids, _IdSet
from rxbatches.emulator import Emulator, Fault
from tests.client.helpers import outcome


def _line(fields: dict[str, Any]) -> bytes:
    return json.dumps({**fields, "result": {"type": "expired"}}).encode() + b"\n"


@pytest.mark.parametrize(
    "cuts",
    [
        (Fault.truncate_lines(1),),
        (Fault.truncate_lines(20),),
        (Fault.truncate_lines(20, mid_line=False), Fault.truncate_lines(45)),
    ],
    ids=["after-one", "mid-way", "twice"],
)
async def test_lines_without_a_custom_id_all_arrive_once_after_a_cut(
    batches: BatchService, emulator: Emulator, cuts: tuple[Fault, ...]
) -> None:
    # Keyed by hash(None) before, every line but the first delivered one was dropped.
    lines = [_line({"n": i}) for i in range(60)]
    batch_id = emulator.add_ended_batch(lines, request_counts={"expired": 60})
    emulator.faults.script("results", *cuts)

    result = await outcome(batches.results_streaming_dicts(batch_id))

    assert result.error is None, result.error
    assert [r["n"] for r in result.items] == list(range(60))
    assert emulator.stats.requests["results"] == len(cuts) + 1


async def test_lines_with_and_without_ids_mixed_arrive_once_after_cuts(
    batches: BatchService, emulator: Emulator
) -> None:
    lines = [_line({"n": i} if i % 3 else {"custom_id": f"r{i}", "n": i}) for i in range(90)]
    lines[10] = _line({"custom_id": None, "n": 10})  # a null id is no id either
    batch_id = emulator.add_ended_batch(lines, request_counts={"expired": 90})
    emulator.faults.script("results", Fault.truncate_lines(11), Fault.truncate_lines(70))

    result = await outcome(batches.results_streaming_dicts(batch_id))

    assert result.error is None, result.error
    assert [r["n"] for r in result.items] == list(range(90))


async def test_ids_whose_hashes_collide_are_two_results(
    batches: BatchService, emulator: Emulator
) -> None:
    # hash(-1) == hash(-2) in CPython: deduped by hash, -2 was lost after the cut.
    # 5 and "5" are two ids too.
    assert hash(-1) == hash(-2)
    ids: list[Any] = [-1, "5", 5, -2, "a", [1], [2]]
    lines = [_line({"custom_id": value}) for value in ids]
    batch_id = emulator.add_ended_batch(lines, request_counts={"expired": len(ids)})
    emulator.faults.script("results", Fault.truncate_lines(1), Fault.truncate_lines(2))

    result = await outcome(batches.results_streaming_dicts(batch_id))

    assert result.error is None, result.error
    assert [r["custom_id"] for r in result.items] == ids
    assert emulator.stats.requests["results"] == 3


def test_an_id_set_tells_apart_strings_whose_hashes_are_equal() -> None:
    ids = ["a", "bb", "", "ccc", "é", "\ud800"]
    colliding = _IdSet(list(ids), hasher=lambda _: 7)
    assert len(colliding) == len(ids)
    assert all(value in colliding for value in ids)
    assert "b" not in colliding
    assert "aa" not in colliding
    assert "bb\x00" not in colliding
    assert sorted(colliding.ids()) == sorted(ids)
    assert "x" not in _IdSet([])


def test_the_ids_kept_for_resuming_cost_their_characters_and_8_bytes() -> None:
    # 10-character ids; a set of them would take about 100 bytes each.
    items = [{"custom_id": f"req-{i:06d}"} for i in range(50_000)]
    delivered = _Delivered(_dict_ids)
    tracemalloc.start()
    try:
        for start in range(0, 40_000, 100):
            delivered.record(items[start : start + 100])
        delivered.cut()
        kept, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert kept < 40_000 * (10 + 8) * 1.1
    assert delivered.count == 40_000
    again = items[::-1]  # the resumed download, in another order
    fresh = [
        item
        for start in range(0, 50_000, 100)
        for item in delivered.fresh(again[start : start + 100])
    ]
    assert [item["custom_id"] for item in fresh] == [
        f"req-{i:06d}" for i in range(49_999, 39_999, -1)
    ]
    assert delivered.count == 50_000


def test_a_line_without_a_usable_id_does_not_change_the_keys_of_its_neighbours() -> None:
    # One odd line sends its whole slice down the slow path: every other result must get
    # the key it gets on the fast path, or a resumed download would deliver it twice.
    first: list[dict[str, Any]] = [{"custom_id": "a"}, {"custom_id": "b"}, {"custom_id": "c"}]
    delivered = _Delivered(_dict_ids)
    delivered.record(first)
    delivered.cut()

    again: list[dict[str, Any]] = [
        {"custom_id": "c"},
        {"custom_id": ["x"]},
        {"custom_id": "a"},
        {"no_id": 1},
        {"custom_id": "b"},
        {"custom_id": "d"},
    ]
    fresh = delivered.fresh(again)

    assert fresh == [{"custom_id": ["x"]}, {"no_id": 1}, {"custom_id": "d"}]
    assert delivered.count == 6
