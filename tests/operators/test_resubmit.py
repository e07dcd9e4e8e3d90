from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import reactivex
from hypothesis import given
from hypothesis import strategies as st
from reactivex import Observable
from reactivex.testing import TestScheduler
from reactivex.testing.coldobservable import ColdObservable

import rxbatches.operators as rbo
from rxbatches import MessageBatchErroredResult, MessageBatchIndividualResponse, Request

from . import factories as f
from .rxtest import kinds, on_completed, on_error, on_next, subscribe, values

Responses = Observable[MessageBatchIndividualResponse]


class ScriptedBatches:
    """A fake ``run_batch`` on virtual time: no HTTP, only cold observables.

    Each call returns a batch whose i-th request gets its result 10 * (i + 1) ticks after
    subscription, of the type the script gives for that request's next attempt; the batch
    completes 10 ticks after its last result.
    """

    def __init__(self, scheduler: TestScheduler, script: dict[str, list[str]]) -> None:
        self.scheduler = scheduler
        self.script = script
        self.attempts: Counter[str] = Counter()
        self.calls: list[tuple[float, list[str]]] = []
        self.batches: list[ColdObservable[MessageBatchIndividualResponse]] = []

    def __call__(self, requests: list[Any]) -> Responses:
        ids = [r.custom_id if isinstance(r, Request) else r["custom_id"] for r in requests]
        self.calls.append((self.scheduler.clock, ids))
        messages = []
        for i, custom_id in enumerate(ids):
            kind = self.script[custom_id][self.attempts[custom_id]]
            self.attempts[custom_id] += 1
            messages.append(on_next(10 * (i + 1), f.RESULT_FACTORIES[kind](custom_id)))
        messages.append(on_completed(10 * (len(ids) + 1)))
        batch = self.scheduler.create_cold_observable(messages)
        self.batches.append(batch)
        return batch


def _requests(*ids: str) -> list[Request]:
    return [f.request(i) for i in ids]


def test_resubmit_failed_reruns_failures_as_new_batches_and_emits_final_results_once() -> None:
    scheduler = TestScheduler()
    requests = _requests("r1", "r2", "r3")
    batches = ScriptedBatches(scheduler, {"r2": ["succeeded"], "r3": ["errored", "succeeded"]})
    first = scheduler.create_cold_observable(
        on_next(10, f.succeeded("r1")),
        on_next(20, f.errored("r2")),
        on_next(30, f.expired("r3")),
        on_completed(40),
    )

    results = scheduler.start(lambda: first.pipe(rbo.resubmit_failed(requests, batches, rounds=2)))

    assert results.messages == [
        on_next(210, f.succeeded("r1")),
        on_next(250, f.succeeded("r2")),  # round 1 subscribed at 240
        on_next(280, f.succeeded("r3")),  # round 2 subscribed at 270
        on_completed(290),
    ]
    assert batches.calls == [(240.0, ["r2", "r3"]), (270.0, ["r3"])]
    assert [b.subscriptions for b in batches.batches] == [
        [subscribe(240, 270)],
        [subscribe(270, 290)],
    ]
    assert first.subscriptions == [subscribe(200, 240)]


def test_resubmit_failed_emits_the_last_failure_once_rounds_are_spent() -> None:
    scheduler = TestScheduler()
    requests = _requests("r1", "r2")
    batches = ScriptedBatches(scheduler, {"r1": ["succeeded"], "r2": ["errored"]})
    first = scheduler.create_cold_observable(
        on_next(10, f.expired("r1")), on_next(20, f.expired("r2")), on_completed(30)
    )

    results = scheduler.start(lambda: first.pipe(rbo.resubmit_failed(requests, batches, rounds=1)))

    assert results.messages == [
        on_next(240, f.succeeded("r1")),
        on_next(250, f.errored("r2")),
        on_completed(260),
    ]
    assert batches.calls == [(230.0, ["r1", "r2"])]


def test_resubmit_failed_with_zero_rounds_passes_results_through() -> None:
    scheduler = TestScheduler()
    batches = ScriptedBatches(scheduler, {})
    first = scheduler.create_cold_observable(
        on_next(10, f.errored("r1")), on_next(20, f.succeeded("r2")), on_completed(30)
    )

    results = scheduler.start(
        lambda: first.pipe(rbo.resubmit_failed(_requests("r1", "r2"), batches, rounds=0))
    )

    assert results.messages == [
        on_next(210, f.errored("r1")),
        on_next(220, f.succeeded("r2")),
        on_completed(230),
    ]
    assert batches.calls == []


