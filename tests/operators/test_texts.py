from __future__ import annotations

from reactivex.testing import TestScheduler

import rxbatches.operators as rbo
from rxbatches import MessageBatchIndividualResponse
from rxbatches.operators import MessageText

from . import factories as f
from .rxtest import on_completed, on_error, on_next, subscribe


def _with_blocks(custom_id: str, blocks: list[dict[str, object]]) -> MessageBatchIndividualResponse:
    wire = f.message(custom_id=custom_id).to_wire()
    wire["content"] = blocks
    return f.response(custom_id, {"type": "succeeded", "message": wire})


def test_texts_emits_custom_id_and_text_of_succeeded_results_only() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(
        on_next(210, f.succeeded("r1", "one")),
        on_next(220, f.errored("r2")),
        on_next(230, f.expired("r3")),
        on_next(240, f.succeeded("r4", "four")),
        on_completed(250),
    )

    results = scheduler.start(lambda: source.pipe(rbo.texts()))

    assert results.messages == [
        on_next(210, MessageText("r1", "one")),
        on_next(240, MessageText("r4", "four")),
        on_completed(250),
    ]


def test_texts_joins_text_blocks_and_skips_other_blocks() -> None:
    scheduler = TestScheduler()
    mixed = _with_blocks(
        "r1",
        [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Hello, "},
            {"type": "tool_use", "id": "tu_1", "name": "calc", "input": {}},
            {"type": "text", "text": "world"},
        ],
    )
    source = scheduler.create_cold_observable(on_next(10, mixed), on_completed(20))

    results = scheduler.start(lambda: source.pipe(rbo.texts()))

    assert results.messages == [
        on_next(210, MessageText("r1", "Hello, world")),
        on_completed(220),
    ]


def test_texts_emits_empty_text_for_a_message_without_text_blocks() -> None:
    scheduler = TestScheduler()
    tool_only = _with_blocks(
        "r1", [{"type": "tool_use", "id": "tu_1", "name": "calc", "input": {}}]
    )
    source = scheduler.create_cold_observable(on_next(10, tool_only), on_completed(20))

    results = scheduler.start(lambda: source.pipe(rbo.texts()))

    assert results.messages == [on_next(210, MessageText("r1", "")), on_completed(220)]


def test_texts_passes_errors_through_and_disposal_unsubscribes() -> None:
    scheduler = TestScheduler()
    error = ValueError("bad line")
    source = scheduler.create_cold_observable(
        on_next(10, f.succeeded("r1", "one")), on_error(20, error)
    )
    failing = scheduler.start(lambda: source.pipe(rbo.texts()))
    assert failing.messages == [on_next(210, MessageText("r1", "one")), on_error(220, error)]

    scheduler = TestScheduler()
    source = scheduler.create_cold_observable(
        on_next(10, f.succeeded("r1", "one")), on_next(200, f.succeeded("r2")), on_completed(300)
    )
    disposed = scheduler.start(lambda: source.pipe(rbo.texts()), disposed=250)
    assert disposed.messages == [on_next(210, MessageText("r1", "one"))]
    assert source.subscriptions == [subscribe(200, 250)]
