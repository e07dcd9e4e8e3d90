"""From results blocks to the store's attempt rows: both decoding paths agree, line
numbers and errors as results_streaming_dicts, and the block stream itself."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxbatches import (
    Client,
    JobStore,
    JobStoreError,
    ResultLineError,
    ResultReceived,
    aiterate,
)
from rxbatches._base.fastjson import FAST_JSON
from rxbatches._jobs import lines as lines_module
from rxbatches._jobs.lines import AttemptReader, attempt
from rxbatches._service.batches import job_parts
from rxbatches._service.results import BlockLines, ResultBlock
from rxbatches.emulator import Emulator, Fault
from tests.conftest import API_KEY
from tests.durable.helpers import requests

# Both fast paths, whichever this install uses: each must give the dict path's rows.
FAST = [
    pytest.param(
        getattr(lines_module, "_struct_rows", None),
        id="msgspec",
        marks=pytest.mark.skipif(
            not FAST_JSON, reason="msgspec is not installed (the optional `fast` extra)"
        ),
    ),
    pytest.param(lines_module._slim_rows, id="pydantic"),
]
Fast = Callable[[bytes], Any]

TOKENS = st.integers(min_value=0, max_value=2**40)
# Every shape the API documents for the fields a store keeps.
USAGE = st.fixed_dictionaries(
    {"input_tokens": TOKENS, "output_tokens": TOKENS},
    optional={
        "cache_creation_input_tokens": TOKENS | st.none(),
        "cache_read_input_tokens": TOKENS | st.none(),
    },
)
SUCCEEDED = st.fixed_dictionaries(
    {
        "type": st.just("succeeded"),
        "message": st.fixed_dictionaries(
            {
                "id": st.just("msg_1"),
                "model": st.sampled_from(["claude-haiku-4-5", "claude-sonnet-4-5"]),
                "content": st.just([{"type": "text", "text": "hi"}]),
                "usage": USAGE,
            }
        ),
    }
)
ERRORED = st.fixed_dictionaries(
    {
        "type": st.just("errored"),
        "error": st.fixed_dictionaries(
            {
                "type": st.just("error"),
                "error": st.fixed_dictionaries(
                    {
                        "type": st.sampled_from(["overloaded_error", "invalid_request_error"]),
                        "message": st.just("x"),
                    }
                ),
            }
        ),
    }
)
OTHER = st.fixed_dictionaries({"type": st.sampled_from(["expired", "canceled"])})
DOCUMENTED = SUCCEEDED | ERRORED | OTHER

# Fields of another type than documented: the dict path reads them (as 0 or a string).
ODD_VALUES = st.one_of(
    st.booleans(), st.floats(allow_nan=False), st.text(max_size=5), st.none(), st.just([1])
)
ODD = st.one_of(
    st.builds(
        lambda v: {"type": "succeeded", "message": {"model": "m", "usage": {"input_tokens": v}}},
        ODD_VALUES,
    ),
    st.builds(lambda v: {"type": "succeeded", "message": {"model": v, "usage": None}}, ODD_VALUES),
    st.builds(lambda v: {"type": "succeeded", "message": v}, ODD_VALUES),
    st.builds(lambda v: {"type": "errored", "error": {"error": {"type": v}}}, ODD_VALUES),
    st.builds(lambda v: {"type": "errored", "error": v}, ODD_VALUES),
    st.builds(lambda v: {"type": v}, ODD_VALUES),
    ODD_VALUES,
)


def _block(results: list[Any], lines: BlockLines | None = None) -> ResultBlock:
    data = b"".join(
        json.dumps({"custom_id": f"r{i}", "result": result}).encode() + b"\n"
        for i, result in enumerate(results)
    )
    return ResultBlock(data, 0, lines or BlockLines())


def _by_dicts(block: ResultBlock) -> list[Any]:
    return [
        attempt(json.loads(line)["custom_id"], line, json.loads(line))
        for line in block.data.splitlines()
    ]


def test_this_install_decodes_with_msgspec_when_it_has_it() -> None:
    expected = "_struct_rows" if FAST_JSON else "_slim_rows"
    assert lines_module._fast_rows.__name__ == expected


@pytest.mark.parametrize("fast", FAST)
@given(results=st.lists(DOCUMENTED, min_size=1, max_size=20))
def test_documented_lines_take_the_fast_path_and_give_the_dict_paths_rows(
    fast: Fast, results: list[Any]
) -> None:
    block = _block(results)
    rows = fast(block.data)
    assert rows is not None
    assert rows == _by_dicts(block)
    assert AttemptReader("b", fast).read(block) == rows


@pytest.mark.parametrize("fast", FAST)
@given(results=st.lists(DOCUMENTED | ODD, min_size=1, max_size=20))
def test_any_shape_gives_the_rows_of_the_dict_path(fast: Fast, results: list[Any]) -> None:
    block = _block(results)
    assert AttemptReader("b", fast).read(block) == _by_dicts(block)


@pytest.mark.parametrize("fast", FAST)
def test_the_rows_hold_what_the_store_keeps(fast: Fast) -> None:
    block = _block(
        [
            {
                "type": "succeeded",
                "message": {
                    "model": "claude-haiku-4-5",
                    "usage": {
                        "input_tokens": 3,
                        "output_tokens": 5,
                        "cache_creation_input_tokens": None,
                        "cache_read_input_tokens": 7,
                    },
                },
            },
            {"type": "errored", "error": {"type": "error", "error": {"type": "api_error"}}},
            {"type": "succeeded", "message": {"model": "m", "usage": {"input_tokens": True}}},
        ]
    )
    if fast.__name__ == "_struct_rows":
        assert fast(block.data) is None  # a bool is no int to msgspec: the dict path reads it
    rows = AttemptReader("b", fast).read(block)
    assert [row[:1] + row[2:] for row in rows] == [
        ("r0", "succeeded", None, "claude-haiku-4-5", 3, 5, 0, 7),
        ("r1", "errored", "api_error", None, 0, 0, 0, 0),
        ("r2", "succeeded", None, "m", 0, 0, 0, 0),  # a bool is no token count
    ]
    assert [row[1] for row in rows] == block.data.splitlines()


def test_a_line_without_a_custom_id_names_the_batch() -> None:
    data = b'{"custom_id": "a", "result": {"type": "expired"}}\n{"result": {"type": "expired"}}\n'
    with pytest.raises(JobStoreError, match="a result line of batch msgbatch_x has no custom_id"):
        AttemptReader("msgbatch_x").read(ResultBlock(data, 0, BlockLines()))


@pytest.mark.parametrize("fast", FAST)
def test_line_numbers_run_on_across_blocks_whichever_path_decoded_them(fast: Fast) -> None:
    lines = BlockLines()
    reader = AttemptReader("b", fast)
    good = _block([{"type": "expired"}] * 4, lines)  # the fast path
    assert len(reader.read(good)) == 4
    odd = _block([{"type": True}, {"type": "expired"}], lines)  # the dict path
    assert len(reader.read(odd)) == 2
    bad = ResultBlock(b'{"custom_id": "z", "result": {"type": "expired"}}\n\n[1]\n', 0, lines)
    # The good line before the bad one is delivered first; the blank line is counted.
    assert [row[0] for row in reader.read(bad)] == ["z"]
    with pytest.raises(ResultLineError) as caught:
        reader.read(_block([{"type": "expired"}], lines))
    assert caught.value.line_number == 4 + 2 + 3


# ------------------------------------------------------------------ the block stream


@pytest.fixture
async def served(emulator: Emulator) -> AsyncIterator[tuple[Emulator, Any]]:
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        yield emulator, job_parts(client.messages.batches).raw


def _result_line(i: int, extra: str = "") -> bytes:
    return (
        json.dumps({"custom_id": f"r{i}", "result": {"type": "expired"}, "note": extra}).encode()
        + b"\n"
    )


async def test_the_blocks_are_the_body_in_whole_lines(served: tuple[Emulator, Any]) -> None:
    emulator, raw = served
    body = [_result_line(i, "x" * (i % 300)) for i in range(2_000)]
    batch_id = emulator.add_ended_batch(body)
    blocks = [b async for b in aiterate(raw.result_blocks(batch_id, None, 0))]
    assert len(blocks) > 2
    assert all(b.data.endswith(b"\n") and b.download == 0 for b in blocks[:-1])
    assert blocks[-1].data == b""  # the end of the body: a bad last line raises there
    assert b"".join(b.data for b in blocks) == b"".join(body)


async def test_a_cut_download_is_started_again_and_its_blocks_say_so(
    served: tuple[Emulator, Any],
) -> None:
    emulator, raw = served
    body = [_result_line(i) for i in range(500)]
    batch_id = emulator.add_ended_batch(body)
    emulator.faults.script("results", Fault.truncate_lines(37))
    blocks = [b async for b in aiterate(raw.result_blocks(batch_id, None, 1))]
    first = b"".join(b.data for b in blocks if b.download == 0)
    again = b"".join(b.data for b in blocks if b.download == 1)
    assert first == b"".join(body[:37])  # the line cut mid-way is dropped
    assert again == b"".join(body)
    reader = AttemptReader(batch_id)
    assert len([row for b in blocks for row in reader.read(b)]) == 537


async def test_a_bad_line_names_the_request_and_keeps_the_key_out(
    served: tuple[Emulator, Any],
) -> None:
    emulator, raw = served
    batch_id = emulator.add_ended_batch(
        [_result_line(0), _result_line(1), f"<html>x-api-key: {API_KEY}</html>\n".encode()],
        {"expired": 3},
    )
    reader = AttemptReader(batch_id)
    block, end = [b async for b in aiterate(raw.result_blocks(batch_id, None, 0))]
    assert [row[0] for row in reader.read(block)] == ["r0", "r1"]
    with pytest.raises(ResultLineError) as caught:
        reader.read(end)  # whatever follows the bad line
    error = caught.value
    assert error.line_number == 3
    assert error.url is not None
    assert batch_id in error.url
    assert API_KEY not in str(error)
    assert b"<redacted>" in (error.body or b"")
    assert API_KEY.encode() not in (error.body or b"")


def _store_of(path: Path, emulator: Emulator, batch_id: str, count: int) -> int:
    """A store whose one batch is ``batch_id`` (as if a run created it); its key."""
    with JobStore.open(path) as store:
        store.ingest(requests(count))
        reserved = store.reserve(count, 10_000_000)
        assert reserved is not None
        key = reserved[0].key
        store.record_created(key, batch_id, emulator.batch(batch_id).model_dump_json(), False)
        return key


def _succeeded_line(i: int) -> bytes:
    message = {
        "id": f"msg_{i}",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": "hi"}],
        "usage": {"input_tokens": 1, "output_tokens": i},
    }
    result = {"type": "succeeded", "message": message}
    return json.dumps({"custom_id": f"r{i}", "result": result}).encode() + b"\n"


async def test_a_job_stores_the_good_lines_then_fails_on_a_bad_last_line(
    served: tuple[Emulator, Any], tmp_path: Path
) -> None:
    emulator, _ = served
    path = tmp_path / "job.db"
    batch_id = emulator.add_ended_batch(
        [_result_line(0), _result_line(1), b'{"custom_id": "r2", "result": '], {"expired": 3}
    )
    key = _store_of(path, emulator, batch_id, 3)
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        job = client.messages.batches.run(requests(3), store=path, interval=0.02)
        with pytest.raises(ResultLineError, match="results line 3"):
            await _drain(job)
    with JobStore.open(path, lock=False) as store:
        assert sorted(json.loads(line)["custom_id"] for line in store.attempt_lines(key)) == [
            "r0",
            "r1",
        ]


async def test_a_download_an_earlier_run_stored_in_part_gives_each_result_one_event(
    served: tuple[Emulator, Any], tmp_path: Path
) -> None:
    emulator, _ = served
    path = tmp_path / "job.db"
    body = [_succeeded_line(i) for i in range(60)]
    batch_id = emulator.add_ended_batch(body, {"succeeded": 60})
    key = _store_of(path, emulator, batch_id, 60)
    with JobStore.open(path) as store:  # what a run killed mid-download had stored
        earlier = [attempt(f"r{i}", body[i].strip(), json.loads(body[i])) for i in range(0, 60, 3)]
        store.write_results(key, earlier, 2, False)
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        events = [e async for e in aiterate(client.messages.batches.run(requests(60), store=path))]
    received = Counter(e.response.custom_id for e in events if isinstance(e, ResultReceived))
    assert received == Counter(f"r{i}" for i in range(60))
    with JobStore.open(path, lock=False) as store:
        assert Counter(json.loads(line)["custom_id"] for line in store.export_lines()) == received
        assert store.summary().usage.output_tokens == sum(range(60))


async def _drain(job: Any) -> None:
    async for _ in aiterate(job):
        pass
