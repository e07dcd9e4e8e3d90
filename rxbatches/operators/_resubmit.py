"""``resubmit_failed()``: run failed requests again as new batches, a bounded number of times."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import TypeAlias

import reactivex
from reactivex import Observable
from reactivex import operators as ops

from .._base.checks import check_int
from .._base.models import MessageBatchIndividualResponse
from ._index import RequestT, index_requests

_Responses: TypeAlias = Observable[MessageBatchIndividualResponse]

RetryOn: TypeAlias = Collection[str] | Callable[[MessageBatchIndividualResponse], bool]
"""Which results to resubmit: result types (``"errored"``...) or a predicate on a result."""


def _retry_test(retry_on: RetryOn) -> Callable[[MessageBatchIndividualResponse], bool]:
    if callable(retry_on):
        return retry_on
    # A lone string is a Collection[str] of its characters: take it as one type.
    kinds = frozenset((retry_on,) if isinstance(retry_on, str) else retry_on)

    def test(response: MessageBatchIndividualResponse) -> bool:
        return response.result.type in kinds

    return test


def resubmit_failed(
    requests: Iterable[RequestT],
    run_batch: Callable[[list[RequestT]], _Responses],
    *,
    rounds: int = 2,
    retry_on: RetryOn = ("errored", "expired"),
) -> Callable[[_Responses], _Responses]:
    """Resubmit the requests that failed as a new batch, up to ``rounds`` times.

    The source is the results of a first batch of ``requests`` (``run_batch(requests)``,
    or the results of a batch that ended earlier). Every result that is final is emitted
    at once; a failed one (see ``retry_on``) is held back instead, and when the stream
    completes, the requests of all held-back results go to ``run_batch`` as one new
    batch, whose results are treated the same way. After ``rounds`` new batches, or
    when a round has no failures, failures are final too. So each ``custom_id`` is
    emitted exactly once, with its last outcome; the output completes after the last
    round. A result whose ``custom_id`` is not among ``requests`` cannot be resubmitted
    and is emitted as it is.

    Each round subscribes to ``run_batch``'s Observable once; an error of any round (or
    raised by ``run_batch``) ends the output with that error, and disposing the output
    disposes the round in flight.

    Marble diagram::

        results:             ──s1──e2──x3──|
        run_batch([2, 3]):                  ──s2──e3──|
        run_batch([3]):                                ──s3──|
        resubmit_failed():   ──s1─────────────s2─────────s3──|

    ``s``, ``e``, ``x``: succeeded, errored and expired results by ``custom_id``; with
    ``rounds=2``, request 3 gets two more tries.

    Args:
        requests: The requests of the first batch, as :class:`~rxbatches.Request` models
            or dicts of the wire shape; ``run_batch`` gets failed ones back as given.
        run_batch: Runs some requests as a new batch: returns a cold Observable of their
            results (create, watch until ended, stream the results). It is called when
            a round starts, with the failed requests in the order their results came.
        rounds: The most new batches to run; 0 passes the results through unchanged.
        retry_on: The result types to resubmit, or a predicate on a result. An
            ``invalid_request_error`` will fail again; a predicate can leave it out.

    Returns:
        An operator from the first batch's results to the final result of every request.

    Raises:
        ValueError: If ``rounds`` is not an int >= 0, or a request has no ``custom_id`` or
            repeats one.

    Example:
        >>> def run_batch(requests): ...  # create, watch and stream one batch
        >>> run_batch(requests).pipe(
        ...     rbo.resubmit_failed(requests, run_batch, rounds=3),
        ...     rbo.join_requests(requests),
        ... ).subscribe(print)
    """
    check_int("rounds", rounds, at_least=0)
    index = index_requests(requests)
    should_retry = _retry_test(retry_on)

    def held_back(response: MessageBatchIndividualResponse) -> bool:
        return response.custom_id in index and should_retry(response)

    def resubmit(failed: list[str], left: int) -> _Responses:
        if not failed:
            return reactivex.empty()
        # dict.fromkeys: a custom_id the batch answered twice is still resubmitted once.
        return run_round(run_batch([index[i] for i in dict.fromkeys(failed)]), left)

    def run_round(results: _Responses, left: int) -> _Responses:
        if left == 0:
            return results

        # One subscription per round: final results stream out while the failed ones are
        # collected, then resubmitted once the round's batch is done.
        def final(response: MessageBatchIndividualResponse) -> bool:
            return not held_back(response)

        def custom_id(response: MessageBatchIndividualResponse) -> str:
            return response.custom_id

        def resubmit_all(failed: list[str]) -> _Responses:
            return resubmit(failed, left - 1)

        def split(shared: _Responses) -> _Responses:
            retried: _Responses = shared.pipe(
                ops.filter(held_back),
                ops.map(custom_id),
                ops.to_list(),
                ops.flat_map(resubmit_all),
            )
            return reactivex.merge(shared.pipe(ops.filter(final)), retried)

        return results.pipe(ops.publish(split))

    def operator(source: _Responses) -> _Responses:
        return run_round(source, rounds)

    return operator