def test_resubmit_failed_runs_no_new_batch_when_nothing_failed() -> None:
    scheduler = TestScheduler()
    batches = ScriptedBatches(scheduler, {})
    first = scheduler.create_cold_observable(
        on_next(10, f.succeeded("r1")), on_next(20, f.canceled("r2")), on_completed(30)
    )

    results = scheduler.start(
        lambda: first.pipe(rbo.resubmit_failed(_requests("r1", "r2"), batches))
    )

    assert results.messages == [
        on_next(210, f.succeeded("r1")),
        on_next(220, f.canceled("r2")),
        on_completed(230),
    ]
    assert batches.calls == []


def test_resubmit_failed_retries_what_a_predicate_selects_and_gives_dicts_back() -> None:
    scheduler = TestScheduler()
    requests = [f.request_dict(i) for i in ("r1", "r2", "r3")]
    batches = ScriptedBatches(scheduler, {"r2": ["succeeded"]})
    first = scheduler.create_cold_observable(
        on_next(10, f.errored("r1", "invalid_request_error")),
        on_next(20, f.errored("r2", "overloaded_error")),
        on_next(30, f.expired("r3")),
        on_completed(40),
    )
    received: list[list[Any]] = []

    def run_batch(batch: list[dict[str, Any]]) -> Responses:
        received.append(batch)
        return batches(batch)

    def transient(response: MessageBatchIndividualResponse) -> bool:
        result = response.result
        return (
            isinstance(result, MessageBatchErroredResult)
            and result.error.error.type == "overloaded_error"
        )

    results = scheduler.start(
        lambda: first.pipe(rbo.resubmit_failed(requests, run_batch, retry_on=transient))
    )

    assert results.messages == [
        on_next(210, f.errored("r1", "invalid_request_error")),
        on_next(230, f.expired("r3")),
        on_next(250, f.succeeded("r2")),
        on_completed(260),
    ]
    assert received == [[requests[1]]]
    assert received[0][0] is requests[1]


def test_resubmit_failed_takes_a_lone_result_type_as_one_type() -> None:
    scheduler = TestScheduler()
    batches = ScriptedBatches(scheduler, {"r2": ["succeeded"]})
    first = scheduler.create_cold_observable(
        on_next(10, f.errored("r1")), on_next(20, f.expired("r2")), on_completed(30)
    )

    results = scheduler.start(
        lambda: first.pipe(rbo.resubmit_failed(_requests("r1", "r2"), batches, retry_on="expired"))
    )

    assert results.messages == [
        on_next(210, f.errored("r1")),
        on_next(240, f.succeeded("r2")),
        on_completed(250),
    ]


def test_resubmit_failed_emits_a_failure_of_an_unknown_request_as_final() -> None:
    scheduler = TestScheduler()
    batches = ScriptedBatches(scheduler, {})
    first = scheduler.create_cold_observable(on_next(10, f.errored("stranger")), on_completed(20))

    results = scheduler.start(lambda: first.pipe(rbo.resubmit_failed(_requests("r1"), batches)))

    assert results.messages == [on_next(210, f.errored("stranger")), on_completed(220)]
    assert batches.calls == []


def test_resubmit_failed_resubmits_a_request_answered_twice_once() -> None:
    scheduler = TestScheduler()
    batches = ScriptedBatches(scheduler, {"r1": ["succeeded"]})
    first = scheduler.create_cold_observable(
        on_next(10, f.errored("r1")), on_next(20, f.expired("r1")), on_completed(30)
    )

    scheduler.start(lambda: first.pipe(rbo.resubmit_failed(_requests("r1"), batches)))

    assert batches.calls == [(230.0, ["r1"])]


def test_resubmit_failed_ends_with_the_error_of_a_later_round() -> None:
    scheduler = TestScheduler()
    error = ConnectionError("results download failed")
    failing = scheduler.create_cold_observable(on_next(10, f.succeeded("r2")), on_error(15, error))
    first = scheduler.create_cold_observable(
        on_next(10, f.succeeded("r1")), on_next(20, f.errored("r2")), on_completed(30)
    )

    results = scheduler.start(
        lambda: first.pipe(rbo.resubmit_failed(_requests("r1", "r2"), lambda _: failing))
    )

    assert results.messages == [
        on_next(210, f.succeeded("r1")),
        on_next(240, f.succeeded("r2")),
        on_error(245, error),
    ]
    assert failing.subscriptions == [subscribe(230, 245)]


