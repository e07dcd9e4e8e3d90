from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reactivex.testing import TestScheduler

import rxbatches.operators as rbo
from rxbatches import MessageBatchIndividualResponse, Request
from rxbatches.operators import JoinedResult

from . import factories as f
from .rxtest import kinds, on_completed, on_error, on_next, subscribe, values


def test_join_requests_pairs_results_then_reports_missing_requests_at_completion() -> None:
    scheduler = TestScheduler()
    r1, r2, r3 = f.request("r1"), f.request("r2"), f.request("r3")
    s2, e1, u9 = f.succeeded("r2"), f.errored("r1"), f.succeeded("r9")
    source = scheduler.create_cold_observable(
        on_next(10, s2), on_next(20, u9), on_next(30, e1), on_completed(40)
    )

    results = scheduler.start(lambda: source.pipe(rbo.join_requests([r1, r2, r3])))

    assert results.messages == [
        on_next(210, JoinedResult("r2", r2, s2)),
        on_next(220, JoinedResult("r9", None, u9)),
        on_next(230, JoinedResult("r1", r1, e1)),
        on_next(240, JoinedResult("r3", r3, None)),
        on_completed(240),
    ]
    flags = [(j.missing, j.unexpected) for j in values(results)]
    assert flags == [(False, False), (False, True), (False, False), (True, False)]


def test_join_requests_reports_missing_in_request_order() -> None:
    scheduler = TestScheduler()
    requests = [f.request(c) for c in ("c", "a", "b")]
    source = scheduler.create_cold_observable(on_completed(5))

    results = scheduler.start(lambda: source.pipe(rbo.join_requests(requests)))

    assert results.messages == [
        *(on_next(205, JoinedResult(r.custom_id, r, None)) for r in requests),
        on_completed(205),
    ]


def test_join_requests_gives_dict_requests_back_as_given() -> None:
    scheduler = TestScheduler()
    wire = f.request_dict("r1")
    s1 = f.succeeded("r1")
    source = scheduler.create_cold_observable(on_next(10, s1), on_completed(20))

    results = scheduler.start(lambda: source.pipe(rbo.join_requests([wire])))

    (joined, *_) = values(results)
    assert joined == JoinedResult("r1", wire, s1)
    assert joined.request is wire


def test_join_requests_reports_a_repeated_result_as_unexpected() -> None:
    scheduler = TestScheduler()
    r1 = f.request("r1")
    first, again = f.errored("r1"), f.succeeded("r1")
    source = scheduler.create_cold_observable(
        on_next(10, first), on_next(20, again), on_completed(30)
    )

    results = scheduler.start(lambda: source.pipe(rbo.join_requests([r1])))

    assert results.messages == [
        on_next(210, JoinedResult("r1", r1, first)),
        on_next(220, JoinedResult("r1", None, again)),
        on_completed(230),
    ]


def test_join_requests_on_error_passes_the_error_and_reports_no_missing() -> None:
    scheduler = TestScheduler()
    r1, r2 = f.request("r1"), f.request("r2")
    error = ConnectionError("reset")
    s1 = f.succeeded("r1")
    source = scheduler.create_cold_observable(on_next(10, s1), on_error(20, error))

    results = scheduler.start(lambda: source.pipe(rbo.join_requests([r1, r2])))

    assert results.messages == [on_next(210, JoinedResult("r1", r1, s1)), on_error(220, error)]


def test_join_requests_disposal_unsubscribes_and_reports_nothing_more() -> None:
    scheduler = TestScheduler()
    r1, r2 = f.request("r1"), f.request("r2")
    s1 = f.succeeded("r1")
    source = scheduler.create_cold_observable(on_next(10, s1), on_completed(500))

    results = scheduler.start(lambda: source.pipe(rbo.join_requests([r1, r2])), disposed=300)

    assert results.messages == [on_next(210, JoinedResult("r1", r1, s1))]
    assert source.subscriptions == [subscribe(200, 300)]


def test_join_requests_each_subscription_has_its_own_record_of_answers() -> None:
    scheduler = TestScheduler()
    requests = (f.request(c) for c in ("r1", "r2"))  # a generator, read once
    s1 = f.succeeded("r1")
    joined = scheduler.create_cold_observable(on_next(10, s1), on_completed(20)).pipe(
        rbo.join_requests(requests)
    )
    first, second = scheduler.create_observer(), scheduler.create_observer()
    scheduler.schedule_absolute(100, lambda *_: joined.subscribe(first))
    scheduler.schedule_absolute(300, lambda *_: joined.subscribe(second))

    scheduler.start()

    for observer, start in ((first, 100), (second, 300)):
        assert kinds(observer) == [
            (start + 10, "N"),
            (start + 20, "N"),
            (start + 20, "C"),
        ]
        assert [j.custom_id for j in values(observer)] == ["r1", "r2"]
        assert values(observer)[1].missing


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([f.request("a"), f.request_dict("a")], "'a' is given twice"),
        ([{"params": {}}], "no custom_id"),
    ],
)
def test_join_requests_rejects_ambiguous_requests_when_called(
    requests: list[Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        rbo.join_requests(requests)


def test_join_requests_rejects_a_request_of_the_wrong_type_when_called() -> None:
    with pytest.raises(TypeError, match="Request or a mapping"):
        rbo.join_requests(["r1"])  # type: ignore[type-var]


custom_ids = st.lists(st.from_regex(r"[a-z0-9]{1,4}", fullmatch=True), unique=True, max_size=12)


@given(
    requested=custom_ids,
    data=st.data(),
)
def test_join_requests_every_request_and_every_result_appears_exactly_once(
    requested: list[str], data: st.DataObject
) -> None:
    answered = data.draw(
        st.lists(st.sampled_from(requested), unique=True) if requested else st.just([])
    )
    strangers = data.draw(
        st.lists(st.from_regex(r"[A-Z]{1,3}", fullmatch=True), unique=True, max_size=3)
    )
    kinds = st.sampled_from(sorted(f.RESULT_FACTORIES))
    responses: list[MessageBatchIndividualResponse] = [
        f.RESULT_FACTORIES[data.draw(kinds)](c) for c in answered + strangers
    ]
    responses = data.draw(st.permutations(responses))
    requests: list[Request] = [f.request(c) for c in requested]
    scheduler = TestScheduler()
    source = scheduler.create_cold_observable(
        *(on_next(10 + i, r) for i, r in enumerate(responses)), on_completed(100)
    )

    results = scheduler.start(lambda: source.pipe(rbo.join_requests(requests)))

    assert results.messages[-1] == on_completed(300)
    joined: list[JoinedResult[Request]] = values(results)
    assert Counter(j.request.custom_id for j in joined if j.request is not None) == Counter(
        requested
    )
    assert [j.response for j in joined if j.response is not None] == responses
    for j in joined:
        assert j.request is not None or j.response is not None
        assert j.custom_id in {
            getattr(j.request, "custom_id", None),
            getattr(j.response, "custom_id", None),
        }
        assert j.unexpected == (j.custom_id not in requested)
        assert j.missing == (j.custom_id not in answered and j.custom_id in requested)