def test_resubmit_failed_ends_with_the_error_run_batch_raises() -> None:
    scheduler = TestScheduler()
    error = RuntimeError("create refused")

    def run_batch(_: list[Request]) -> Responses:
        raise error

    first = scheduler.create_cold_observable(on_next(10, f.errored("r1")), on_completed(20))

    results = scheduler.start(lambda: first.pipe(rbo.resubmit_failed(_requests("r1"), run_batch)))

    assert results.messages == [on_error(220, error)]


def test_resubmit_failed_passes_a_first_round_error_through_without_resubmitting() -> None:
    scheduler = TestScheduler()
    error = ConnectionError("reset")
    batches = ScriptedBatches(scheduler, {})
    first = scheduler.create_cold_observable(on_next(10, f.errored("r1")), on_error(20, error))

    results = scheduler.start(lambda: first.pipe(rbo.resubmit_failed(_requests("r1"), batches)))

    assert results.messages == [on_error(220, error)]
    assert batches.calls == []


def test_resubmit_failed_disposal_disposes_the_round_in_flight() -> None:
    scheduler = TestScheduler()
    batches = ScriptedBatches(scheduler, {"r1": ["errored", "succeeded"]})
    first = scheduler.create_cold_observable(on_next(10, f.errored("r1")), on_completed(20))

    results = scheduler.start(
        lambda: first.pipe(rbo.resubmit_failed(_requests("r1"), batches, rounds=2)),
        disposed=225,
    )

    assert results.messages == []
    assert batches.calls == [(220.0, ["r1"])]
    assert batches.batches[0].subscriptions == [subscribe(220, 225)]
    assert first.subscriptions == [subscribe(200, 220)]


def test_resubmit_failed_each_subscription_runs_its_own_rounds() -> None:
    scheduler = TestScheduler()
    batches = ScriptedBatches(scheduler, {"r1": ["succeeded", "succeeded"]})
    resubmitting = scheduler.create_cold_observable(
        on_next(10, f.expired("r1")), on_completed(20)
    ).pipe(rbo.resubmit_failed(_requests("r1"), batches))
    first, second = scheduler.create_observer(), scheduler.create_observer()
    scheduler.schedule_absolute(100, lambda *_: resubmitting.subscribe(first))
    scheduler.schedule_absolute(300, lambda *_: resubmitting.subscribe(second))

    scheduler.start()

    assert first.messages == [on_next(130, f.succeeded("r1")), on_completed(140)]
    assert second.messages == [on_next(330, f.succeeded("r1")), on_completed(340)]
    assert batches.calls == [(120.0, ["r1"]), (320.0, ["r1"])]


@pytest.mark.parametrize(
    ("requests", "rounds", "message"),
    [
        (["a"], -1, "^rounds: must be an int >= 0, got -1"),
        (["a", "a"], 2, "'a' is given twice"),
    ],
)
def test_resubmit_failed_rejects_impossible_arguments_when_called(
    requests: list[str], rounds: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        rbo.resubmit_failed(_requests(*requests), lambda _: reactivex.empty(), rounds=rounds)


OUTCOMES = ("succeeded", "errored", "canceled", "expired")


@given(
    scripts=st.dictionaries(
        st.from_regex(r"[a-z0-9]{1,4}", fullmatch=True),
        st.lists(st.sampled_from(OUTCOMES), min_size=4, max_size=4),
        max_size=10,
    ),
    rounds=st.integers(min_value=0, max_value=3),
)
def test_resubmit_failed_emits_each_request_once_with_its_last_attempt(
    scripts: dict[str, list[str]], rounds: int
) -> None:
    scheduler = TestScheduler()
    requests = _requests(*scripts)
    batches = ScriptedBatches(scheduler, scripts)

    results = scheduler.start(
        lambda: batches(requests).pipe(rbo.resubmit_failed(requests, batches, rounds=rounds))
    )

    assert kinds(results)[-1][1] == "C"
    emitted: list[MessageBatchIndividualResponse] = values(results)
    assert sorted(r.custom_id for r in emitted) == sorted(scripts)
    for response in emitted:
        outcomes = scripts[response.custom_id]
        tries = batches.attempts[response.custom_id]
        assert response.result.type == outcomes[tries - 1]
        # retried while rounds were left and the outcome failed, and no further
        assert all(o in ("errored", "expired") for o in outcomes[: tries - 1])
        assert tries == rounds + 1 or outcomes[tries - 1] in ("succeeded", "canceled")
    assert len(batches.calls) <= rounds + 1
